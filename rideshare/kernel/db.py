"""Run ORM code from the event loop.

channels' `database_sync_to_async` is thread-sensitive by default: every call from every socket
waits in one queue for one thread. Socket work (connects, disconnects, resumes, position batches)
is independent per call, so it runs on the thread pool instead; each thread has its own database
connection, closed or returned to the pool after each call as under CONN_MAX_AGE=0.

`kept_connection_call` is for the hot calls of the async REST views (`request_call`: a driver's
position, rideshare/kernel/async_views.py) and the outbox's published marks; `dispatcher_call` for
the in-server dispatcher's rounds (one after the other, each wave due may be a round of its own).
Opening a connection per call cost more than the query itself (SQLite: ~0.3 ms of connect and
function registration per request, a third of the server's time at a few hundred requests/s;
PostgreSQL: a new session, or a pool checkout and its set-up). Its few threads keep their
connection between calls, close it when it failed and is no longer usable, and close it for good
when the server stops (realtime.serving.lifecycle calls `close_kept_connections`).
"""

import asyncio
import itertools
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.db import connection

db_call = partial(database_sync_to_async, thread_sensitive=False)

# Enough queries in flight to hide PostgreSQL's latency on a busy machine (4 left the server
# waiting at a third of a core); each holds one connection (of DATABASE_POOL_MAX_SIZE with the pool).
KEPT_CONNECTION_THREADS = 8


def _tidy_connection():
    """After a call: a connection that saw an error is kept only if it still works."""
    if connection.connection is None:
        return
    if connection.in_atomic_block or connection.get_autocommit() != connection.settings_dict["AUTOCOMMIT"]:
        connection.close()  # a call left a transaction open: never carry it into the next one
    elif connection.errors_occurred:
        if connection.is_usable():
            connection.errors_occurred = False
        else:
            connection.close()


def _close_this_threads_connection():
    connection.close()  # `connection` is per thread: looked up here, in the executor's thread


class _KeptConnections:
    """Single-thread executors, used in turn, each keeping its thread's connection."""

    def __init__(self, threads, name):
        self.threads = threads
        self.name = name
        self.executors = []
        self.turn = None

    def _next(self):
        if not self.executors:
            self.executors = [ThreadPoolExecutor(1, thread_name_prefix=f"{self.name}-{i}") for i in range(self.threads)]
            self.turn = itertools.cycle(self.executors)
        return next(self.turn)

    def call(self, fn):
        def run(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            finally:
                _tidy_connection()

        async def in_a_kept_thread(*args, **kwargs):
            return await sync_to_async(run, thread_sensitive=False, executor=self._next())(*args, **kwargs)

        return in_a_kept_thread

    async def close(self):
        executors, self.executors = self.executors, []
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(e, _close_this_threads_connection) for e in executors),
                             return_exceptions=True)
        for executor in executors:
            executor.shutdown(wait=False)


_kept = _KeptConnections(KEPT_CONNECTION_THREADS, "db-kept")
# Set by the server's lifecycle while it runs (realtime.serving.lifecycle): kept connections are
# then closed when it stops.
serving = False
_dispatcher = _KeptConnections(1, "db-dispatcher")
kept_connection_call = _kept.call
dispatcher_call = _dispatcher.call


async def close_kept_connections():
    await asyncio.gather(_kept.close(), _dispatcher.close())


def request_call(fn):
    """ORM code of an async view: in a server process on a kept connection; elsewhere (Django's
    test client, a WSGI server, the shell) on the request's own thread, as Django's async ORM does,
    so it sees that thread's transaction (a test's)."""
    if serving:
        return kept_connection_call(fn)
    return sync_to_async(fn, thread_sensitive=True)
