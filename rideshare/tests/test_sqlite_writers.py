"""rideshare.sqlite: a process's writers to one SQLite file take turns on a lock of the process
(woken as the previous writer finishes) instead of polling SQLite's busy handler. On a database of
their own, so they run in CI's PostgreSQL pass too."""

import threading

import pytest
from django.conf import settings
from django.db.utils import ConnectionHandler

from rideshare.sqlite.base import write_lock


@pytest.fixture(autouse=True)
def own_database_allowed(django_db_blocker):
    """These connections go to a file of the test's own, never to the test database."""
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def sqlite_file(tmp_path):
    path = tmp_path / "writers.sqlite3"
    handler = ConnectionHandler({"default": {"ENGINE": "rideshare.sqlite", "NAME": str(path),
                                             "OPTIONS": dict(settings.SQLITE_OPTIONS)}})
    with handler["default"].cursor() as cursor:
        cursor.execute("CREATE TABLE fare (id INTEGER PRIMARY KEY, xaf INTEGER)")
        cursor.execute("INSERT INTO fare (id, xaf) VALUES (1, 1000)")
    handler["default"].close()
    return path


def open_connection(path):
    """A connection of its own to the file (as each server thread has)."""
    handler = ConnectionHandler({"default": {"ENGINE": "rideshare.sqlite", "NAME": str(path),
                                             "OPTIONS": dict(settings.SQLITE_OPTIONS)}})
    return handler["default"]


def begin(connection):
    connection.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)


def end(connection, *, commit=True):
    connection.commit() if commit else connection.rollback()
    connection.set_autocommit(True)


def fare(connection):
    with connection.cursor() as cursor:
        cursor.execute("SELECT xaf FROM fare WHERE id = 1")
        return cursor.fetchone()[0]


def set_fare(connection, xaf):
    with connection.cursor() as cursor:
        cursor.execute("UPDATE fare SET xaf = %s WHERE id = 1", [xaf])


def test_a_write_transaction_holds_the_turn_until_it_commits(sqlite_file):
    connection, turn = open_connection(sqlite_file), write_lock(str(sqlite_file))
    begin(connection)
    set_fare(connection, 1500)
    assert turn.locked()
    end(connection)
    assert not turn.locked() and fare(connection) == 1500
    connection.close()


def test_a_transaction_rolled_back_or_closed_gives_the_turn_back(sqlite_file):
    connection, turn = open_connection(sqlite_file), write_lock(str(sqlite_file))
    begin(connection)
    set_fare(connection, 1500)
    end(connection, commit=False)
    assert not turn.locked() and fare(connection) == 1000
    begin(connection)
    set_fare(connection, 1500)
    connection.close()
    assert not turn.locked()


def test_a_lone_write_statement_takes_the_turn_only_while_it_runs(sqlite_file):
    connection, turn = open_connection(sqlite_file), write_lock(str(sqlite_file))
    under_the_turn = {}
    connection.ensure_connection()
    # SQLite calls this as it runs each statement: inside the cursor, after the turn is taken.
    connection.connection.set_trace_callback(lambda sql: under_the_turn.setdefault(sql.split()[0], turn.locked()))
    set_fare(connection, 1500)  # autocommit: no transaction
    fare(connection)  # a read never waits
    assert under_the_turn == {"UPDATE": True, "SELECT": False} and not turn.locked()
    connection.close()


def test_a_writer_in_another_thread_waits_for_the_turn_and_goes_as_soon_as_it_is_given_back(sqlite_file):
    holder = open_connection(sqlite_file)
    finished = threading.Event()

    def other_writer():
        connection = open_connection(sqlite_file)
        try:
            set_fare(connection, 2000)
        finally:
            connection.close()
            finished.set()

    begin(holder)
    set_fare(holder, 1200)
    thread = threading.Thread(target=other_writer, daemon=True)
    thread.start()
    # It queues on the lock, not inside SQLite: the holder's transaction goes on undisturbed.
    assert not finished.wait(0.3)
    set_fare(holder, 1300)
    end(holder)
    assert finished.wait(10)
    thread.join(5)
    assert fare(holder) == 2000  # the queued write came last
    holder.close()
