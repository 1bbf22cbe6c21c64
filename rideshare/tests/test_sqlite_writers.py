"""rideshare.sqlite: a process's writers to one SQLite file take turns on a lock of the process
(woken as the previous writer finishes) instead of polling SQLite's busy handler."""

import threading

import pytest
from django.db import connection, connections, transaction

from rides.models import Ride
from rideshare.sqlite.base import write_lock
from rideshare.tests.factories import RideFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),  # the turns are taken by real transactions
    pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's writers only"),
]


def turn():
    return write_lock(str(connection.settings_dict["NAME"]))


def in_thread(work):
    """Run `work` in a thread of its own (its own connection); returns (thread, finished event)."""
    finished = threading.Event()

    def run():
        try:
            work()
        finally:
            connections.close_all()
            finished.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, finished


def test_a_write_transaction_holds_the_turn_until_it_commits():
    ride = RideFactory()
    assert not turn().locked()
    with transaction.atomic():
        Ride.objects.filter(pk=ride.pk).update(estimated_fare=1500)
        assert turn().locked()
    assert not turn().locked()


def test_a_transaction_that_fails_gives_the_turn_back():
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            RideFactory()
            raise RuntimeError("the change cannot go through")
    assert not turn().locked() and not Ride.objects.exists()


def test_a_lone_write_statement_takes_the_turn_only_while_it_runs():
    ride = RideFactory()
    under_the_turn = {}
    connection.ensure_connection()
    # SQLite calls this as it runs each statement: inside the cursor, after the turn is taken.
    connection.connection.set_trace_callback(lambda sql: under_the_turn.setdefault(sql.split()[0], turn().locked()))
    try:
        Ride.objects.filter(pk=ride.pk).update(estimated_fare=1500)  # autocommit: no transaction
        list(Ride.objects.all())  # a read never waits
    finally:
        connection.connection.set_trace_callback(None)
    assert under_the_turn == {"UPDATE": True, "SELECT": False} and not turn().locked()


def test_a_writer_in_another_thread_waits_for_the_turn_and_goes_as_soon_as_it_is_given_back():
    ride = RideFactory()
    with transaction.atomic():
        Ride.objects.filter(pk=ride.pk).update(estimated_fare=1000)
        thread, finished = in_thread(lambda: Ride.objects.filter(pk=ride.pk).update(estimated_fare=2000))
        # It queues on the lock, not inside SQLite: the holder's transaction goes on undisturbed.
        assert not finished.wait(0.3)
        Ride.objects.filter(pk=ride.pk).update(estimated_fare=1200)
    assert finished.wait(10)
    thread.join(5)
    assert Ride.objects.get(pk=ride.pk).estimated_fare == 2000  # the queued write came last
