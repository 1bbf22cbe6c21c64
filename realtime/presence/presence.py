"""Who is connected, without a database write per socket.

Each server process keeps its own sockets in memory (`LocalSockets`, touched only on the event
loop). Embedded (no REDIS_URL: one server process) that is all there is. With Redis, every
process also writes its sockets to Redis with TTLs (realtime.presence.shared_presence): drivers' at once
(whether a driver is still connected anywhere decides whether they stay online), passengers' in
batches every PRESENCE_SYNC_SECONDS (a reconnect storm of thousands of sockets costs a few
pipelined writes); a heartbeat every PRESENCE_REFRESH_SECONDS keeps them alive, and a process
that stopped heartbeating for PRESENCE_TTL_SECONDS no longer counts and is swept by the others.

A driver's availability for matching stays in the database (`Driver.is_online`): a driver whose
last socket anywhere closed goes offline, and so do the drivers of a process that died. Not at the
close itself: an app that reconnects (a network change, a proxy that sends it to another server
process) is back within seconds, and a check at the close could not see the new socket yet (with
Redis it may be opening in another process at that very moment). The driver goes offline once
DRIVER_OFFLINE_GRACE_SECONDS passed without a socket here or in any live process; and the check is
made again under the driver's row lock, so a socket that opened after it (and the `driver_online`
it may have sent) is never overruled by the late decision.
"""

import asyncio
import logging
import os
import socket
import time
import uuid

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.translation import gettext_lazy
from rest_framework import status

from drivers.known_users import known
from drivers.models import Driver
from drivers.services import set_online
from realtime.delivery import dispatch, outages
from realtime.delivery.batching import Batched
from rides.models import DRIVER_ACTIVE_STATUSES, Ride, RideStatus
from rideshare.kernel.db import db_call
from rideshare.kernel.errors import DomainError

from . import cap, shared_presence

logger = logging.getLogger(__name__)

SERVER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
ACCOUNT_CHECK_BATCH = 500
clock = time.monotonic  # when a driver's grace ends (tests set a FakeClock)


def shared():
    """Whether presence is shared through Redis (else this process's memory is all of it)."""
    return bool(settings.REDIS_URL)


class LocalSockets:
    """This process's open sockets. Figures read from other threads (`counts`) are one tuple,
    replaced whole on every change."""

    def __init__(self):
        self.open = {}  # channel name -> (user id, is_driver, opened at)
        self.by_user = {}  # user id -> {channel name: opened at}
        self.driver_users = set()
        self.unsynced_adds = set()  # Redis mode: passenger sockets not written yet
        self.unsynced_removes = {}  # channel name -> user id: written, to remove with the next batch
        # Drivers whose last socket here closed -> when they go offline unless they reconnected
        # (the close + DRIVER_OFFLINE_GRACE_SECONDS): not yet checked.
        self.unsettled_drivers = {}
        self.counts = (0, 0, 0)

    def add(self, channel_name, user, batched):
        opened_at = time.time()
        self.open[channel_name] = (user.pk, user.is_driver, opened_at)
        self.by_user.setdefault(user.pk, {})[channel_name] = opened_at
        if user.is_driver:
            self.driver_users.add(user.pk)
            self.unsettled_drivers.pop(user.pk, None)  # back before their grace ended
        if batched:
            self.unsynced_adds.add(channel_name)
        self._count()
        return opened_at

    def remove(self, channel_name):
        """Stop counting a socket: (user id, is_driver, removal due now) or None if unknown."""
        entry = self.open.pop(channel_name, None)
        if entry is None:
            return None
        user_id, is_driver, _ = entry
        sockets = self.by_user.get(user_id, {})
        sockets.pop(channel_name, None)
        if not sockets:
            self.by_user.pop(user_id, None)
            self.driver_users.discard(user_id)
            if is_driver:
                self.unsettled_drivers[user_id] = clock() + settings.DRIVER_OFFLINE_GRACE_SECONDS
        self._count()
        if channel_name in self.unsynced_adds:
            self.unsynced_adds.discard(channel_name)  # never written: nothing to remove
            return user_id, is_driver, False
        if not shared() or written_at_once(is_driver):
            return user_id, is_driver, shared()
        self.unsynced_removes[channel_name] = user_id
        return user_id, is_driver, False

    def sockets_of(self, user_id):
        """[(opened at, channel name)] of the user's sockets in this process."""
        return [(opened_at, name) for name, opened_at in self.by_user.get(user_id, {}).items()]

    def take_unsynced(self):
        adds = [(name, *self.open[name]) for name in self.unsynced_adds if name in self.open]
        removes = list(self.unsynced_removes.items())
        self.unsynced_adds.clear()
        self.unsynced_removes.clear()
        return adds, removes

    def give_back(self, adds, removes):
        self.unsynced_adds.update(name for name, *_ in adds)
        self.unsynced_removes.update(removes)

    def _count(self):
        self.counts = (len(self.open), len(self.by_user), len(self.driver_users))


local = LocalSockets()


def written_at_once(is_driver):
    """Whether a socket is written to Redis at once rather than in the next batch."""
    return is_driver or not settings.PRESENCE_SYNC_SECONDS


# --- on the loop: a socket opens and closes -----------------------------------------------------


def _add_many(batch):
    replies = shared_presence.add(batch, [], SERVER_ID)
    return [replies.get(str(user_id), []) for _, user_id, _, _ in batch]


_add_at_once = Batched(_add_many)


async def opened(channel_name, user):
    """Count a new socket; returns the channel names of the user's sockets to close because
    they are over WS_MAX_CONNECTIONS_PER_USER (realtime.presence.cap), oldest first."""
    at_once = written_at_once(user.is_driver)
    opened_at = local.add(channel_name, user, batched=shared() and not at_once)
    elsewhere = []
    if shared() and at_once:
        elsewhere = await _add_at_once((channel_name, user.pk, user.is_driver, opened_at))
    return cap.over_cap(channel_name, local.sockets_of(user.pk) + elsewhere)


def forget(channel_name):
    """The synchronous part of a close, before any await (a clean-up cut short at shutdown
    still stops counting the socket). Returns what `closed` needs, or None."""
    return local.remove(channel_name)


async def closed(channel_name, forgotten):
    """The rest of a close: the shared entry removed; a driver whose last socket it was goes
    offline once their grace ends without a new one (at once with no grace, or when the server
    is not serving: shutting down, no timer would run)."""
    user_id, is_driver, remove_now = forgotten
    if remove_now:
        await db_call(shared_presence.add)([], [(channel_name, user_id)], SERVER_ID)
    if is_driver and user_id in local.unsettled_drivers:
        if settings.DRIVER_OFFLINE_GRACE_SECONDS <= 0 or not dispatch.serving():
            await settle_drivers([user_id])
        else:
            _settle_at(local.unsettled_drivers[user_id])


_settling = set()  # the tasks the grace timers started (a task nobody holds may be collected)


def _settle_at(due):
    """A timer on the loop: the drivers due by then are settled (settle_due) when it fires."""
    loop = asyncio.get_running_loop()

    def fire():
        task = loop.create_task(_settle_due_logged())
        _settling.add(task)
        task.add_done_callback(_settling.discard)

    loop.call_later(max(0.0, due - clock()), fire)


async def _settle_due_logged():
    try:
        await settle_due()
    except outages.UNREACHABLE as exc:
        outages.redis.failed("settling drivers", exc)  # kept: the heartbeat settles them
    except Exception:
        logger.exception("settling drivers whose grace ended failed")


async def settle_due(now=None):
    """The drivers whose grace ended by `now` (the clock's time): offline unless connected again."""
    now = clock() if now is None else now
    due = [driver_id for driver_id, at in local.unsettled_drivers.items() if at <= now]
    if due:
        await settle_drivers(due)


async def settle_drivers(driver_ids):
    """Drivers whose last socket here closed: offline unless connected elsewhere (or again here).
    The check is made again under each driver's row lock (take_offline): a socket that opened in
    the meantime, in this process or another, keeps them online."""
    for driver_id in driver_ids:
        local.unsettled_drivers.pop(driver_id, None)
    candidates = [d for d in driver_ids if d not in local.by_user]
    try:
        if shared() and candidates:
            elsewhere = await db_call(shared_presence.connected_elsewhere)(candidates, SERVER_ID)
            candidates = [d for d in candidates if str(d) not in elsewhere]
        if candidates:
            await db_call(take_offline)(candidates, still_connected=connected_now)
    except outages.UNREACHABLE:
        # The heartbeat settles them once Redis answers.
        local.unsettled_drivers.update({d: clock() for d in candidates if d not in local.by_user})
        raise


def connected_now(driver_id):
    """In a worker thread, under the driver's row lock: whether they have a socket now, here or
    (Redis mode) in any live process (this one writes its drivers' sockets at once)."""
    if driver_id in local.by_user:
        return True
    return shared() and str(driver_id) in shared_presence.connected_elsewhere([driver_id], server_id=None)


async def connected(user_ids):
    """Those of `user_ids` with an open socket: in this process, or (Redis mode) in any live one
    (realtime.push leaves them out: they hear the event on the socket)."""
    found = {user_id for user_id in user_ids if user_id in local.by_user}
    rest = [user_id for user_id in user_ids if user_id not in found]
    if shared() and rest:
        found |= await db_call(connected_anywhere)(rest)
    return found


def connected_anywhere(user_ids):
    """Redis mode, in a worker thread: those of `user_ids` with a socket in any live process
    (sockets of passengers who connected in the last PRESENCE_SYNC_SECONDS may not be written yet)."""
    anywhere = shared_presence.connected_elsewhere(user_ids, server_id=None)
    return {user_id for user_id in user_ids if str(user_id) in anywhere}


# --- database side ------------------------------------------------------------------------------


def take_offline(driver_ids, still_connected=None):
    """Drivers who lost their last connection stop being offered rides; returns who went offline.
    Each in its own transaction: holding one driver's row while waiting for the event log's id
    lock (held by a transaction that waits for that row) would deadlock. `still_connected(driver
    id)`, asked under the driver's row lock, keeps those who connected since they were checked
    (a `driver_online` of theirs takes the same lock, after their socket was counted)."""
    went_offline = []
    for driver in Driver.objects.filter(pk__in=driver_ids, is_online=True).select_related("user"):
        with transaction.atomic():
            locked = Driver.objects.select_for_update(no_key=True).filter(pk=driver.pk, is_online=True).exists()
            if not locked or (still_connected is not None and still_connected(driver.pk)):
                continue
            set_online(user=driver.user, online=False)
        went_offline.append(driver.pk)
    return went_offline


def accounts_gone(user_ids):
    """{user_id: reason} for those of `user_ids` deactivated ("account_disabled") or deleted
    ("account_deleted"): one query per ACCOUNT_CHECK_BATCH users."""
    gone = {}
    user_ids = list(user_ids)
    for start in range(0, len(user_ids), ACCOUNT_CHECK_BATCH):
        chunk = user_ids[start:start + ACCOUNT_CHECK_BATCH]
        known_ids = dict(get_user_model().objects.filter(pk__in=chunk).values_list("pk", "is_active"))
        for user_id in chunk:
            if user_id not in known_ids:
                gone[user_id] = "account_deleted"
            elif not known_ids[user_id]:
                gone[user_id] = "account_disabled"
    return gone


def sweep():
    """Redis mode: remove the sockets of dead processes and take their drivers offline (unless
    connected elsewhere). Returns (sockets removed, drivers who went offline)."""
    if not shared():
        return 0, []
    removed, drivers = shared_presence.sweep(SERVER_ID)
    return removed, take_offline(drivers, still_connected=connected_now) if drivers else []


class PresenceUnavailable(DomainError):
    """Redis mode: the figures live in Redis, and Redis does not answer (realtime.delivery.outages)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "presence_unavailable"

    def __init__(self):
        super().__init__(gettext_lazy("The connection figures are unavailable while Redis cannot be reached; try again shortly."))


def connection_figures():
    if shared():
        try:
            figures = shared_presence.figures()
        except outages.UNREACHABLE as exc:
            outages.redis.failed("ws/stats", exc)
            raise PresenceUnavailable() from None
        outages.redis.answered()
        return figures
    total, users, drivers = local.counts
    return {"total_connections": total, "connected_users": users, "connected_drivers": drivers,
            "server_processes": 1 if dispatch.serving() else 0}


def stats():
    """The figures of GET /api/v1/ws/stats: connections from presence, the rest from the database."""
    connections = connection_figures()
    return {
        "total_connections": connections["total_connections"],
        "online_drivers": Driver.objects.filter(is_online=True).count(),
        "active_rides": Ride.objects.filter(status__in=DRIVER_ACTIVE_STATUSES).count(),
        "pending_requests": Ride.objects.filter(status=RideStatus.REQUESTED).count(),
        "connected_users": connections["connected_users"],
        "connected_drivers": connections["connected_drivers"],
        "server_processes": connections["server_processes"],
    }


# --- on the loop: what realtime.serving.lifecycle runs periodically ------------------------------------


async def sync_now():
    """Redis mode: write the batched passenger sockets; close what the cap says is over."""
    adds, removes = local.take_unsynced()
    if not (adds or removes):
        return
    try:
        elsewhere = await db_call(shared_presence.add)(adds, removes, SERVER_ID)
    except Exception as exc:
        local.give_back(adds, removes)
        if not outages.redis_unreachable(exc):
            raise
        return outages.redis.failed("presence sync", exc)  # the next round writes them
    outages.redis.answered()
    for user_id in {user_id for _, user_id, _, _ in adds}:
        others = elsewhere.get(str(user_id), [])
        if others:
            newest = max(local.sockets_of(user_id), default=(0, None))[1]
            for channel_name in cap.over_cap(newest, local.sockets_of(user_id) + others):
                await dispatch.close_replaced(channel_name)


async def heartbeat():
    """Every PRESENCE_REFRESH_SECONDS: close the sockets of accounts deactivated or deleted
    where this process did not hear it (another process on the embedded in-process layer: a
    query for this process's users; with Redis every process hears it), settle
    drivers whose clean-up was cut short, and in the Redis mode refresh this process's entries
    and sweep dead processes. Returns {user_id: reason} of the accounts closed."""
    gone = {}
    if dispatch.layer_is_process_local():  # with Redis, every process hears the change itself
        gone = await db_call(accounts_gone)(list(local.by_user))
    for user_id, reason in gone.items():
        known.forget(user_id)
        await dispatch.send_control(user_id, dispatch.disconnect(reason))
    try:
        await settle_due()
        if shared():
            await db_call(shared_presence.heartbeat)(dict(local.open), SERVER_ID)
            await db_call(sweep)()
            outages.redis.answered()
    except outages.UNREACHABLE as exc:
        outages.redis.failed("presence heartbeat", exc)  # the next round tries again
    return gone


async def leave():
    """At shutdown: drivers still in their grace are settled now (no timer runs after this), and
    (Redis mode) this process's sockets stop counting at once."""
    if local.unsettled_drivers:
        try:
            await settle_drivers(list(local.unsettled_drivers))
        except outages.UNREACHABLE as exc:
            outages.redis.failed("settling drivers at shutdown", exc)
    if shared():
        await db_call(shared_presence.leave)(dict(local.open), SERVER_ID)
