"""Run ORM code from the event loop.

channels' `database_sync_to_async` is thread-sensitive by default: every call from every socket
waits in one queue for one thread. Socket work (connects, disconnects, resumes, position batches)
is independent per call, so it runs on the thread pool instead; each thread has its own database
connection, closed or returned to the pool after each call as under CONN_MAX_AGE=0.
"""

from functools import partial

from channels.db import database_sync_to_async

db_call = partial(database_sync_to_async, thread_sensitive=False)
