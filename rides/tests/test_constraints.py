"""The database itself refuses a second active ride per passenger or per driver (direct ORM writes)."""

import pytest
from django.db import IntegrityError, transaction

from rides.models import Ride, RideStatus
from rideshare.tests.factories import DriverFactory, UserFactory, ride_in_status

S = RideStatus
PASSENGER_ACTIVE = [S.REQUESTED, S.ACCEPTED, S.DRIVER_ARRIVED, S.STARTED]
DRIVER_ACTIVE = [S.ACCEPTED, S.DRIVER_ARRIVED, S.STARTED]
ENDED = [S.COMPLETED, S.CANCELLED]


@pytest.mark.parametrize("first", PASSENGER_ACTIVE)
@pytest.mark.parametrize("second", PASSENGER_ACTIVE)
def test_db_refuses_two_active_rides_for_one_passenger(first, second, passenger):
    ride_in_status(first, passenger=passenger)
    with pytest.raises(IntegrityError), transaction.atomic():
        ride_in_status(second, passenger=passenger)
    assert Ride.objects.filter(passenger=passenger).count() == 1


def test_db_refuses_an_update_that_reactivates_a_second_ride(passenger):
    ride_in_status(S.REQUESTED, passenger=passenger)
    old = ride_in_status(S.CANCELLED, passenger=passenger, driver=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        Ride.objects.filter(pk=old.pk).update(status=S.REQUESTED)


@pytest.mark.parametrize("first", DRIVER_ACTIVE)
@pytest.mark.parametrize("second", DRIVER_ACTIVE)
def test_db_refuses_two_active_rides_for_one_driver(first, second, driver):
    ride_in_status(first, driver=driver)
    with pytest.raises(IntegrityError), transaction.atomic():
        ride_in_status(second, driver=driver)
    assert Ride.objects.filter(driver=driver).count() == 1


@pytest.mark.parametrize("ended", ENDED)
def test_ended_rides_do_not_count_as_active(ended, passenger, driver):
    for _ in range(3):
        ride_in_status(ended, passenger=passenger, driver=driver)
    ride_in_status(S.STARTED, passenger=passenger, driver=driver)
    assert Ride.objects.filter(passenger=passenger).count() == 4


def test_different_passengers_and_drivers_each_have_their_own_active_ride(db):
    for _ in range(3):
        ride_in_status(S.STARTED, passenger=UserFactory(), driver=DriverFactory())
    assert Ride.objects.filter(status=S.STARTED).count() == 3


@pytest.mark.parametrize("status", [S.ACCEPTED, S.DRIVER_ARRIVED, S.STARTED, S.COMPLETED])
def test_db_refuses_a_ride_past_request_without_a_driver(status, passenger):
    with pytest.raises(IntegrityError), transaction.atomic():
        ride_in_status(status, passenger=passenger, driver=None)
