"""A change whose transaction rolls back announces nothing (events are published on commit)."""

import pytest
from django.db import transaction

from drivers import services as driver_services
from drivers.models import Driver
from realtime.delivery import dispatch
from realtime.models import Event
from rides import services as ride_services
from rides.models import Ride, RideOffer, RideStatus
from rideshare.tests.factories import YAOUNDE, DriverFactory, UserFactory, ride_in_status

from .helpers import QUIET_TIMEOUT, assert_nothing_more, db, receive_type, socket

pytestmark = pytest.mark.django_db(transaction=True)


class Abort(Exception):
    pass


def rolled_back(fn, **kwargs):
    """Run `fn(**kwargs)` inside a transaction that then rolls back."""

    def run():
        with pytest.raises(Abort):
            with transaction.atomic():
                fn(**kwargs)
                raise Abort()

    return run


async def test_a_rolled_back_acceptance_sends_nothing():
    driver = await db(DriverFactory)()
    other = await db(DriverFactory)()
    passenger = await db(UserFactory)()
    async with socket(passenger) as p, socket(driver.user) as d, socket(other.user) as o:
        ride = await db(ride_services.request_ride)(
            passenger=passenger, ride_type="moto", pickup_latitude=YAOUNDE[0], pickup_longitude=YAOUNDE[1],
            dropoff_latitude=3.866, dropoff_longitude=11.516,
        )
        await receive_type(d, "ride_requested")
        await receive_type(o, "ride_requested")

        await db(rolled_back(ride_services.accept_ride, ride_id=ride.pk, user=driver.user))()

        for comm in (p, d, o):
            assert await comm.receive_nothing(timeout=QUIET_TIMEOUT)
            await assert_nothing_more(comm)
    assert (await db(Ride.objects.get)(pk=ride.pk)).status == RideStatus.REQUESTED


async def test_a_rolled_back_ride_request_offers_nothing_and_records_no_offer():
    driver = await db(DriverFactory)()
    passenger = await db(UserFactory)()
    async with socket(driver.user) as d:
        await db(rolled_back(
            ride_services.request_ride, passenger=passenger, ride_type="moto",
            pickup_latitude=YAOUNDE[0], pickup_longitude=YAOUNDE[1], dropoff_latitude=3.866, dropoff_longitude=11.516,
        ))()
        assert await d.receive_nothing(timeout=QUIET_TIMEOUT)
        await assert_nothing_more(d)
    assert await db(Ride.objects.count)() == 0
    assert await db(RideOffer.objects.count)() == 0


async def test_a_rolled_back_transition_and_location_update_send_nothing():
    ride = await db(ride_in_status)(RideStatus.ACCEPTED)
    driver_user = ride.driver.user
    async with socket(ride.passenger) as p, socket(driver_user) as d:
        await db(rolled_back(ride_services.mark_arrived, ride_id=ride.pk, user=driver_user))()
        await db(rolled_back(driver_services.update_location, user=driver_user, latitude=3.9, longitude=11.6))()
        await db(rolled_back(ride_services.cancel_ride, ride_id=ride.pk, user=ride.passenger, reason="x"))()
        for comm in (p, d):
            assert await comm.receive_nothing(timeout=QUIET_TIMEOUT)
            await assert_nothing_more(comm)
    stored = await db(Ride.objects.get)(pk=ride.pk)
    assert stored.status == RideStatus.ACCEPTED


async def test_a_rolled_back_availability_change_sends_nothing():
    driver = await db(DriverFactory)(is_online=False)
    async with socket(driver.user) as d:
        await db(rolled_back(driver_services.set_online, user=driver.user, online=True))()
        assert await d.receive_nothing(timeout=QUIET_TIMEOUT)
        await assert_nothing_more(d)
        assert (await db(Driver.objects.get)(pk=driver.pk)).is_online is False


async def test_the_same_change_committed_does_send():
    """The control for the tests above: without the rollback the event arrives."""
    ride = await db(ride_in_status)(RideStatus.ACCEPTED)
    async with socket(ride.passenger) as p:
        await db(ride_services.mark_arrived)(ride_id=ride.pk, user=ride.driver.user)
        await receive_type(p, "driver_arrived")


def test_a_rolled_back_transition_logs_and_hands_over_nothing(monkeypatch):
    """ride_transitioned is sent inside the transaction; what its receiver logs and hands to the
    dispatcher on commit goes with the rollback."""
    ride = ride_in_status(RideStatus.ACCEPTED)
    handed = []
    monkeypatch.setattr(dispatch, "soon", lambda verb, *args, **kwargs: handed.append(verb))
    logged_before = Event.objects.count()

    for step in (ride_services.mark_arrived, ride_services.cancel_ride):
        rolled_back(step, ride_id=ride.pk, user=ride.driver.user)()

    assert Event.objects.count() == logged_before
    assert handed == []
    assert Ride.objects.get(pk=ride.pk).status == RideStatus.ACCEPTED
