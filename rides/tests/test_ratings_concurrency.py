"""Ratings racing on PostgreSQL: each thread its own connection and transaction, released together
(rides.tests.test_concurrency's `race`)."""

from decimal import Decimal

import pytest

from drivers.models import Driver
from rides import ratings
from rides.models import Rating, RideStatus
from rideshare.tests.factories import DriverFactory, UserFactory, ride_in_status

from .test_concurrency import race

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

ROUNDS = 5


def test_passengers_rating_one_driver_at_once_each_count_in_the_mean():
    driver = DriverFactory()
    stars = [5, 4, 4, 3, 5, 2, 5, 4, 1, 5]  # 38 / 10

    for round_number in range(ROUNDS):
        rides = [ride_in_status(RideStatus.COMPLETED, driver=driver, passenger=UserFactory()) for _ in stars]
        results = race(*[
            (lambda ride=ride, n=n: ratings.rate_ride(ride_id=ride.pk, user=ride.passenger, stars=n).stars)
            for ride, n in zip(rides, stars)
        ])

        assert sorted(value for _, value in results) == sorted(stars), (round_number, results)
        # Every round adds the same ten: the mean stays 3.8, computed from all of them.
        assert Rating.objects.filter(rated_user_id=driver.pk).count() == len(stars) * (round_number + 1)
        assert Driver.objects.get(pk=driver.pk).average_rating == Decimal("3.8"), round_number


def test_one_passenger_rating_twice_at_once_gets_one_rating_and_one_already_rated():
    driver = DriverFactory()
    for round_number in range(ROUNDS):
        ride = ride_in_status(RideStatus.COMPLETED, driver=driver, passenger=UserFactory())
        results = race(
            lambda: ratings.rate_ride(ride_id=ride.pk, user=ride.passenger, stars=5).stars,
            lambda: ratings.rate_ride(ride_id=ride.pk, user=ride.passenger, stars=1).stars,
        )

        assert len([r for r in results if r[0] == "ok"]) == 1, (round_number, results)
        assert [r[:2] for r in results if r[0] != "ok"] == [(409, "already_rated")], (round_number, results)
        kept = Rating.objects.get(ride=ride).stars
        assert [value for kind, value, *_ in results if kind == "ok"] == [kept]
        given = list(Rating.objects.filter(rated_user_id=driver.pk).values_list("stars", flat=True))
        assert len(given) == round_number + 1
        assert Driver.objects.get(pk=driver.pk).average_rating == ratings.average(sum(given), len(given))
