"""Sending pushes: claim the due deliveries (realtime.push.outbox), leave out users with an open
socket (checked now, at send time: they hear the event there), send the rest, settle what became
of each.

Every send runs on the event loop (aiohttp), at most PUSH_SEND_CONCURRENCY at once per process,
each within PUSH_TIMEOUT_SECONDS in all: resolving, connecting, sending and reading the answer.
A push service that answers a byte at a time or never answers costs its own send that long and
no more; it holds no other send back.

- The server (realtime.serving.lifecycle's `push` job, every PUSH_INTERVAL_SECONDS when PUSH_IN_SERVER)
  calls `start_round`: it claims as many due rows as there are free send slots and starts their
  sends without waiting for them; each send settles its own row when it ends. A round never waits
  for the previous round's slow sends. At shutdown `stop` gives the sends in flight
  PUSH_SHUTDOWN_GRACE_SECONDS, then abandons them: their rows stay leased and are sent again
  after the lease, so nothing is lost and the server exits on time.
- `run_round` claims, sends and settles one batch and returns what became of it (tests);
  `run_round_sync` is the same from `manage.py send_push`, in a process of its own, where who is
  connected comes from the presence every server shares in Redis.

Several senders may run at once, in one machine or many: the outbox's row locks give each row to
one of them.
"""

import asyncio
import logging
from collections import Counter

import aiohttp
from django.conf import settings

from realtime.presence import presence
from rideshare.kernel.db import db_call

from . import endpoints, fcm, outbox, outcomes, webpush
from .models import DeviceKind

logger = logging.getLogger(__name__)

SERVICES = {DeviceKind.WEBPUSH: webpush.send, DeviceKind.FCM: fcm.send}


def _session(resolver=None):
    connector = aiohttp.TCPConnector(resolver=resolver, limit=max(1, settings.PUSH_SEND_CONCURRENCY))
    # No cookies: one push service's answer for one user must not ride along with the next user's push.
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                                 timeout=aiohttp.ClientTimeout(total=None))


def _split(pushes, online):
    """(results for users with a socket open, pushes to send)."""
    on_socket = [(push, outcomes.on_socket()) for push in pushes if push.user_id in online]
    return on_socket, [push for push in pushes if push.user_id not in online]


def _presence_unavailable(user_ids):
    """Redis is away: the sockets it serves cannot hear events either, so push to everyone."""
    logger.warning("push: presence unavailable, pushing to all %d users", len(user_ids), exc_info=True)
    return set()


class Sender:
    """The HTTP sessions and send slots of the running event loop, and the server's sends in flight."""

    def __init__(self):
        self.loop = None
        self.sessions = {}  # DeviceKind -> aiohttp.ClientSession
        self.slots = None  # asyncio.Semaphore(PUSH_SEND_CONCURRENCY)
        self.in_flight = set()  # the server's send tasks (start_round)

    def _bind(self):
        """Sessions and slots belong to one loop: made again on another (tests, a command's round)."""
        loop = asyncio.get_running_loop()
        if self.loop is not loop:
            self.loop, self.in_flight = loop, set()
            self.slots = asyncio.Semaphore(max(1, settings.PUSH_SEND_CONCURRENCY))
            # Web Push endpoints are chosen by apps: only public addresses (or listed ones) are reached.
            self.sessions = {DeviceKind.WEBPUSH: _session(endpoints.GuardedResolver()), DeviceKind.FCM: _session()}

    async def send(self, push):
        """One push to whichever service its device uses, within PUSH_TIMEOUT_SECONDS in all.
        Never raises: a failure of ours is retried like the service's own."""
        self._bind()
        async with self.slots:
            try:
                async with asyncio.timeout(settings.PUSH_TIMEOUT_SECONDS):
                    return await SERVICES[push.kind](push, self.sessions[push.kind])
            except TimeoutError:
                return outcomes.retry(f"no answer within {settings.PUSH_TIMEOUT_SECONDS:g} s")
            except Exception as exc:
                logger.exception("push: sending event #%s to device %s failed", push.event_id, push.device_id)
                return outcomes.retry(f"{type(exc).__name__}: {exc}")

    async def _claim(self, now, connected, limit=None):
        """(results for users with a socket open, pushes to send)."""
        pushes = await db_call(outbox.claim_due)(now=now, limit=limit)
        if not pushes:
            return [], []
        user_ids = {push.user_id for push in pushes}
        try:
            online = await connected(user_ids)
        except Exception:
            online = _presence_unavailable(user_ids)
        return _split(pushes, online)

    async def send_all(self, pushes):
        """[Outcome] of sending `pushes` at once (within the slots)."""
        self._bind()
        return await asyncio.gather(*(self.send(push) for push in pushes))

    async def run_round(self, now=None, connected=presence.connected):
        """Claim one batch, send it, settle it; returns how many deliveries ended each way (Counter)."""
        self._bind()
        on_socket, to_send = await self._claim(now, connected)
        sent = await self.send_all(to_send)
        results = on_socket + list(zip(to_send, sent))
        if results:
            await db_call(outbox.settle)(results, now=now)
        return Counter(outcome.kind for _, outcome in results)

    async def start_round(self, now=None):
        """The server's round: claim what the free send slots can take and start those sends; each
        settles its own row when it ends. Returns the number of sends started."""
        self._bind()
        free = max(1, settings.PUSH_SEND_CONCURRENCY) - len(self.in_flight)
        if free <= 0:
            return 0
        on_socket, to_send = await self._claim(now, presence.connected, limit=min(settings.PUSH_BATCH_SIZE, free))
        if on_socket:
            await db_call(outbox.settle)(on_socket, now=now)
        for push in to_send:
            task = asyncio.get_running_loop().create_task(self._send_and_settle(push, now), name="push-send")
            self.in_flight.add(task)
            task.add_done_callback(self.in_flight.discard)
        return len(to_send)

    async def _send_and_settle(self, push, now):
        outcome = await self.send(push)
        try:
            await db_call(outbox.settle)([(push, outcome)], now=now)
        except Exception:  # its lease runs out and it is sent again: nothing lost
            logger.exception("push: settling event #%s to device %s failed", push.event_id, push.device_id)

    async def stop(self, grace=None):
        """Give the server's sends in flight `grace` seconds (PUSH_SHUTDOWN_GRACE_SECONDS), abandon
        the rest (their rows are sent again after their lease), close the sessions."""
        if self.loop is not asyncio.get_running_loop():
            return
        grace = settings.PUSH_SHUTDOWN_GRACE_SECONDS if grace is None else grace
        tasks = set(self.in_flight)
        if tasks:
            _, unfinished = await asyncio.wait(tasks, timeout=grace)
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
            if unfinished:
                logger.warning("push: %d sends abandoned at shutdown; they are sent again after their lease",
                               len(unfinished))
        await self.close()

    async def close(self):
        sessions, self.sessions, self.loop = self.sessions, {}, None
        for session in sessions.values():
            await session.close()


sender = Sender()
run_round = sender.run_round
start_round = sender.start_round
stop = sender.stop


def run_round_sync(now=None):
    """One round in a process without sockets (`manage.py send_push`): the outbox read and settled
    in this thread, the sends on an event loop made for them; who is connected comes from the
    presence all server processes share in Redis."""
    pushes = outbox.claim_due(now=now)
    if not pushes:
        return Counter()
    user_ids = {push.user_id for push in pushes}
    try:
        online = presence.connected_anywhere(user_ids)
    except Exception:
        online = _presence_unavailable(user_ids)
    on_socket, to_send = _split(pushes, online)

    async def send_then_close():
        try:
            return await sender.send_all(to_send)
        finally:
            await sender.close()

    results = on_socket + list(zip(to_send, asyncio.run(send_then_close()) if to_send else []))
    outbox.settle(results, now=now)
    return Counter(outcome.kind for _, outcome in results)
