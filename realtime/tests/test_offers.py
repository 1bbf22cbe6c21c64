"""Offers on the socket: what a driver hears of each wave, and `decline_ride`."""

import uuid
from datetime import timedelta

import pytest

from rides import dispatching
from rides import services as ride_services
from rides.models import OfferStatus, RideOffer
from rideshare.tests.factories import YAOUNDE, DriverFactory, UserFactory

from .helpers import assert_envelope, assert_iso_utc, assert_nothing_more, db, receive, send, socket

pytestmark = pytest.mark.django_db(transaction=True)

KM_PER_DEGREE = 111.195


@pytest.fixture(autouse=True)
def one_driver_waves(settings):
    settings.RIDE_OFFER_RADII_KM = [2.0, 5.0, 10.0]
    settings.RIDE_OFFER_WAVE_SIZE = 1
    settings.RIDE_OFFER_TIMEOUT_SECONDS = 15


def north(km):
    return {"latitude": YAOUNDE[0] + km / KM_PER_DEGREE, "longitude": YAOUNDE[1]}


def request_ride(passenger):
    return ride_services.request_ride(
        passenger=passenger, ride_type="moto", pickup_latitude=YAOUNDE[0], pickup_longitude=YAOUNDE[1],
        dropoff_latitude=3.866, dropoff_longitude=11.516,
    )


async def test_each_wave_reaches_its_driver_and_the_expired_one_hears_offer_expired():
    passenger = await db(UserFactory)()
    first = await db(DriverFactory)(**north(1.0))
    second = await db(DriverFactory)(**north(3.0))
    async with socket(first.user) as c1, socket(second.user) as c2:
        ride = await db(request_ride)(passenger)
        offer = assert_envelope(await receive(c1), "ride_requested")
        assert_iso_utc(offer["offer_expires_at"])
        assert offer["offer_expires_at"] == (ride.requested_at + timedelta(seconds=15)).isoformat().replace("+00:00", "Z")
        assert offer["pickup_distance_km"] == pytest.approx(1.3, abs=0.01)
        assert offer["pickup_eta_minutes"] == 4  # 1.3 km at 25 km/h, rounded up
        await assert_nothing_more(c2)  # the second ring waits for the next wave

        await db(dispatching.run_due)(now=ride.requested_at + timedelta(seconds=15))

        gone = assert_envelope(await receive(c1), "ride_unavailable")
        assert gone == {"ride_id": str(ride.pk), "reason": "offer_expired"}
        offer = assert_envelope(await receive(c2), "ride_requested")
        assert offer["pickup_distance_km"] == pytest.approx(3.9, abs=0.01)
        await assert_nothing_more(c1)


async def test_decline_ride_is_acknowledged_and_the_next_wave_goes_at_once():
    passenger = await db(UserFactory)()
    first = await db(DriverFactory)(**north(1.0))
    second = await db(DriverFactory)(**north(3.0))
    async with socket(first.user) as c1, socket(second.user) as c2:
        ride = await db(request_ride)(passenger)
        assert_envelope(await receive(c1), "ride_requested")

        await send(c1, {"type": "decline_ride", "ride_id": str(ride.pk).upper()})  # any spelling of the id

        assert assert_envelope(await receive(c1), "ride_declined") == {"ride_id": str(ride.pk)}
        assert_envelope(await receive(c2), "ride_requested")  # without waiting for the offer to expire
        await assert_nothing_more(c1)  # a driver who declined is told nothing more
    offer = await db(RideOffer.objects.get)(ride=ride, driver=first)
    assert offer.status == OfferStatus.DECLINED


@pytest.mark.parametrize("ride_id", ["unknown", "malformed"])
async def test_decline_ride_of_a_ride_never_offered_is_a_ride_not_found_error(ride_id):
    driver = await db(DriverFactory)()
    raw = str(uuid.uuid4()) if ride_id == "unknown" else "not-a-uuid"
    async with socket(driver.user) as comm:
        await send(comm, {"type": "decline_ride", "ride_id": raw})
        data = assert_envelope(await receive(comm), "error")
        assert (data["code"], data["request_type"]) == ("ride_not_found", "decline_ride")
        await assert_nothing_more(comm)


async def test_decline_ride_of_a_taken_ride_is_an_invalid_transition_error():
    passenger = await db(UserFactory)()
    offered, taker = await db(DriverFactory)(), await db(DriverFactory)(**north(0.5))
    ride = await db(request_ride)(passenger)
    await db(ride_services.accept_ride)(ride_id=ride.pk, user=taker.user)
    async with socket(offered.user) as comm:
        await send(comm, {"type": "decline_ride", "ride_id": str(ride.pk)})
        data = assert_envelope(await receive(comm), "error")
        assert (data["code"], data["current_status"]) == ("invalid_transition", "accepted")


async def test_decline_ride_from_a_passenger_is_a_not_a_driver_error():
    passenger = await db(UserFactory)()
    async with socket(passenger) as comm:
        await send(comm, {"type": "decline_ride", "ride_id": str(uuid.uuid4())})
        assert assert_envelope(await receive(comm), "error")["code"] == "not_a_driver"


async def test_decline_ride_without_a_ride_id_is_a_missing_field_error():
    driver = await db(DriverFactory)()
    async with socket(driver.user) as comm:
        await send(comm, {"type": "decline_ride"})
        data = assert_envelope(await receive(comm), "error")
        assert (data["code"], data["field"]) == ("missing_field", "ride_id")
