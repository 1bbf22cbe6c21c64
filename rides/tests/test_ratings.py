"""Rating a completed ride: the passenger rates the driver, the driver may rate the passenger, each
once; a driver's `rating` (REST) and `driver_rating` (events) are the exact mean of the stars
passengers gave them, to one decimal, or DRIVER_DEFAULT_RATING before the first rating."""

import json
import random
from decimal import Decimal

import pytest
from django.urls import reverse

from drivers.models import Driver
from realtime.delivery import events
from realtime.models import Event
from rides import ratings, services
from rides.models import RatedBy, Rating, RideStatus
from rideshare.tests.factories import DriverFactory, UserFactory, api_client_for, ride_in_status

S = RideStatus

pytestmark = pytest.mark.django_db


def rate(user, ride, stars=5, **body):
    return api_client_for(user).post(f"/api/v1/rides/{ride.pk}/rate/", {"stars": stars, **body}, format="json")


def completed_ride(driver, passenger=None):
    return ride_in_status(S.COMPLETED, driver=driver, passenger=passenger or UserFactory())


def rated_by_passengers(driver, stars_list):
    for stars in stars_list:
        ride = completed_ride(driver)
        assert rate(ride.passenger, ride, stars).status_code == 201


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def shown_rating(driver):
    return api_client_for(driver.user).get("/api/v1/drivers/me/").data["rating"]


# --- Who rates whom, once, after completion --------------------------------------------------


def test_the_passenger_rates_the_driver_of_a_completed_ride():
    driver = DriverFactory()
    ride = completed_ride(driver)

    response = rate(ride.passenger, ride, 4, comment="Prudent, merci !")

    assert response.status_code == 201, response.data
    assert response.data["ride_id"] == str(ride.pk)
    assert response.data["rated_by"] == "passenger"
    assert response.data["rated_user_id"] == str(driver.pk)
    assert (response.data["stars"], response.data["comment"]) == (4, "Prudent, merci !")
    rating = Rating.objects.get(ride=ride)
    assert (rating.rater_id, rating.rated_user_id, rating.rated_by) == (ride.passenger_id, driver.pk, RatedBy.PASSENGER)
    assert shown_rating(driver) == 4.0


def test_the_driver_may_rate_the_passenger_which_leaves_the_drivers_rating_alone():
    driver = DriverFactory()
    ride = completed_ride(driver)

    response = rate(driver.user, ride, 1)

    assert response.status_code == 201, response.data
    assert (response.data["rated_by"], response.data["rated_user_id"]) == ("driver", str(ride.passenger_id))
    assert response.data["comment"] == ""  # optional
    assert shown_rating(driver) == 5.0  # still unrated by passengers: the default
    assert Driver.objects.get(pk=driver.pk).average_rating is None


def test_each_side_rates_once_and_a_second_rating_is_already_rated():
    driver = DriverFactory()
    ride = completed_ride(driver)
    assert rate(ride.passenger, ride, 5).status_code == 201
    assert rate(driver.user, ride, 4).status_code == 201

    for user in (ride.passenger, driver.user):
        again = rate(user, ride, 1)
        assert again.status_code == 409
        assert again.data["code"] == "already_rated"
        assert again.data["detail"] == "You already rated this ride."
    assert sorted(Rating.objects.filter(ride=ride).values_list("rated_by", "stars")) == [("driver", 4), ("passenger", 5)]
    assert shown_rating(driver) == 5.0


@pytest.mark.parametrize("status", [S.REQUESTED, S.ACCEPTED, S.DRIVER_ARRIVED, S.STARTED, S.CANCELLED])
def test_only_a_completed_ride_can_be_rated(status):
    ride = ride_in_status(status)

    response = rate(ride.passenger, ride, 5)

    assert response.status_code == 409
    assert response.data == {
        "detail": f"Cannot rate a ride that is {status}.", "code": "invalid_transition", "current_status": status,
    }
    assert not Rating.objects.exists()


@pytest.mark.parametrize("who", ["another passenger", "another driver", "staff"])
def test_only_participants_rate_a_ride_others_do_not_find_it(who):
    ride = completed_ride(DriverFactory())
    user = {
        "another passenger": UserFactory,
        "another driver": lambda: DriverFactory().user,
        "staff": lambda: UserFactory(is_staff=True),
    }[who]()

    response = rate(user, ride, 5)

    assert response.status_code == 404
    assert response.data == {"detail": "Ride not found.", "code": "ride_not_found"}
    assert not Rating.objects.exists()


def test_an_unknown_or_malformed_ride_is_not_found(passenger):
    for ride_id in ("6d3f1a8e-0000-4000-8000-000000000000", "not-a-uuid"):
        response = api_client_for(passenger).post(f"/api/v1/rides/{ride_id}/rate/", {"stars": 5}, format="json")
        assert (response.status_code, response.data["code"]) == (404, "ride_not_found")


@pytest.mark.parametrize("body, field", [
    ({"stars": 0}, "stars"),
    ({"stars": 6}, "stars"),
    ({"stars": "five"}, "stars"),
    ({}, "stars"),
    ({"stars": 5, "comment": "x" * 501}, "comment"),
])
def test_stars_are_1_to_5_and_a_comment_at_most_500_characters(body, field):
    ride = completed_ride(DriverFactory())

    response = api_client_for(ride.passenger).post(f"/api/v1/rides/{ride.pk}/rate/", body, format="json")

    assert response.status_code == 400
    assert response.data["code"] == "validation_error"
    assert list(response.data["errors"]) == [field]
    assert not Rating.objects.exists()


def test_a_comment_of_500_characters_is_kept_whole():
    ride = completed_ride(DriverFactory())
    assert rate(ride.passenger, ride, 3, comment="é" * 500).status_code == 201
    assert Rating.objects.get().comment == "é" * 500


# --- The driver's rating ---------------------------------------------------------------------


def test_the_rating_is_the_exact_mean_of_many_ratings_to_one_decimal():
    driver = DriverFactory()
    # 37 ratings adding up to 157: a mean of 4.2432..., shown as 4.2. (A mean carried from one
    # rating to the next, rounded each time, drifts from it.)
    stars = [5] * 20 + [4] * 10 + [3] * 4 + [2] * 2 + [1]
    assert (len(stars), sum(stars)) == (37, 157)
    random.Random(37).shuffle(stars)

    rated_by_passengers(driver, stars)

    assert Driver.objects.get(pk=driver.pk).average_rating == Decimal("4.2")
    assert shown_rating(driver) == 4.2


def test_a_mean_halfway_between_two_tenths_rounds_up_as_decimal_arithmetic_does():
    # 17 / 4 = 4.25 exactly: Python's round(4.25, 1) gives 4.2 (ties to even), the rating 4.3.
    driver = DriverFactory()
    rated_by_passengers(driver, [5, 5, 4, 3])
    assert shown_rating(driver) == 4.3

    # 4.35 has no exact float (4.3499999...): a float mean would round it down to 4.3.
    other = DriverFactory()
    rated_by_passengers(other, [5] * 8 + [4] * 4 + [3] * 4 + [5, 5, 5, 4])  # 87 / 20
    assert shown_rating(other) == 4.4


def test_the_mean_counts_only_this_drivers_ratings_by_passengers():
    driver, other = DriverFactory(), DriverFactory()
    rated_by_passengers(driver, [5, 4])
    rated_by_passengers(other, [1, 1, 1])
    ride = completed_ride(driver)
    assert rate(driver.user, ride, 1).status_code == 201  # the driver rating a passenger

    assert shown_rating(driver) == 4.5
    assert shown_rating(other) == 1.0


def test_average_is_none_without_ratings_and_exact_with_them():
    assert ratings.average(None, 0) is None
    assert ratings.average(157, 37) == Decimal("4.2")
    assert ratings.average(17, 4) == Decimal("4.3")
    assert ratings.average(1, 1) == Decimal("1.0")


def test_an_unrated_driver_shows_the_configured_default(settings):
    settings.DRIVER_DEFAULT_RATING = 4.6
    driver = DriverFactory()
    ride = ride_in_status(S.ACCEPTED, driver=driver)

    assert shown_rating(driver) == 4.6
    assert api_client_for(ride.passenger).get(f"/api/v1/rides/{ride.pk}/").data["driver"]["rating"] == 4.6
    assert events.ride_accepted(ride)["data"]["driver_rating"] == 4.6


def test_a_passengers_rating_changes_the_rating_in_rest_and_driver_rating_in_later_events():
    driver = DriverFactory()
    rated_by_passengers(driver, [4, 3])  # 3.5

    ride = ride_in_status(S.REQUESTED)
    services.accept_ride(ride_id=ride.pk, user=driver.user)

    accepted = json.loads(Event.objects.get(type="ride_accepted", ride=ride).text)
    assert accepted["data"]["driver_rating"] == 3.5
    detail = api_client_for(ride.passenger).get(f"/api/v1/rides/{ride.pk}/").data
    assert detail["driver"]["rating"] == 3.5
    assert api_client_for(driver.user).get("/api/v1/auth/me/").data["driver"]["rating"] == 3.5


def test_ride_completed_says_the_ride_can_be_rated():
    ride = completed_ride(DriverFactory())
    assert events.ride_completed(ride)["data"]["can_rate"] is True


# --- Admin and API docs ------------------------------------------------------------------------


def test_ratings_are_shown_on_the_ride_page_and_listed_but_never_edited(admin_client):
    driver = DriverFactory()
    ride = completed_ride(driver)
    rate(ride.passenger, ride, 2, comment="Trop rapide dans les virages")
    rate(driver.user, ride, 5, comment="Passager ponctuel")

    page = admin_client.get(reverse("admin:rides_ride_change", args=[ride.pk])).content.decode()
    assert "Trop rapide dans les virages" in page and "Passager ponctuel" in page

    listing = admin_client.get(reverse("admin:rides_rating_changelist")).content.decode()
    assert "Trop rapide dans les virages" in listing and "Passager ponctuel" in listing
    rating = Rating.objects.get(rated_by=RatedBy.PASSENGER)
    assert admin_client.get(reverse("admin:rides_rating_add")).status_code == 403
    assert admin_client.post(reverse("admin:rides_rating_change", args=[rating.pk]), {"stars": 5}).status_code == 403
    assert admin_client.post(reverse("admin:rides_rating_delete", args=[rating.pk]), {"post": "yes"}).status_code == 403
    assert Rating.objects.get(pk=rating.pk).stars == 2

    driver_page = admin_client.get(reverse("admin:drivers_driver_change", args=[driver.pk])).content.decode()
    assert "2.0 from 1 rating(s)" in driver_page


def test_the_rate_operation_is_documented_with_its_error_codes(client):
    schema = client.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/rides/{ride_id}/rate/"]["post"]
    assert operation["summary"] == "Rate a completed ride"
    assert "201" in operation["responses"]
    assert "`already_rated`" in operation["responses"]["409"]["description"]
    assert "`invalid_transition`" in operation["responses"]["409"]["description"]
    assert "`ride_not_found`" in operation["responses"]["404"]["description"]
