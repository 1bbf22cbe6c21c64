"""seed_demo and expire_rides, called as the ops issue describes them."""

import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from drivers.models import Driver, VehicleType
from realtime.models import Event
from rides import services
from rides.management.commands.expire_rides import Command
from rides.models import CancelledBy, Ride, RideOffer, RideStatus
from rideshare.accounts.models import User
from rideshare.kernel.geo import haversine_km
from rideshare.tests.factories import DriverFactory, RideFactory, ride_in_status

REPO_ROOT = Path(__file__).resolve().parents[2]


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


# --- seed_demo ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_places_extra_drivers_around_a_point():
    output = run("seed_demo", "--drivers", "6", "--around", "4.05,9.7")  # Douala
    assert "+237691000001 .. +237691000006" in output
    users, drivers = User.objects.count(), Driver.objects.count()
    fleet = Driver.objects.filter(user__phone_number__startswith="+237692")
    assert drivers == 5 + 6 + 12 and fleet.count() == 12

    run("seed_demo", "--drivers", "6", "--around", "4.05,9.7")
    assert (User.objects.count(), Driver.objects.count()) == (users, drivers)

    extras = Driver.objects.filter(user__phone_number__startswith="+237691")
    assert {d.vehicle_type for d in extras} == {VehicleType.MOTO, VehicleType.CAR}
    assert len({(d.latitude, d.longitude) for d in extras}) == 6
    for driver in Driver.objects.exclude(pk__in=fleet.values("pk")):
        assert driver.is_online and timezone.now() - driver.location_updated_at < timedelta(minutes=1)
        assert haversine_km(4.05, 9.7, driver.latitude, driver.longitude) < 3.5
    # The fleet's drivers come online over their own sockets when the fleet runs (realtime/clients/demo).
    assert {d.vehicle_type for d in fleet} == {VehicleType.MOTO, VehicleType.CAR}


@pytest.mark.django_db
def test_seed_demo_reset_ends_the_demo_accounts_open_rides_and_leaves_others_alone():
    run("seed_demo")
    awa = User.objects.get(phone_number="+237670000001")
    jean = Driver.objects.get(user__phone_number="+237690000001")
    left_over = ride_in_status(RideStatus.STARTED, driver=jean)
    requested = RideFactory(passenger=awa)
    someone_elses = RideFactory()

    output = run("seed_demo", "--reset")

    assert "Ended 2 open ride(s)" in output
    for ride in (left_over, requested):
        ride.refresh_from_db()
        assert (ride.status, ride.cancelled_by, ride.cancel_reason) == ("cancelled", "admin", "demo_reset")
    someone_elses.refresh_from_db()
    assert someone_elses.status == RideStatus.REQUESTED


@pytest.mark.django_db
def test_seed_demo_accounts_log_in_with_the_demo_password(client_for):
    run("seed_demo")
    response = client_for().post(
        "/api/v1/auth/token/", {"phone_number": "6 90 00 00 01", "password": "demo-pass-2026"}, format="json"
    )
    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("args", [["--around", "3.8"], ["--around", "95,11"], ["--drivers", "-1"]])
def test_seed_demo_rejects_bad_arguments(args):
    with pytest.raises(CommandError):
        run("seed_demo", *args)
    assert not User.objects.exists()


# --- expire_rides -------------------------------------------------------------------------------


def old_request(minutes=5, **kwargs):
    return RideFactory(requested_at=timezone.now() - timedelta(minutes=minutes), **kwargs)


@pytest.mark.django_db
def test_expire_rides_cancels_old_requests_as_system_and_announces_it():
    offered = DriverFactory()  # online at the pickup: offered the ride when it is created
    old = old_request()
    recent = old_request(minutes=1)
    accepted = ride_in_status(RideStatus.ACCEPTED, requested_at=timezone.now() - timedelta(minutes=10))
    assert RideOffer.objects.filter(ride=old, driver=offered).exists()

    output = run("expire_rides", "--older-than", "2m")

    old.refresh_from_db()
    assert (old.status, old.cancelled_by, old.cancel_reason) == (RideStatus.CANCELLED, CancelledBy.SYSTEM,
                                                                 "no_driver_found")
    assert Ride.objects.get(pk=recent.pk).status == RideStatus.REQUESTED
    assert Ride.objects.get(pk=accepted.pk).status == RideStatus.ACCEPTED
    assert f"Cancelled ride {old.pk}" in output and "expired 1 ride request(s)" in output

    cancelled = Event.objects.get(ride=old, type="ride_cancelled")
    assert '"cancelled_by":"system"' in cancelled.text
    assert list(cancelled.recipients.values_list("user_id", flat=True)) == [old.passenger_id]
    unavailable = Event.objects.get(ride=old, type="ride_unavailable")
    assert offered.pk in set(unavailable.recipients.values_list("user_id", flat=True))


@pytest.mark.django_db
def test_expire_rides_skips_a_ride_accepted_meanwhile(monkeypatch):
    driver = DriverFactory()
    ride = old_request()
    real_expire_one = Command.expire_one

    def accepted_just_before(ride_id):  # between the query and the lock
        services.accept_ride(ride_id=ride.pk, user=driver.user)
        return real_expire_one(ride_id)

    monkeypatch.setattr(Command, "expire_one", staticmethod(accepted_just_before))
    output = run("expire_rides", "--older-than", "90s")

    assert Ride.objects.get(pk=ride.pk).status == RideStatus.ACCEPTED
    assert f"Skipped ride {ride.pk}" in output and "expired 0" in output and "skipped 1" in output


@pytest.mark.django_db
def test_expire_rides_loop_runs_every_interval(loop_clock):
    sleeps = loop_clock.sleeps
    old_request()
    output = run("expire_rides", "--loop", "--interval", "5s", "--older-than", "1h", "--iterations", "3")
    assert sleeps == [5.0, 5.0]
    assert "every 5s" in output and Ride.objects.get().status == RideStatus.REQUESTED  # 5 min < 1 h


@pytest.mark.django_db
def test_expire_rides_rejects_a_bad_duration():
    with pytest.raises(CommandError, match="not a duration"):
        run("expire_rides", "--older-than", "soon")


def test_expire_rides_help_and_usage_errors_exit_codes():
    help_run = subprocess.run([sys.executable, "manage.py", "expire_rides", "--help"], cwd=REPO_ROOT,
                              capture_output=True, text=True, timeout=60)
    assert help_run.returncode == 0 and "--older-than" in help_run.stdout and "--iterations" not in help_run.stdout
    bad = subprocess.run([sys.executable, "manage.py", "expire_rides", "--older-than", "2x"], cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "'2x' is not a duration" in bad.stderr


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_expire_one_waits_for_a_concurrent_accept_and_then_leaves_the_ride_alone():
    import threading

    from django.db import connection, transaction

    driver = DriverFactory()
    ride = old_request()
    accepted, release, outcome = threading.Event(), threading.Event(), {}

    def accept_and_hold():
        try:
            with transaction.atomic():
                services.accept_ride(ride_id=ride.pk, user=driver.user)
                accepted.set()
                release.wait(10)  # the ride row stays locked until this commits
        finally:
            connection.close()

    def expire():
        try:
            Command.expire_one(ride.pk)
            outcome["result"] = "cancelled"
        except services.Conflict as exc:
            outcome["result"] = exc.code
        except Exception as exc:  # reported by the assertion below
            outcome["result"] = repr(exc)
        finally:
            connection.close()

    holder = threading.Thread(target=accept_and_hold)
    expirer = threading.Thread(target=expire)
    holder.start()
    try:
        assert accepted.wait(10)
        expirer.start()
        expirer.join(0.5)
        waited = expirer.is_alive()
    finally:
        release.set()  # never leave the other thread holding the lock
        holder.join(10)
        if expirer.ident:
            expirer.join(10)
    assert waited, f"expire_one must wait for the row lock, but returned {outcome}"
    assert outcome == {"result": "invalid_transition"}
    assert Ride.objects.get(pk=ride.pk).status == RideStatus.ACCEPTED
