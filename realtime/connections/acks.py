"""Acknowledged client messages: a message with an `id` gets `ack {id, type}` once it was applied,
after its own reply (pong, ride_joined, ...); a refused one gets its `error` with `request_id`
(the consumer adds it). A message without an `id` costs nothing here.

Messages whose effect outlives the connection (`wire.APPLIED_ONCE_PER_ID`: positions, going online
or offline, declining an offer) are applied once per id and user. The id is claimed in the "acks"
cache (settings.CACHES) before the message is applied, with one atomic `add` (Redis with REDIS_URL,
so the claim holds across reconnects and server processes; local memory embedded, sized so that
other users' ids do not push it out) that expires after WS_ACK_ID_TTL_SECONDS. A claim is `pending`
while the message is applied and `done` once it was: a resend of a done id is acknowledged and not
applied again; a resend that finds it pending (the first copy still being applied, e.g. on an old
socket not yet closed) gets `error` `request_in_progress` and is sent again later by the app, since
the first copy may still fail. Applying that fails releases the claim, so the app's resend is
applied then; a socket gone while answering (the message was applied: every handler applies, then
replies) marks it done. A message may be applied twice, never lost. When the cache cannot be
reached the message is applied as if its id were new.

The other messages concern only the connection they arrive on and change nothing when applied
again, so they are applied (and acknowledged) every time, with no cache round trip.
"""

import asyncio
import hashlib
import logging

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.translation import gettext_lazy

from realtime.delivery import events
from realtime.protocol import wire
from rideshare.kernel.errors import Conflict

from .connection import SocketGone

logger = logging.getLogger(__name__)

# Backends answered in this process's memory: called on the loop, no thread hop.
IN_MEMORY = (LocMemCache, DummyCache)

PENDING, DONE = "pending", "done"

# Its own cache: the throttles' counters and these ids cannot push each other out (settings.CACHES).
CACHE_ALIAS = "acks"


class RequestInProgress(Conflict):
    code = "request_in_progress"

    def __init__(self):
        super().__init__(gettext_lazy("A message with this id is still being applied: send it again in a moment."))


class AppliedIds:
    """The claimed (user, type, id) triples, in the "acks" cache. One backend instance per
    process: Django's `cache` is one per async context, which here is one per socket (and, on
    Redis, a connection pool each)."""

    def __init__(self):
        self._backend = None

    @property
    def backend(self):
        if self._backend is None:
            self._backend = caches.create_connection(CACHE_ALIAS)
        return self._backend

    def forget_backend(self):
        self._backend = None

    @staticmethod
    def key(user_id, message_type, request_id):
        # Hashed: an app's id may hold what a cache key should not (spaces, control characters).
        digest = hashlib.blake2b(request_id.encode(), digest_size=12).hexdigest()
        return f"ws-ack:{user_id}:{message_type}:{digest}"

    async def claim(self, key):
        """None if the id was not claimed yet (now it is, pending) or the cache could not tell;
        else the claim's state, PENDING or DONE."""
        try:
            if await self._call("add", key, PENDING, settings.WS_ACK_ID_TTL_SECONDS):
                return None
            state = await self._call("get", key)
        except Exception:
            logger.warning("claiming a message id failed; applying the message as new", exc_info=True)
            return None
        if state is None:  # expired or released between the two calls: claim it again
            return await self.claim(key)
        return DONE if state == DONE else PENDING

    async def done(self, key):
        try:
            await self._call("set", key, DONE, settings.WS_ACK_ID_TTL_SECONDS)
        except Exception:
            logger.warning("marking a message id applied failed; a resend will wait until it expires", exc_info=True)

    async def release(self, key):
        try:
            await self._call("delete", key)
        except Exception:
            logger.warning("releasing a message id failed; a resend is acknowledged, not applied", exc_info=True)

    async def _call(self, method, *args):
        backend = self.backend
        if isinstance(backend, IN_MEMORY):
            return getattr(backend, method)(*args)
        return await asyncio.get_running_loop().run_in_executor(None, getattr(backend, method), *args)


applied_ids = AppliedIds()


async def handle(connection, message_type, request_id, message):
    """`connection.handle(message)`, then `ack` if the message has an `id` (None: it has not),
    applying a message of APPLIED_ONCE_PER_ID once per id. What `handle` raises goes to the
    caller, which answers with `error` (and `request_id`)."""
    if request_id is None:
        return await connection.handle(message)
    key = None
    if message_type in wire.APPLIED_ONCE_PER_ID:
        key = applied_ids.key(connection.user.pk, message_type, request_id)
        state = await applied_ids.claim(key)
        if state == DONE:
            return await connection.send_event(events.ack(request_id, message_type))
        if state == PENDING:
            raise RequestInProgress()
    try:
        await connection.handle(message)
    except SocketGone:
        if key is not None:
            await applied_ids.done(key)  # applied; only the answer was lost
        raise
    except BaseException:
        if key is not None:
            await applied_ids.release(key)
        raise
    if key is not None:
        await applied_ids.done(key)
    await connection.send_event(events.ack(request_id, message_type))


@receiver(setting_changed)
def _forget_backend(setting, **kwargs):
    """Tests give each test its own cache prefix; a server reads the setting once."""
    if setting == "CACHES":
        applied_ids.forget_backend()
