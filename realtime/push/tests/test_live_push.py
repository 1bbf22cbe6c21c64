"""Against a real server process: the server's own background job pushes a ride event to the
closed app of a passenger who registered a browser subscription over REST, and pushes nothing
to them while their socket is open."""

import asyncio
import json
import signal
import time

import pytest
import websockets

from realtime.push.management.commands.generate_vapid_keys import new_key_pair
from realtime.tests.live_client import Api, recv_type, ws_uri
from realtime.tests.servers import running_server

from .fakes import WAIT, BrowserSubscription, FakeService, SlowService

pytestmark = pytest.mark.live


@pytest.fixture
def push_service():
    service = FakeService()
    yield service
    service.stop()


def push_server(tmp_path, **settings):
    private, public = new_key_pair()
    return running_server(tmp_path, "push", WEBPUSH_VAPID_PRIVATE_KEY=private, WEBPUSH_VAPID_PUBLIC_KEY=public,
                       WEBPUSH_VAPID_SUBJECT="mailto:ops@example.cm", WEBPUSH_ENDPOINT_HOSTS="127.0.0.1",
                       PUSH_INTERVAL_SECONDS="0.2", **settings)


@pytest.fixture
def server(tmp_path, push_service):
    with push_server(tmp_path) as process:
        yield process


async def outbox_empty(database):
    """Wait until every push delivery is settled (sent, or not needed)."""
    for _ in range(int(WAIT / 0.1)):
        if not await asyncio.to_thread(database.query, "SELECT id FROM push_pushdelivery"):
            return
        await asyncio.sleep(0.1)
    pytest.fail("push deliveries still pending")


async def test_the_server_pushes_to_a_closed_app_and_not_to_an_open_one(server, push_service):
    api = Api(server.base_url)
    passenger, driver = await asyncio.gather(api.register("Awa Push"), api.driver("Jean Push", at=(3.849, 11.502)))
    key = await api.call("GET", "/devices/vapid-public-key/", token=passenger["access"])
    browser = BrowserSubscription(push_service)
    device = await api.call("POST", "/devices/", {"kind": "webpush", "subscription": browser.as_json()},
                            token=passenger["access"], expect=201)
    ride = await api.request_ride(passenger)

    await api.step(ride["ride_id"], "accept", driver)  # the passenger's app is closed

    (received,) = await asyncio.to_thread(push_service.wait_for, 1)
    envelope = json.loads(browser.decrypt(received))
    assert envelope["type"] == "ride_accepted" and envelope["data"]["ride_id"] == ride["ride_id"]
    assert isinstance(envelope["id"], int) and key["public_key"] in received.headers["authorization"]

    async with websockets.connect(ws_uri(server.ws_url, passenger["access"])) as app:  # the app is open
        await recv_type(app, "connected")
        await api.step(ride["ride_id"], "arrived", driver)
        arrived = await recv_type(app, "driver_arrived")
        await outbox_empty(server.database)
    assert len(push_service.received) == 1
    assert arrived["id"] > envelope["id"]
    assert device["kind"] == "webpush"


DEADLINE = 30  # PUSH_TIMEOUT_SECONDS of the server below: longer than any wait of the test


async def subscribed_passenger(api, name, service):
    passenger = await api.register(name)
    await api.call("POST", "/devices/", {"kind": "webpush", "subscription": BrowserSubscription(service).as_json()},
                   token=passenger["access"], expect=201)
    return passenger


async def test_a_trickling_and_a_hanging_push_service_delay_no_one_else_and_not_the_shutdown(
        tmp_path, push_service):
    """Issue 20: a push service that answers a byte a second, and one that never answers, are in
    flight; another passenger's push still arrives at once, and SIGTERM ends the server in seconds."""
    trickle, hang = SlowService("trickle", every=1.0), SlowService("hang")
    try:
        with push_server(tmp_path, PUSH_TIMEOUT_SECONDS=str(DEADLINE)) as server:
            api = Api(server.base_url)
            passengers = await asyncio.gather(*(subscribed_passenger(api, f"Awa {name}", service) for name, service in
                                                (("Trickle", trickle), ("Hang", hang), ("Prompt", push_service))))
            drivers = await asyncio.gather(*(api.driver(f"Jean {n}", at=(3.849, 11.502)) for n in range(3)))
            rides = [await api.request_ride(passenger) for passenger in passengers]
            for ride, driver in list(zip(rides, drivers))[:2]:
                await api.step(ride["ride_id"], "accept", driver)
            await asyncio.to_thread(trickle.wait_connected)
            await asyncio.to_thread(hang.wait_connected)

            accepted = time.monotonic()
            await api.step(rides[2]["ride_id"], "accept", drivers[2])
            (received,) = await asyncio.to_thread(push_service.wait_for, 1)
            delay = time.monotonic() - accepted
            assert delay < 5, f"the prompt push took {delay:.1f} s behind the slow ones"

            server.signal(signal.SIGTERM)  # the two slow sends are still in flight
            signalled = time.monotonic()
            await asyncio.to_thread(server.process.wait, 20)
            exited = time.monotonic() - signalled
            assert exited < 10, f"exited {exited:.1f} s after SIGTERM"
            assert "push: 2 sends abandoned at shutdown" in server.log()
    finally:
        trickle.stop()
        hang.stop()
