"""ETA on every position and the approaching driver, over the real ASGI application: a driver
steps toward the pickup and the passenger watches the distance and the minutes fall; once inside
DRIVER_APPROACHING_RADIUS_M both hear `driver_approaching`, once per ride, by whatever path the
positions came (socket, REST fast path, DRF view); after `started` they count to the drop-off."""

import json

import pytest
from channels.testing import HttpCommunicator

from drivers.services import update_location
from realtime.models import EventRecipient
from realtime.tests.helpers import (
    assert_envelope,
    assert_nothing_more,
    assert_uuid_str,
    communicator,
    db,
    receive,
    receive_type,
    send,
    socket,
)
from rides import eta, services
from rides.models import Ride, RideStatus
from rideshare.asgi import application
from rideshare.tests.factories import DriverFactory, RideFactory, access_token_for, ride_in_status

pytestmark = pytest.mark.django_db(transaction=True)

PICKUP = (3.848, 11.502)  # the factories' ride (moto); its drop-off is (3.866, 11.516)
DROPOFF = (3.866, 11.516)
# Due south of the pickup, 2 km to 0: 0.001° of latitude is 111 m. Inside 300 m from 3.846 on.
DRIVEN_PATH = [3.830, 3.836, 3.842, 3.846, 3.847, 3.848]
RADIUS_M = 300


@pytest.fixture(autouse=True)
def eta_settings(settings):
    settings.RIDE_ETA_FUNCTION = "rides.eta.great_circle_estimate"
    settings.ETA_ROAD_FACTOR = 1.3
    settings.ETA_SPEED_KMH_MOTO = 25.0
    settings.DRIVER_APPROACHING_RADIUS_M = RADIUS_M


def expected(latitude, longitude, target):
    return eta.estimate(latitude, longitude, *target, "moto")


def position(latitude, longitude=PICKUP[1]):
    return {"type": "location_update", "latitude": latitude, "longitude": longitude}


def assert_approaching(message, ride, *, latitude):
    data = assert_envelope(message, "driver_approaching")
    assert isinstance(message["id"], int)  # reliable: logged, replayed on resume
    assert message["metadata"] == {"ride_id": str(ride.pk)}
    assert_uuid_str(data["ride_id"], ride.pk)
    assert_uuid_str(data["driver_id"], ride.driver_id)
    assert data["distance_m"] == round((PICKUP[0] - latitude) * 111_195)  # great-circle metres
    assert 0 <= data["distance_m"] <= RADIUS_M
    assert data["eta_minutes"] == expected(latitude, PICKUP[1], PICKUP).eta_minutes


def announced_at(ride):
    return Ride.objects.values_list("approaching_announced_at", flat=True).get(pk=ride.pk)


async def test_on_a_driven_path_the_eta_falls_and_the_approach_is_announced_once():
    ride = await db(ride_in_status)(RideStatus.ACCEPTED)
    async with socket(ride.passenger) as passenger, socket(ride.driver.user) as driver:
        seen, approaching = [], []
        for latitude in DRIVEN_PATH:
            await send(driver, position(latitude))
            data = assert_envelope(await receive(passenger), "driver_location_update")
            assert data["ride_id"] == str(ride.pk)
            estimate = expected(latitude, PICKUP[1], PICKUP)
            assert (data["distance_km"], data["eta_minutes"]) == (estimate.distance_km, estimate.eta_minutes)
            seen.append((data["distance_km"], data["eta_minutes"]))
            if latitude == 3.846:  # the first position inside the radius: announced to both
                approaching = [await receive_type(passenger, "driver_approaching"),
                               await receive_type(driver, "driver_approaching")]
            await assert_nothing_more(passenger)  # nothing else, and no second announcement
            await assert_nothing_more(driver)

    distances = [d for d, _ in seen]
    minutes = [m for _, m in seen]
    assert distances == sorted(distances, reverse=True) and len(set(distances)) == len(distances)
    assert minutes == sorted(minutes, reverse=True) and minutes[0] > minutes[-1] == 1
    assert approaching[0]["id"] == approaching[1]["id"]  # one event, to passenger and driver
    for message in approaching:
        assert_approaching(message, ride, latitude=3.846)
    assert await db(announced_at)(ride) is not None


async def test_a_driver_who_starts_inside_the_radius_is_announced_at_the_first_position_only():
    ride = await db(ride_in_status)(RideStatus.ACCEPTED)
    async with socket(ride.passenger) as passenger, socket(ride.driver.user) as driver:
        await send(driver, position(3.847))
        await receive_type(passenger, "driver_location_update")
        assert_approaching(await receive_type(passenger, "driver_approaching"), ride, latitude=3.847)
        assert_approaching(await receive_type(driver, "driver_approaching"), ride, latitude=3.847)
    # A new connection (another device, a reconnect) knows it was announced: no second one.
    async with socket(ride.passenger) as passenger, socket(ride.driver.user) as driver:
        await send(driver, position(3.8475))
        await receive_type(passenger, "driver_location_update")
        await assert_nothing_more(passenger)
        await assert_nothing_more(driver)


async def test_after_arrival_there_is_no_approach_and_after_start_the_eta_is_to_the_dropoff():
    ride = await db(ride_in_status)(RideStatus.ACCEPTED)
    user = ride.driver.user
    async with socket(ride.passenger) as passenger, socket(user) as driver:
        await send(driver, position(3.830))  # far: nothing announced yet
        await receive_type(passenger, "driver_location_update")

        await db(services.mark_arrived)(ride_id=ride.pk, user=user)
        # The driver's connection hears its new assignment before the event that follows it.
        await receive_type(driver, "driver_arrived")
        await receive_type(passenger, "driver_arrived")
        await send(driver, position(PICKUP[0]))  # at the pickup, but arrived: no approach
        data = assert_envelope(await receive(passenger), "driver_location_update")
        assert (data["distance_km"], data["eta_minutes"]) == (0.0, 1)  # still measured to the pickup
        await assert_nothing_more(passenger)
        await assert_nothing_more(driver)

        await db(services.start_ride)(ride_id=ride.pk, user=user)
        await receive_type(driver, "ride_started")
        await receive_type(passenger, "ride_started")
        for latitude, longitude in [PICKUP, (3.857, 11.509)]:
            await send(driver, position(latitude, longitude))
            data = assert_envelope(await receive(passenger), "driver_location_update")
            estimate = expected(latitude, longitude, DROPOFF)
            assert (data["distance_km"], data["eta_minutes"]) == (estimate.distance_km, estimate.eta_minutes)
            assert data["distance_km"] > 1.0  # not the pickup, where the driver stands at first
        await assert_nothing_more(passenger)
        await assert_nothing_more(driver)
    assert await db(announced_at)(ride) is None


async def test_ride_accepted_carries_the_eta_functions_minutes_and_the_driver_is_measured_from_then_on():
    driver = await db(DriverFactory)(latitude=3.830, longitude=11.502)
    ride = await db(RideFactory)()
    async with socket(ride.passenger) as passenger, socket(driver.user) as driver_socket:
        await db(services.accept_ride)(ride_id=ride.pk, user=driver.user)
        accepted = await receive(passenger)
        data = assert_envelope(accepted, "ride_accepted")
        assert data["estimated_arrival"] == expected(3.830, 11.502, PICKUP).eta_minutes == 7

        # The accept's control message gives the driver's connection its ride and target; a
        # position sent before it lands relays nothing, so send until one is relayed.
        for _ in range(50):
            await send(driver_socket, position(3.836))
            if await passenger.receive_nothing(timeout=0.05) is False:
                break
        data = assert_envelope(await receive(passenger), "driver_location_update")
        estimate = expected(3.836, PICKUP[1], PICKUP)
        assert (data["distance_km"], data["eta_minutes"]) == (estimate.distance_km, estimate.eta_minutes)
        while await passenger.receive_nothing(timeout=0.1) is False:  # positions sent twice, if any
            await receive_type(passenger, "driver_location_update")

        await send(driver_socket, position(3.846))
        await receive_type(passenger, "driver_location_update")
        approaching = await receive_type(passenger, "driver_approaching")
        assert_approaching(approaching, await db(Ride.objects.get)(pk=ride.pk), latitude=3.846)
        # On the passenger's own stream, right after ride_accepted: the log chains it to that one.
        assert await db(previous_event_id)(approaching["id"], ride.passenger) == accepted["id"]


def previous_event_id(event_id, user):
    return EventRecipient.objects.get(event_id=event_id, user=user).prev_event_id


async def test_the_resume_snapshot_carries_the_distance_and_the_eta():
    ride = await db(ride_in_status)(RideStatus.ACCEPTED)
    await db(update_location)(user=ride.driver.user, latitude=3.842, longitude=PICKUP[1])
    token = await db(access_token_for)(ride.passenger)
    comm = communicator(query=f"token={token}&last_event_id=0")
    assert (await comm.connect(timeout=3))[0]
    await receive_type(comm, "connected")
    data = (await receive_type(comm, "driver_location_update"))["data"]
    estimate = expected(3.842, PICKUP[1], PICKUP)
    assert (data["latitude"], data["distance_km"], data["eta_minutes"]) == (3.842, estimate.distance_km, 3)
    await comm.disconnect()


async def post_position(token, latitude):
    body = json.dumps({"latitude": latitude, "longitude": PICKUP[1]}).encode()
    headers = [(b"content-type", b"application/json"), (b"host", b"testserver"),
               (b"authorization", f"Bearer {token}".encode()), (b"content-length", str(len(body)).encode())]
    response = await HttpCommunicator(application, "POST", "/api/v1/drivers/me/location/", body=body,
                                      headers=headers).get_response(timeout=5)
    return response["status"]


async def test_positions_over_rest_carry_the_eta_and_announce_the_approach_once():
    ride = await db(ride_in_status)(RideStatus.ACCEPTED)
    token = await db(access_token_for)(ride.driver.user)
    async with socket(ride.passenger) as passenger, socket(ride.driver.user) as driver:
        for latitude in (3.836, 3.846, 3.847):
            assert await post_position(token, latitude) == 200
            data = assert_envelope(await receive(passenger), "driver_location_update")
            estimate = expected(latitude, PICKUP[1], PICKUP)
            assert (data["distance_km"], data["eta_minutes"]) == (estimate.distance_km, estimate.eta_minutes)
            if latitude == 3.846:
                assert_approaching(await receive_type(passenger, "driver_approaching"), ride, latitude=3.846)
                assert_approaching(await receive_type(driver, "driver_approaching"), ride, latitude=3.846)
            await assert_nothing_more(passenger)
            await assert_nothing_more(driver)
