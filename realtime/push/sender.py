"""One round of sending pushes: claim the due deliveries (realtime.push.outbox), leave out users
with an open socket (checked now, at send time: they hear the event there), send the rest in
threads, settle what became of each.

`run_round` is the server's way: realtime.lifecycle's `push` job, every PUSH_INTERVAL_SECONDS, on
the event loop, with its database work and HTTP requests in threads (the loop never waits on a
push service; a slow or failing one only delays the next round of pushes). `run_round_sync` is
`manage.py send_push`'s, in a process of its own. Several senders may run at once, in one machine
or many: the outbox's row locks give each row to one of them.
"""

import asyncio
import logging
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests
from django.conf import settings

from realtime import presence
from realtime.db import db_call

from . import fcm, outbox, outcomes, webpush
from .models import DeviceKind

logger = logging.getLogger(__name__)

SERVICES = {DeviceKind.WEBPUSH: webpush.send, DeviceKind.FCM: fcm.send}

_threads = threading.local()


def _session():
    """This sender thread's HTTP session (connections kept to the push services)."""
    session = getattr(_threads, "session", None)
    if session is None:
        session = _threads.session = requests.Session()
    return session


def send(push):
    """In a sender thread: one push to whichever service its device uses. Never raises: a failure
    of ours is retried like the service's own."""
    try:
        return SERVICES[push.kind](push, _session())
    except Exception as exc:
        logger.exception("push: sending event #%s to device %s failed", push.event_id, push.device_id)
        return outcomes.retry(f"{type(exc).__name__}: {exc}")


class _Threads:
    """The sender threads, made on first use and shut down with the server (realtime.lifecycle)."""

    def __init__(self):
        self.executor = None

    def get(self):
        if self.executor is None:
            self.executor = ThreadPoolExecutor(max(1, settings.PUSH_SEND_THREADS), thread_name_prefix="push")
        return self.executor

    def shutdown(self):
        executor, self.executor = self.executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


threads = _Threads()


def _split(pushes, connected):
    """(results for users with a socket open, pushes to send)."""
    on_socket = [(push, outcomes.on_socket()) for push in pushes if push.user_id in connected]
    return on_socket, [push for push in pushes if push.user_id not in connected]


async def _connected(user_ids):
    try:
        return await presence.connected(user_ids)
    except Exception:  # Redis is away: its sockets cannot hear events either, so push to everyone
        logger.warning("push: presence unavailable, pushing to all %d users", len(user_ids), exc_info=True)
        return set()


async def run_round(now=None):
    """One round on the server's loop; returns how many deliveries ended each way (Counter)."""
    pushes = await db_call(outbox.claim_due)(now=now)
    if not pushes:
        return Counter()
    on_socket, to_send = _split(pushes, await _connected({push.user_id for push in pushes}))
    loop = asyncio.get_running_loop()
    sent = await asyncio.gather(*(loop.run_in_executor(threads.get(), send, push) for push in to_send))
    results = on_socket + list(zip(to_send, sent))
    await db_call(outbox.settle)(results, now=now)
    return Counter(outcome.kind for _, outcome in results)


def run_round_sync(now=None):
    """One round in a process without sockets (`manage.py send_push`): who is connected comes from
    the presence all server processes share in Redis."""
    pushes = outbox.claim_due(now=now)
    if not pushes:
        return Counter()
    user_ids = {push.user_id for push in pushes}
    try:
        connected = presence.connected_anywhere(user_ids)
    except Exception:  # as in run_round: without Redis no socket hears anything
        logger.warning("push: presence unavailable, pushing to all %d users", len(user_ids), exc_info=True)
        connected = set()
    on_socket, to_send = _split(pushes, connected)
    results = on_socket + list(zip(to_send, threads.get().map(send, to_send)))
    outbox.settle(results, now=now)
    return Counter(outcome.kind for _, outcome in results)
