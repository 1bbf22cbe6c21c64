"""Django's ASGI handler, with each request's sync work on a kept thread instead of a new one.

Why: Django's handler runs each HTTP request in its own `ThreadSensitiveContext`, so every sync
part of a request (the request_started/finished receivers, a sync view, a sync middleware hook)
runs on a thread created for that request and joined, on the event loop, when it ends. Measured
in-process here, that creation and join was most of a request's cost (an empty async view: ~1.6 ms
a request, of which ~1.1 ms starting and joining threads), and each new thread opened its own
database connection. Here a request borrows a single-thread executor from a pool for its whole
life (asgiref's `ThreadSensitiveContext(executor=...)`): its sync parts still run one at a time on
one thread, as Django requires (a request's connection and transaction stay on that thread), and
requests still run side by side on different threads; threads and their connections outlive the
request.

At most REQUEST_THREADS executors are kept; past that a request gets a new one, shut down after it
(Django's behaviour). A request cancelled while its sync work runs returns its executor to the
pool; the next borrower's work waits behind the unfinished call, as work queued on one thread does.
"""

from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler


class KeptExecutors:
    """Single-thread executors lent to one request at a time (touched only on the event loop)."""

    def __init__(self, keep):
        self.keep = keep
        self.idle = []
        self.made = 0

    def borrow(self):
        if self.idle:
            return self.idle.pop()
        self.made += 1
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"request-{self.made}")

    def give_back(self, executor):
        if len(self.idle) < self.keep:
            self.idle.append(executor)
        else:
            executor.shutdown(wait=False)


class KeptThreadsASGIHandler(ASGIHandler):
    def __init__(self):
        super().__init__()
        self.executors = KeptExecutors(settings.REQUEST_THREADS)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        executor = self.executors.borrow()
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            self.executors.give_back(executor)


def get_asgi_application():
    """django.core.asgi.get_asgi_application, with this handler."""
    import django

    django.setup(set_prefix=False)
    return KeptThreadsASGIHandler()
