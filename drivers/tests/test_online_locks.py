"""On PostgreSQL: a driver going online or offline while a transaction that holds the event log's
id lock (a ride being requested and offered to them) commits. Each side in its own thread and
connection, in an explicit order."""

import threading
import time

import pytest
from django.db import connection, transaction

from drivers.models import Driver
from drivers.services import set_online
from realtime.delivery import eventlog
from rideshare.tests.factories import DriverFactory

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


def waiting_for_the_id_lock():
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND wait_event_type = 'Lock' AND wait_event = 'advisory'")
        return cursor.fetchone()[0]


def in_a_thread(outcome, name, work):
    def run():
        try:
            work()
            outcome[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported by the assertion
            outcome[name] = repr(exc)
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_driver_going_offline_while_a_ride_offered_to_them_commits_does_not_deadlock():
    """The ride's transaction holds the id lock; the driver's change locks the driver row, records
    its event and waits for that lock; the ride's commit then checks its offer's foreign key (a
    key-share lock on the same row). With FOR UPDATE on the row that was a deadlock (PostgreSQL
    ended one of them after a second: a 500 for POST /rides/); FOR NO KEY UPDATE lets both through."""
    driver = DriverFactory(is_online=True)
    outcome, id_lock_held, go_on = {}, threading.Event(), threading.Event()

    def requesting_a_ride():
        with transaction.atomic():
            eventlog._serialize_id_assignment()
            id_lock_held.set()
            assert go_on.wait(10)
            with connection.cursor() as cursor:  # what the offer's deferred foreign key does at commit
                cursor.execute("SELECT 1 FROM drivers_driver WHERE user_id = %s FOR KEY SHARE", [driver.pk])

    ride = in_a_thread(outcome, "ride", requesting_a_ride)
    assert id_lock_held.wait(10)
    offline = in_a_thread(outcome, "offline", lambda: set_online(user=driver.user, online=False))
    deadline = time.monotonic() + 10
    while not waiting_for_the_id_lock():  # the driver row is locked, its event waits for the id lock
        assert time.monotonic() < deadline, "set_online never reached the event log's id lock"
        time.sleep(0.01)
    go_on.set()
    ride.join(20)
    offline.join(20)
    assert outcome == {"ride": "ok", "offline": "ok"}
    assert Driver.objects.get(pk=driver.pk).is_online is False
