"""Offers seen from outside: `POST /rides/{id}/decline/`, `manage.py dispatch`, and a driver's
acceptance figures in the admin."""

import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from rides.models import CancelledBy, OfferStatus, Ride, RideOffer, RideStatus
from rideshare.tests.factories import TRIP, DriverFactory, RideFactory, UserFactory, api_client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def offered(passenger, driver):
    """A ride requested over the API; `driver` (at the pickup) is offered it."""
    response = api_client_for(passenger).post("/api/v1/rides/", TRIP, format="json")
    assert response.status_code == 201
    ride = Ride.objects.get(pk=response.data["ride_id"])
    assert RideOffer.objects.filter(ride=ride, driver=driver, status=OfferStatus.OFFERED).exists()
    return ride


def decline(user, ride_id):
    return api_client_for(user).post(f"/api/v1/rides/{ride_id}/decline/")


# --- decline ----------------------------------------------------------------------------------------


def test_the_offered_driver_declines_and_hears_no_more_of_it(offered, driver):
    response = decline(driver.user, offered.pk)
    assert response.status_code == 200
    assert response.json() == {"ride_id": str(offered.pk), "declined": True}
    assert RideOffer.objects.get(ride=offered, driver=driver).status == OfferStatus.DECLINED


def test_declining_twice_is_still_a_200(offered, driver):
    assert decline(driver.user, offered.pk).status_code == 200
    assert decline(driver.user, offered.pk).status_code == 200


def test_declining_a_ride_never_offered_to_the_driver_is_a_404(offered):
    stranger = DriverFactory(is_online=False)
    for ride_id in (offered.pk, uuid.uuid4(), "not-a-uuid"):
        response = decline(stranger.user, ride_id)
        assert response.status_code == 404
        assert response.json()["code"] == "ride_not_found"


def test_declining_a_ride_that_is_no_longer_requested_is_a_409(offered, driver, passenger):
    api_client_for(passenger).post(f"/api/v1/rides/{offered.pk}/cancel/", {}, format="json")
    response = decline(driver.user, offered.pk)
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    assert response.json()["current_status"] == "cancelled"


def test_only_a_driver_declines(offered, passenger):
    response = decline(passenger, offered.pk)
    assert response.status_code == 403
    assert response.json()["code"] == "not_a_driver"


def test_declining_needs_a_token(offered):
    assert api_client_for().post(f"/api/v1/rides/{offered.pk}/decline/").status_code == 401


# --- manage.py dispatch ------------------------------------------------------------------------------


def test_dispatch_once_times_out_an_old_request():
    DriverFactory()
    ride = _request_made(minutes_ago=5)
    out = StringIO()
    call_command("dispatch", "--once", stdout=out)
    ride.refresh_from_db()
    assert (ride.status, ride.cancelled_by, ride.cancel_reason) == (
        RideStatus.CANCELLED, CancelledBy.SYSTEM, "no_driver_found")
    assert "Dispatched 1 ride(s)." in out.getvalue()


def test_dispatch_loops_every_interval(loop_clock):
    sleeps = loop_clock.sleeps
    out = StringIO()
    call_command("dispatch", "--interval", "2s", "--iterations", "3", stdout=out)
    assert sleeps == [2.0, 2.0] and "every 2s" in out.getvalue()


def _request_made(minutes_ago):
    return RideFactory(requested_at=timezone.now() - timedelta(minutes=minutes_ago))


# --- the driver admin -------------------------------------------------------------------------------


def test_the_driver_admin_shows_how_the_driver_answers_offers(client, offered, driver):
    decline(driver.user, offered.pk)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = client.get(reverse("admin:drivers_driver_change", args=[driver.pk])).content.decode()
    assert "1 offered: 0 accepted, 1 declined, 0 expired, 0 withdrawn (0% accepted)" in page


def test_the_driver_list_shows_each_drivers_acceptance_rate(client, offered, driver):
    decline(driver.user, offered.pk)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = client.get(reverse("admin:drivers_driver_changelist")).content.decode()
    assert "0% of 1" in page
