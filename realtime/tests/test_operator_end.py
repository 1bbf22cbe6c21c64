"""A ride nobody else can end (its driver deactivated mid-trip) is ended by an operator, and the
passenger is never locked out: the service, the admin action, `manage.py end_ride`, and the
deactivation of a driver in the admin or the shell, each heard on the passenger's socket."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import ProtectedError
from django.urls import reverse

from drivers.models import Driver
from realtime.models import Event
from rides import services
from rides.models import CancelledBy, Ride, RideStatus
from rideshare.tests.factories import DriverFactory, UserFactory, api_client_for, ride_in_status

from .helpers import assert_nothing_more, db, open_socket, receive_type, receive_types

pytestmark = pytest.mark.django_db(transaction=True)

TRIP = {"ride_type": "moto", "pickup_latitude": 3.848, "pickup_longitude": 11.502,
        "dropoff_latitude": 3.866, "dropoff_longitude": 11.516}


def started_ride():
    """A ride taken through the services to `started`, so its events are in the log."""
    passenger = UserFactory()
    driver = DriverFactory()
    ride = services.request_ride(passenger=passenger, **TRIP)
    services.accept_ride(ride_id=ride.pk, user=driver.user)
    services.mark_arrived(ride_id=ride.pk, user=driver.user)
    services.start_ride(ride_id=ride.pk, user=driver.user)
    return ride, passenger, driver


def deactivate(user):
    user.is_active = False
    user.save()


def request_again(passenger):
    return api_client_for(passenger).post("/api/v1/rides/", TRIP, format="json")


def assert_ended_by_admin(ride_id, reason):
    ride = Ride.objects.get(pk=ride_id)
    assert (ride.status, ride.cancelled_by, ride.cancel_reason) == (RideStatus.CANCELLED, CancelledBy.ADMIN, reason)
    assert ride.final_fare is None and ride.cancelled_at is not None


# --- the service ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [RideStatus.REQUESTED, RideStatus.ACCEPTED, RideStatus.DRIVER_ARRIVED,
                                    RideStatus.STARTED])
def test_the_operator_ends_a_ride_in_any_active_status(status):
    ride = ride_in_status(status)
    services.end_ride_as_operator(ride_id=ride.pk, reason="driver_unreachable")
    assert_ended_by_admin(ride.pk, "driver_unreachable")


@pytest.mark.parametrize("status", [RideStatus.COMPLETED, RideStatus.CANCELLED])
def test_an_ended_ride_stays_as_it_is(status):
    ride = ride_in_status(status)
    with pytest.raises(services.InvalidTransition):
        services.end_ride_as_operator(ride_id=ride.pk, reason="x")
    assert Ride.objects.get(pk=ride.pk).status == status


async def test_the_passenger_and_the_driver_hear_a_started_ride_ended_by_the_operator():
    ride, passenger, driver = await db(started_ride)()
    passenger_socket = await open_socket(passenger)
    driver_socket = await open_socket(driver.user)

    await db(services.end_ride_as_operator)(ride_id=ride.pk, reason="driver_unreachable")

    for comm in (passenger_socket, driver_socket):
        data = (await receive_type(comm, "ride_cancelled"))["data"]
        assert (data["ride_id"], data["cancelled_by"], data["reason"]) == (str(ride.pk), "admin", "driver_unreachable")
        await assert_nothing_more(comm)
        await comm.disconnect()
    assert (await db(request_again)(passenger)).status_code == 201


# --- a driver deactivated mid-trip ------------------------------------------------------------


async def test_deactivating_a_driver_mid_trip_ends_the_ride_and_the_passenger_can_request_again():
    ride, passenger, driver = await db(started_ride)()
    passenger_socket = await open_socket(passenger)
    driver_socket = await open_socket(driver.user)

    await db(deactivate)(driver.user)  # as in `manage.py shell` or a script

    data = (await receive_type(passenger_socket, "ride_cancelled"))["data"]
    assert (data["ride_id"], data["cancelled_by"], data["reason"]) == (str(ride.pk), "admin", "account_disabled")
    await assert_nothing_more(passenger_socket)
    # The driver's socket hears the end of the ride, then is closed (4003) with the account.
    received = await receive_types(driver_socket, ["ride_cancelled", "driver_availability_changed", "error"])
    assert received["error"]["data"]["code"] == "account_disabled"
    assert not (await db(Driver.objects.get)(pk=driver.pk)).is_online  # offered nothing any more
    await db(assert_ended_by_admin)(ride.pk, "account_disabled")
    response = await db(request_again)(passenger)
    assert response.status_code == 201, response.content
    await passenger_socket.disconnect()


def test_deactivating_a_driver_in_the_user_admin_ends_their_ride(client):
    ride, passenger, driver = started_ride()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    user = driver.user
    response = client.post(
        reverse("admin:accounts_user_change", args=[user.pk]),
        {"phone_number": user.phone_number, "full_name": user.full_name, "date_joined_0": "2026-01-01",
         "date_joined_1": "00:00:00", "is_staff": "", "is_superuser": "", "is_active": ""},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert_ended_by_admin(ride.pk, "account_disabled")
    event = Event.objects.get(ride=ride, type="ride_cancelled")
    assert set(event.recipients.values_list("user_id", flat=True)) == {passenger.pk, driver.pk}
    assert request_again(passenger).status_code == 201


def test_a_deactivated_passengers_ride_ends_too_and_frees_the_driver():
    ride, passenger, driver = started_ride()
    deactivate(passenger)
    assert_ended_by_admin(ride.pk, "account_disabled")
    assert not Ride.objects.filter(driver=driver, status__in=[RideStatus.STARTED]).exists()


def test_saving_an_inactive_user_with_no_ride_changes_nothing():
    user = UserFactory(is_active=False)
    user.full_name = "Renamed"
    user.save()
    assert not Ride.objects.exists()


def test_a_driver_who_ever_had_a_ride_cannot_be_deleted_only_deactivated():
    ride, passenger, driver = started_ride()
    with pytest.raises(ProtectedError):
        driver.user.delete()
    assert Ride.objects.get(pk=ride.pk).status == RideStatus.STARTED


# --- the admin action and the command ---------------------------------------------------------


def test_the_admin_end_action_ends_started_rides_and_skips_ended_ones(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    ride, passenger, driver = started_ride()
    completed = ride_in_status(RideStatus.COMPLETED)
    page = client.post(
        reverse("admin:rides_ride_changelist"),
        {"action": "end_rides", "_selected_action": [str(ride.pk), str(completed.pk)]}, follow=True,
    ).content.decode()
    assert_ended_by_admin(ride.pk, "ended_by_operator")
    assert "Ended 1 ride(s)." in page and f"Skipped 1: {completed.pk}" in page
    event = Event.objects.get(ride=ride, type="ride_cancelled")
    assert json.loads(event.text)["data"]["cancelled_by"] == "admin"


def test_end_ride_command_by_ride_id_and_by_driver_phone(capsys):
    first, _, _ = started_ride()
    second, _, driver = started_ride()
    call_command("end_ride", str(first.pk), "--reason", "driver_phone_lost")
    assert_ended_by_admin(first.pk, "driver_phone_lost")
    call_command("end_ride", "--driver", driver.user.phone_number)
    assert_ended_by_admin(second.pk, "ended_by_operator")
    out = capsys.readouterr().out
    assert f"Ended ride {first.pk}" in out and f"Ended ride {second.pk}" in out
    with pytest.raises(CommandError, match="no ride ended"):
        call_command("end_ride", str(first.pk))
    with pytest.raises(CommandError, match="not a ride id"):
        call_command("end_ride", "nope")
    with pytest.raises(CommandError, match="RIDE_ID"):
        call_command("end_ride")
