"""Django's SQLite backend, with the writers of one process queued on a lock instead of polling
SQLite's.

SQLite lets one writer in at a time. The others wait in its busy handler, which sleeps and retries
with growing pauses (up to 100 ms each) and serves nobody in order: under a steady stream of short
writes (ride requests, offer waves, socket positions, the outbox's published marks) a waiting
writer kept finding the lock taken again, and waited seconds (the offers benchmark: ride requests
p99 3-5 s, second waves 5 s late, at 10 requests/s). Here every write transaction (Django's
`BEGIN IMMEDIATE`, see SQLITE_OPTIONS in settings) and every lone write statement in autocommit
first takes a lock shared by the process's connections to the same file, and gives it back when
the transaction ends: the next writer is woken as the previous one finishes.

Past the connection's `timeout` a writer stops waiting here and meets SQLite's own wait (and its
"database is locked"), as it would have without the queue. Other processes (a management command
beside the server) still share the file through SQLite's lock alone.
"""

import threading
from contextlib import contextmanager, nullcontext

from django.db.backends.sqlite3 import base

_locks = {}
_locks_guard = threading.Lock()

WRITE_STATEMENTS = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def write_lock(name):
    """The lock of the writers to database file `name` in this process."""
    lock = _locks.get(name)
    if lock is None:
        with _locks_guard:
            lock = _locks.setdefault(name, threading.Lock())
    return lock


class QueuedWriteCursor(base.SQLiteCursorWrapper):
    """A write statement outside a transaction (a queryset's `update()`, say) queues too."""

    owner = None  # the DatabaseWrapper, set by create_cursor

    def execute(self, query, params=None):
        with self._queued(query):
            return super().execute(query, params)

    def executemany(self, query, param_list):
        with self._queued(query):
            return super().executemany(query, param_list)

    def _queued(self, query):
        if self.connection.in_transaction or not query.lstrip()[:7].upper().startswith(WRITE_STATEMENTS):
            return nullcontext()  # a transaction holds the turn already; a read never waits
        return self.owner.lone_write_turn()


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._write_turn = None  # the lock this connection holds, if any

    def _take_write_turn(self):
        """Wait for this process's other writers; False if this connection already holds the turn
        or gave up waiting (SQLite's own wait decides then)."""
        if self._write_turn is not None:
            return False
        lock = write_lock(str(self.settings_dict["NAME"]))
        if not lock.acquire(timeout=float(self.settings_dict.get("OPTIONS", {}).get("timeout", 5))):
            return False
        self._write_turn = lock
        return True

    @contextmanager
    def lone_write_turn(self):
        """The turn for one statement in autocommit."""
        taken = self._take_write_turn()
        try:
            yield
        finally:
            if taken:
                self._end_write_turn()

    def _end_write_turn(self):
        lock, self._write_turn = self._write_turn, None
        if lock is not None:
            lock.release()

    def _start_transaction_under_autocommit(self):
        taken = self._take_write_turn()
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            if taken:
                self._end_write_turn()
            raise

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._end_write_turn()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._end_write_turn()

    def _close(self):
        try:
            return super()._close()
        finally:
            self._end_write_turn()

    def create_cursor(self, name=None):
        cursor = self.connection.cursor(factory=QueuedWriteCursor)
        cursor.owner = self
        return cursor
