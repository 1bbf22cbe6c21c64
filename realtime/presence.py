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

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from drivers.models import Driver
from drivers.services import set_online
from rides.models import DRIVER_ACTIVE_STATUSES, Ride, RideStatus

from .models import Connection

logger = logging.getLogger(__name__)

SERVER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _fresh_since():
    return timezone.now() - timedelta(seconds=settings.PRESENCE_TTL_SECONDS)


def fresh_connections():
    return Connection.objects.filter(last_seen__gte=_fresh_since())


def register(channel_name, user):
    Connection.objects.update_or_create(
        channel_name=channel_name,
        defaults={"user": user, "is_driver": user.is_driver, "server_id": SERVER_ID, "last_seen": timezone.now()},
    )


def _offline_if_unconnected(user_ids):
    """Drivers among `user_ids` with no live connection left stop being offered rides."""
    connected = set(fresh_connections().filter(user_id__in=user_ids).values_list("user_id", flat=True))
    went_offline = []
    for driver in Driver.objects.filter(pk__in=set(user_ids) - connected, is_online=True).select_related("user"):
        set_online(user=driver.user, online=False)
        went_offline.append(driver.pk)
    return went_offline


@transaction.atomic
def unregister(channel_name, user):
    Connection.objects.filter(channel_name=channel_name).delete()
    if user.is_driver:
        _offline_if_unconnected([user.pk])


def refresh(server_id=SERVER_ID):
    return Connection.objects.filter(server_id=server_id).update(last_seen=timezone.now())


@transaction.atomic
def sweep():
    """Remove connections whose process stopped refreshing them; returns (removed, drivers_offline)."""
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


# --- the per-process heartbeat --------------------------------------------------------------

_heartbeats = weakref.WeakKeyDictionary()


async def _heartbeat():
    while True:
        await asyncio.sleep(settings.PRESENCE_REFRESH_SECONDS)
        try:
            await database_sync_to_async(refresh)()
            await database_sync_to_async(sweep)()
        except Exception:  # the database may be briefly away; presence catches up next round
            logger.exception("presence heartbeat failed")


def ensure_heartbeat():
    """Start this event loop's heartbeat task once (called on each connect)."""
    loop = asyncio.get_running_loop()
    task = _heartbeats.get(loop)
    if task is None or task.done():
        _heartbeats[loop] = loop.create_task(_heartbeat(), name="presence-heartbeat")
