"""One complete ride over REST and two live sockets, each party checked for its events: shared by
the live tests that put something between the apps and the server (several workers, nginx)."""

import asyncio
import json
import time

from .live_client import WAIT, recv

PICKUP = (3.848, 11.502)
POSITION_WAIT = 10  # seconds a driver keeps reporting its position until the passenger hears one
POSITION_EVERY = 0.5  # within the socket's location_update rate (5/s)


async def next_of_type(websocket, event_type, timeout=WAIT):
    """The next frame of `event_type`; frames of other types before it (a driver's own
    driver_availability_changed, a position) are skipped."""
    deadline = time.monotonic() + timeout
    while True:
        message = await recv(websocket, max(0.01, deadline - time.monotonic()))
        assert message["type"] != "error", message
        if message["type"] == event_type:
            return message


async def position_heard(driver_ws, passenger_ws, ride_id):
    """The passenger's driver_location_update for a position the driver sends over its socket.
    Sent again until heard: the driver's connection learns of its new ride from a control message
    that may arrive after the accept's HTTP answer (another process, through Redis)."""
    deadline = time.monotonic() + POSITION_WAIT
    latitude = PICKUP[0] + 0.004
    while time.monotonic() < deadline:
        await driver_ws.send(json.dumps({"type": "location_update", "latitude": latitude, "longitude": PICKUP[1],
                                         "heading": 180, "speed": 20}))
        try:
            message = await next_of_type(passenger_ws, "driver_location_update", timeout=POSITION_EVERY)
        except asyncio.TimeoutError:
            continue
        assert message["data"]["ride_id"] == ride_id, message
        assert message["data"]["latitude"] == latitude, message
        return message
    raise AssertionError(f"the passenger heard no driver_location_update within {POSITION_WAIT}s")


async def drive_ride(api, passenger, driver, passenger_ws, driver_ws):
    """request → accept → a position → arrived → start → complete; the ride as completed."""
    ride = await api.request_ride(passenger, pickup=PICKUP)
    ride_id = ride["ride_id"]
    offer = await next_of_type(driver_ws, "ride_requested")
    assert offer["data"]["ride_id"] == ride_id, offer

    await api.step(ride_id, "accept", driver)
    accepted = await next_of_type(passenger_ws, "ride_accepted")
    assert accepted["data"]["ride_id"] == ride_id and accepted["data"]["driver_id"] == driver["id"], accepted

    position = await position_heard(driver_ws, passenger_ws, ride_id)
    assert position["data"]["driver_id"] == driver["id"], position

    for action, event_type in (("arrived", "driver_arrived"), ("start", "ride_started"),
                               ("complete", "ride_completed")):
        answer = await api.step(ride_id, action, driver)
        for websocket in (passenger_ws, driver_ws):
            message = await next_of_type(websocket, event_type)
            assert message["data"]["ride_id"] == ride_id, message
    assert answer["status"] == "completed", answer
    return answer
