"""ws_stats, cleanup_presence and purge_events."""

import json
import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from drivers.models import Driver
from realtime.models import Event, EventLogState
from realtime.presence import presence, shared_presence
from rides.models import RideStatus
from rideshare.tests.factories import DriverFactory, UserFactory, ride_in_status

redis_mode_only = pytest.mark.skipif(not presence.shared(), reason="presence in Redis: CI's second pass")


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def connection(user, *, server_id="test-server", heartbeat_age_seconds=0, name=None):
    """A socket of `user` held by a server process: in the Redis mode that process's entries
    (with its last heartbeat that long ago); embedded, this process's own memory."""
    name = name or f"specific.{user.pk}.{server_id}"
    if not presence.shared():
        return presence.local.add(name, user, batched=False)
    shared_presence.add([(name, user.pk, user.is_driver, time.time())], [], server_id)
    shared_presence.client().zadd(shared_presence._servers(), {server_id: time.time() - heartbeat_age_seconds})


@pytest.fixture
def some_activity(db):
    driver = DriverFactory()
    connection(driver.user)
    connection(UserFactory())
    ride_in_status(RideStatus.STARTED)
    ride_in_status(RideStatus.REQUESTED)


def test_ws_stats_table_shows_the_same_figures_as_the_endpoint(some_activity, staff_user, client_for):
    endpoint = client_for(staff_user).get("/api/v1/ws/stats").json()
    table = run("ws_stats").splitlines()[1:]
    assert {line.split()[0]: int(line.split()[1]) for line in table} == endpoint
    assert endpoint["total_connections"] == 2 and endpoint["active_rides"] == 1


def test_ws_stats_json_and_watch(some_activity, loop_clock):
    sleeps = loop_clock.sleeps
    readings = [json.loads(line) for line in run("ws_stats", "--json", "--watch", "2", "--count", "3").splitlines()]
    assert readings == [presence.stats()] * 3
    assert sleeps == [2.0, 2.0]


@redis_mode_only
def test_cleanup_presence_sweeps_dead_processes_and_takes_their_drivers_offline(db, settings):
    settings.PRESENCE_TTL_SECONDS = 60
    orphaned = DriverFactory(user__phone_number="+237690123456")
    still_connected = DriverFactory()
    connection(orphaned.user, server_id="dead", heartbeat_age_seconds=120)
    connection(still_connected.user, server_id="dead", heartbeat_age_seconds=120, name="old-tab")
    connection(still_connected.user, server_id="live", heartbeat_age_seconds=5, name="live-tab")

    output = run("cleanup_presence")

    assert "Removed 2 stale connection(s)" in output and "1 driver(s) went offline" in output
    assert "offline: +237690123456" in output
    assert not Driver.objects.get(pk=orphaned.pk).is_online
    assert Driver.objects.get(pk=still_connected.pk).is_online
    assert shared_presence.figures()["total_connections"] == 1
    assert set(shared_presence.client().hkeys(shared_presence._user(still_connected.pk))) == {"live-tab"}
    assert Event.objects.filter(type="driver_availability_changed", recipients__user=orphaned.user).exists()
    assert "Removed 0 stale connection(s)" in run("cleanup_presence")  # each dead process is swept once


def test_cleanup_presence_has_nothing_to_sweep_in_the_embedded_mode(db, settings):
    settings.REDIS_URL = ""  # presence in server memory, whatever this run's services
    driver = DriverFactory()
    assert "Removed 0 stale connection(s)" in run("cleanup_presence")
    assert Driver.objects.get(pk=driver.pk).is_online


def test_purge_events_deletes_what_is_past_retention(db, settings):
    settings.EVENT_RETENTION_SECONDS = 3600
    old = Event.objects.create(type="ride_requested", text="{}", created_at=timezone.now() - timedelta(hours=2))
    kept = Event.objects.create(type="ride_requested", text="{}")

    assert run("purge_events") == "Purged 1 event(s) older than 1h (EVENT_RETENTION_SECONDS=3600).\n"
    assert list(Event.objects.values_list("pk", flat=True)) == [kept.pk]
    assert EventLogState.objects.get().purged_through == old.pk
    assert run("purge_events").startswith("Purged 0 event(s)")
