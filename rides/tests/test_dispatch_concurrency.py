"""Dispatchers on PostgreSQL, for real: several at once, racing accepts, and one killed mid-wave.

Committed data (a transactional test), each dispatcher on its own connection (a thread, or a
process), released together by rides.tests.test_concurrency's `race`.
"""

import os
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from realtime.models import Event
from rides import dispatching, services
from rides.models import OfferStatus, Ride, RideOffer, RideStatus
from rideshare.tests.factories import YAOUNDE, DriverFactory, UserFactory

from .test_concurrency import race

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

REPO_ROOT = Path(__file__).resolve().parents[2]
KM_PER_DEGREE = 111.195
OFFER_SECONDS = 15


@pytest.fixture(autouse=True)
def waves_of_two(settings):
    settings.RIDE_OFFER_RADII_KM = [2.0, 5.0, 10.0]
    settings.RIDE_OFFER_WAVE_SIZE = 2
    settings.RIDE_OFFER_TIMEOUT_SECONDS = OFFER_SECONDS
    settings.RIDE_REQUEST_TIMEOUT_SECONDS = 180


def drivers_north(*kms):
    return [DriverFactory(latitude=YAOUNDE[0] + km / KM_PER_DEGREE, longitude=YAOUNDE[1]) for km in kms]


def request():
    return services.request_ride(
        passenger=UserFactory(), ride_type="moto", pickup_latitude=YAOUNDE[0], pickup_longitude=YAOUNDE[1],
        dropoff_latitude=3.866, dropoff_longitude=11.516,
    )


def offers_of(ride):
    return Counter(RideOffer.objects.filter(ride=ride).values_list("wave", flat=True))


def requested_per_driver(ride):
    events = Event.objects.filter(ride=ride, type="ride_requested")
    return Counter(events.values_list("recipients__user_id", flat=True))


def test_two_dispatchers_running_together_never_send_the_same_wave_twice():
    drivers_north(0.5, 1.0, 3.0, 4.0)
    rides = [request() for _ in range(12)]  # every one offered to the first two, then to the other two
    due = max(r.requested_at for r in rides) + timedelta(seconds=OFFER_SECONDS)

    handled = race(lambda: dispatching.run_due(now=due), lambda: dispatching.run_due(now=due))

    assert sum(count for _, count in handled) == len(rides), handled  # each ride by one of them
    for ride in rides:
        ride.refresh_from_db()
        assert ride.offer_wave == 2
        assert offers_of(ride) == Counter({1: 2, 2: 2})
        assert set(requested_per_driver(ride).values()) == {1}  # no driver heard an offer twice
        unavailable = Event.objects.filter(ride=ride, type="ride_unavailable")
        assert unavailable.count() == 1  # wave 1 expired once
    # Nothing is left due for a third dispatcher.
    assert dispatching.run_due(now=due) == 0


@pytest.mark.parametrize("round_number", range(5))
def test_an_accept_racing_the_wave_change_has_one_winner_and_consistent_events(round_number):
    first_wave, second_wave = drivers_north(0.5, 1.0), drivers_north(3.0, 4.0)
    ride = request()
    due = ride.requested_at + timedelta(seconds=OFFER_SECONDS)

    outcomes = race(
        lambda: services.accept_ride(ride_id=ride.pk, user=first_wave[0].user).driver_id,
        lambda: services.accept_ride(ride_id=ride.pk, user=second_wave[1].user).driver_id,
        lambda: dispatching.run_due(now=due),
    )

    accepts = outcomes[:2]
    winners = [value for kind, value, *_ in accepts if kind == "ok"]
    assert len(winners) == 1, outcomes
    assert [r[:2] for r in accepts if r[0] != "ok"] == [(409, "invalid_transition")]
    ride.refresh_from_db()
    assert (ride.status, ride.driver_id, ride.next_wave_at) == (RideStatus.ACCEPTED, winners[0], None)
    assert not RideOffer.objects.filter(ride=ride, status=OfferStatus.OFFERED).exists()
    accepted = Event.objects.get(ride=ride, type="ride_accepted")
    # Every offer was made before the accept; every driver offered it is told once that it is gone
    # (the winner too, if the wave changed first: their offer expired, and they accepted late).
    assert not Event.objects.filter(ride=ride, type="ride_requested", id__gt=accepted.id).exists()
    unavailable = Event.objects.filter(ride=ride, type="ride_unavailable")
    told = Counter(unavailable.values_list("recipients__user_id", flat=True))
    offered = set(RideOffer.objects.filter(ride=ride).values_list("driver_id", flat=True))
    assert set(told) - {winners[0]} == offered - {winners[0]} and set(told.values()) == {1}, (told, offered)


def _dispatcher_process(now, database_name):
    """A `dispatch` run that hangs right after sending a wave, before its transaction commits."""
    code = (
        "import time; from datetime import datetime; from rides import dispatching\n"
        "real = dispatching._send_wave\n"
        "def send_and_hang(ride, now):\n"
        "    real(ride, now); print('sent', flush=True); time.sleep(60)\n"
        "dispatching._send_wave = send_and_hang\n"
        f"dispatching.run_due(now=datetime.fromisoformat({now.isoformat()!r}))\n"
    )
    settings_dict = connection.settings_dict
    url = (f"postgres://{settings_dict['USER']}:{settings_dict['PASSWORD'] or ''}@{settings_dict['HOST'] or '127.0.0.1'}"
           f":{settings_dict['PORT'] or 5432}/{database_name}")
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.Popen([sys.executable, "manage.py", "shell", "--no-imports", "-c", code], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_dispatcher_killed_mid_wave_loses_nothing_and_another_sends_it_at_the_next_tick():
    drivers_north(0.5, 1.0, 3.0)
    ride = request()
    due = ride.requested_at + timedelta(seconds=OFFER_SECONDS)

    doomed = _dispatcher_process(due, connection.settings_dict["NAME"])
    try:
        assert doomed.stdout.readline().strip() == "sent", doomed.stderr.read()
        assert dispatching.run_due(now=due) == 0  # the ride is claimed (locked): skipped, not waited for
        doomed.kill()
    finally:
        doomed.kill()
        doomed.wait(timeout=10)

    # Its transaction rolls back once PostgreSQL notices the connection is gone; then the ride is
    # due again, as if the killed dispatcher had never started.
    deadline = timezone.now() + timedelta(seconds=10)
    while dispatching.run_due(now=due) == 0:
        assert timezone.now() < deadline, "the killed dispatcher's claim was never released"
    ride.refresh_from_db()
    assert ride.offer_wave == 2
    assert offers_of(ride) == Counter({1: 2, 2: 1})
    assert set(requested_per_driver(ride).values()) == {1}
    assert Ride.objects.get(pk=ride.pk).status == RideStatus.REQUESTED
