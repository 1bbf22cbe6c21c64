"""Who is connected, shared by every server process through the database.

Each socket is a `Connection` row. Its process refreshes `last_seen` for all its rows in one
query every PRESENCE_REFRESH_SECONDS; rows older than PRESENCE_TTL_SECONDS belong to a process
that died without running `disconnect`, do not count, and are swept (their drivers go offline).
"""

import asyncio
import logging
import os
import socket
import uuid
import weakref
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from drivers.models import Driver
from drivers.services import set_online
from rides.models import DRIVER_ACTIVE_STATUSES, Ride, RideStatus

from . import eventlog
from .db import db_call
from .models import Connection

logger = logging.getLogger(__name__)

SERVER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _fresh_since():
    return timezone.now() - timedelta(seconds=settings.PRESENCE_TTL_SECONDS)


def fresh_connections():
    return Connection.objects.filter(last_seen__gte=_fresh_since())


# This process's open sockets: channel name -> (user id, is_driver). The rows are rebuilt from it
# when a stall (a blocked loop, a database outage) let another process sweep them.
_local = {}
# Passengers' rows are written in batches (every PRESENCE_SYNC_SECONDS): a reconnect storm of
# thousands of sockets then costs a few bulk statements, not a write transaction per socket.
# Drivers' rows are written at once: whether a driver is still connected decides matching.
_unsynced_adds = set()
_unsynced_removes = set()


def written_at_once(user):
    """Whether this user's presence rows are written (and removed) at once rather than batched."""
    return user.is_driver or not settings.PRESENCE_SYNC_SECONDS


def register(channel_name, user):
    _local[channel_name] = (user.pk, user.is_driver)
    if written_at_once(user):
        Connection.objects.update_or_create(
            channel_name=channel_name,
            defaults={"user": user, "is_driver": user.is_driver, "server_id": SERVER_ID, "last_seen": timezone.now()},
        )
    else:
        _unsynced_adds.add(channel_name)


def _take_unsynced():
    """Called on the event loop: the batch to write, leaving empty sets for what comes next."""
    adds = [(name, *_local[name]) for name in _unsynced_adds if name in _local]
    removes = list(_unsynced_removes)
    _unsynced_adds.clear()
    _unsynced_removes.clear()
    return adds, removes


def write_batch(adds, removes):
    now = timezone.now()
    with transaction.atomic():
        if removes:
            Connection.objects.filter(channel_name__in=removes).delete()
        Connection.objects.bulk_create(
            [
                Connection(channel_name=name, user_id=user_id, is_driver=is_driver, server_id=SERVER_ID, last_seen=now)
                for name, user_id, is_driver in adds
            ],
            ignore_conflicts=True,
        )


async def sync_now():
    adds, removes = _take_unsynced()
    if not (adds or removes):
        return
    try:
        await db_call(write_batch)(adds, removes)
    except Exception:
        _unsynced_adds.update(name for name, *_ in adds)
        _unsynced_removes.update(removes)
        raise


def _offline_if_unconnected(user_ids):
    """Drivers among `user_ids` with no live connection left stop being offered rides."""
    connected = set(fresh_connections().filter(user_id__in=user_ids).values_list("user_id", flat=True))
    went_offline = []
    for driver in Driver.objects.filter(pk__in=set(user_ids) - connected, is_online=True).select_related("user"):
        set_online(user=driver.user, online=False)
        went_offline.append(driver.pk)
    return went_offline


def unregister(channel_name, user):
    forget(channel_name)
    if written_at_once(user):
        with transaction.atomic():
            _unsynced_removes.discard(channel_name)
            Connection.objects.filter(channel_name=channel_name).delete()
            if user.is_driver:
                _offline_if_unconnected([user.pk])


def forget(channel_name):
    """Stop refreshing a socket's row (called first thing on disconnect, before any await, so a
    disconnect handler cut short at shutdown or under load leaves no row kept alive forever)."""
    entry = _local.pop(channel_name, None)
    if channel_name in _unsynced_adds:
        _unsynced_adds.discard(channel_name)  # never written: nothing to remove
    elif entry is not None:
        _unsynced_removes.add(channel_name)


def refresh(server_id=SERVER_ID):
    """Mark this process's sockets as alive: recreate rows swept while it stalled, and remove rows
    of sockets it no longer has (a disconnect whose clean-up never ran)."""
    now = timezone.now()
    refreshed = Connection.objects.filter(server_id=server_id).update(last_seen=now)
    if refreshed != len(_local):
        ghosts = Connection.objects.filter(server_id=server_id).exclude(channel_name__in=list(_local))
        ghost_drivers = list(ghosts.filter(is_driver=True).values_list("user_id", flat=True))
        ghosts.delete()
        Connection.objects.bulk_create(
            [
                Connection(channel_name=name, user_id=user_id, is_driver=is_driver, server_id=server_id, last_seen=now)
                for name, (user_id, is_driver) in list(_local.items())
            ],
            ignore_conflicts=True,
        )
        _offline_if_unconnected(ghost_drivers)
    return len(_local)


def sweep():
    """Remove connections whose process stopped refreshing them; returns (removed, drivers_offline).

    Each driver goes offline in its own transaction: holding one driver's row while waiting for
    the event log's id lock (held by a transaction that waits for that row) would deadlock."""
    stale = Connection.objects.filter(last_seen__lt=_fresh_since())
    driver_ids = list(stale.filter(is_driver=True).values_list("user_id", flat=True).distinct())
    removed, _ = stale.delete()
    return removed, _offline_if_unconnected(driver_ids)


def stats():
    live = fresh_connections()
    return {
        "total_connections": live.count(),
        "online_drivers": Driver.objects.filter(is_online=True).count(),
        "active_rides": Ride.objects.filter(status__in=DRIVER_ACTIVE_STATUSES).count(),
        "pending_requests": Ride.objects.filter(status=RideStatus.REQUESTED).count(),
        "connected_users": live.values("user_id").distinct().count(),
        "connected_drivers": live.filter(is_driver=True).values("user_id").distinct().count(),
        "server_processes": live.values("server_id").distinct().count(),
    }


# --- per-process background work ------------------------------------------------------------

_background = weakref.WeakKeyDictionary()


async def _every(seconds, *jobs):
    while True:
        await asyncio.sleep(seconds)
        for job in jobs:
            try:
                await db_call(job)()
            except Exception:  # the database or Redis may be briefly away; next round catches up
                logger.exception("background job %s failed", job.__name__)


async def _sync_forever():
    while True:
        await asyncio.sleep(settings.PRESENCE_SYNC_SECONDS or 1)
        try:
            await sync_now()
        except Exception:
            logger.exception("writing presence failed; retrying next round")


def ensure_background_tasks():
    """Start this event loop's periodic jobs once (called on each connect): presence heartbeat
    and sweep, the outbox relay, and event-log retention."""
    loop = asyncio.get_running_loop()
    tasks = _background.get(loop)
    if tasks and not any(task.done() for task in tasks):
        return
    _background[loop] = [
        loop.create_task(_sync_forever(), name="presence-sync"),
        loop.create_task(_every(settings.PRESENCE_REFRESH_SECONDS, refresh, sweep), name="presence"),
        loop.create_task(_every(settings.EVENT_RELAY_INTERVAL_SECONDS, eventlog.republish_unpublished), name="relay"),
        loop.create_task(_every(600, eventlog.purge_expired), name="event-retention"),
    ]
