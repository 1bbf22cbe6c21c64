"""Who is connected, shared by every server process through the database.

Each socket is a `Connection` row. Its process refreshes `last_seen` for all its rows in one
query every PRESENCE_REFRESH_SECONDS; rows older than PRESENCE_TTL_SECONDS belong to a process
that died without running `disconnect`, do not count, and are swept (their drivers go offline).
"""

import logging
import os
import socket
import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from drivers.models import Driver
from drivers.services import set_online
from rides.models import DRIVER_ACTIVE_STATUSES, Ride, RideStatus

from . import dispatch
from .db import db_call
from .models import Connection

logger = logging.getLogger(__name__)

SERVER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _fresh_since():
    return timezone.now() - timedelta(seconds=settings.PRESENCE_TTL_SECONDS)


def fresh_connections():
    return Connection.objects.filter(last_seen__gte=_fresh_since())


class LocalSockets:
    """This process's open sockets, touched only on the event loop (the consumer's connect and
    disconnect, the periodic sync): database threads get snapshots, never this object.

    Passengers' rows are written in batches (every PRESENCE_SYNC_SECONDS): a reconnect storm of
    thousands of sockets then costs a few bulk statements, not a write transaction per socket.
    Drivers' rows are written at once: whether a driver is still connected decides matching.
    """

    def __init__(self):
        self.open = {}  # channel name -> (user id, is_driver); rows are rebuilt from it
        self.by_user = {}  # user id -> {channel name: opened at}: the connection cap's view
        self.unsynced_adds = set()
        self.unsynced_removes = set()

    def opened(self, channel_name, user):
        """Record a new socket; True when its row must be written now (else it goes in a batch)."""
        self.open[channel_name] = (user.pk, user.is_driver)
        self.by_user.setdefault(user.pk, {})[channel_name] = timezone.now()
        if written_at_once(user):
            self.unsynced_removes.discard(channel_name)
            return True
        self.unsynced_adds.add(channel_name)
        return False

    def closed(self, channel_name):
        """Stop counting a socket (first thing on disconnect, before any await, so a disconnect
        cut short at shutdown or under load leaves no row kept alive forever). True when its row
        must be removed now; a batched row is removed with the next batch."""
        entry = self.open.pop(channel_name, None)
        if entry is not None:
            sockets = self.by_user.get(entry[0], {})
            sockets.pop(channel_name, None)
            if not sockets:
                self.by_user.pop(entry[0], None)
        if channel_name in self.unsynced_adds:
            self.unsynced_adds.discard(channel_name)  # never written: nothing to remove
            return False
        if entry is None:
            return False
        user_id, is_driver = entry
        if is_driver or not settings.PRESENCE_SYNC_SECONDS:
            return True
        self.unsynced_removes.add(channel_name)
        return False

    def opened_at(self, channel_name):
        user_id, _ = self.open[channel_name]
        return self.by_user[user_id][channel_name]

    def sockets_of(self, user_id):
        """[(opened at, channel name)] of the user's sockets in this process, written or not."""
        return [(opened_at, name) for name, opened_at in self.by_user.get(user_id, {}).items()]

    def take_unsynced(self):
        """The batch to write, leaving empty sets for what comes next."""
        adds = [(name, *self.open[name], self.opened_at(name)) for name in self.unsynced_adds if name in self.open]
        removes = list(self.unsynced_removes)
        self.unsynced_adds.clear()
        self.unsynced_removes.clear()
        return adds, removes

    def give_back(self, adds, removes):
        """A batch that could not be written goes into the next one."""
        self.unsynced_adds.update(name for name, *_ in adds)
        self.unsynced_removes.update(removes)


local = LocalSockets()


def written_at_once(user):
    """Whether this user's presence rows are written (and removed) at once rather than batched."""
    return user.is_driver or not settings.PRESENCE_SYNC_SECONDS


# --- database side (run in database threads, on plain values) -----------------------------------


def write_row(channel_name, user_id, is_driver, server_id=SERVER_ID):
    Connection.objects.update_or_create(
        channel_name=channel_name,
        defaults={"user_id": user_id, "is_driver": is_driver, "server_id": server_id, "last_seen": timezone.now()},
    )


def remove_row(channel_name, user_id, is_driver):
    """A socket closed: its row goes; a driver with no connection left goes offline."""
    with transaction.atomic():
        Connection.objects.filter(channel_name=channel_name).delete()
        if is_driver:
            _offline_if_unconnected([user_id])


def write_batch(adds, removes, server_id=SERVER_ID):
    now = timezone.now()
    with transaction.atomic():
        if removes:
            Connection.objects.filter(channel_name__in=removes).delete()
        Connection.objects.bulk_create(
            [
                Connection(
                    channel_name=name, user_id=user_id, is_driver=is_driver, server_id=server_id,
                    connected_at=opened_at, last_seen=now,
                )
                for name, user_id, is_driver, opened_at in adds
            ],
            ignore_conflicts=True,
        )


def other_processes_sockets(user_id, server_id=SERVER_ID):
    """[(connected_at, channel name)] of the user's live sockets in other server processes."""
    rows = fresh_connections().filter(user_id=user_id).exclude(server_id=server_id)
    return list(rows.values_list("connected_at", "channel_name"))


def _offline_if_unconnected(user_ids):
    """Drivers among `user_ids` with no live connection left stop being offered rides."""
    connected = set(fresh_connections().filter(user_id__in=user_ids).values_list("user_id", flat=True))
    went_offline = []
    for driver in Driver.objects.filter(pk__in=set(user_ids) - connected, is_online=True).select_related("user"):
        set_online(user=driver.user, online=False)
        went_offline.append(driver.pk)
    return went_offline


def refresh(open_sockets, server_id=SERVER_ID):
    """Mark this process's sockets (`open_sockets`, a snapshot taken on the loop) as alive:
    recreate rows swept while it stalled, remove rows of sockets it no longer has (a disconnect
    whose clean-up never ran).

    Returns {user_id: reason} for the users of these sockets whose account was deactivated
    ("account_disabled") or deleted ("account_deleted") meanwhile, maybe by another process whose
    disconnect never reached this one (an in-process channel layer): the caller closes their
    sockets. Rows are never recreated for them (a deleted user's row would break the foreign key).
    """
    now = timezone.now()
    mine = Connection.objects.filter(server_id=server_id)
    refreshed = mine.update(last_seen=now)
    gone = dict.fromkeys(mine.filter(user__is_active=False).values_list("user_id", flat=True), "account_disabled")
    if refreshed != len(open_sockets):
        ghosts = mine.exclude(channel_name__in=list(open_sockets))
        ghost_drivers = list(ghosts.filter(is_driver=True).values_list("user_id", flat=True))
        ghosts.delete()
        present = set(mine.values_list("channel_name", flat=True))
        missing = {name: entry for name, entry in open_sockets.items() if name not in present}
        users = {user_id for user_id, _ in missing.values()}
        known = dict(get_user_model().objects.filter(pk__in=users).values_list("pk", "is_active"))
        for user_id in users:
            if user_id not in known:
                gone[user_id] = "account_deleted"
            elif not known[user_id]:
                gone[user_id] = "account_disabled"
        Connection.objects.bulk_create(
            [
                Connection(channel_name=name, user_id=user_id, is_driver=is_driver, server_id=server_id, last_seen=now)
                for name, (user_id, is_driver) in missing.items()
                if user_id not in gone
            ],
            ignore_conflicts=True,
        )
        _offline_if_unconnected(ghost_drivers)
    return gone


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


# --- on the loop: what realtime.lifecycle runs periodically ------------------------------------


async def sync_now():
    """Write the batched passenger rows."""
    adds, removes = local.take_unsynced()
    if not (adds or removes):
        return
    try:
        await db_call(write_batch)(adds, removes)
    except Exception:
        local.give_back(adds, removes)
        raise


async def refresh_now():
    """The heartbeat; sockets of accounts deactivated or deleted elsewhere are closed (4003)."""
    gone = await db_call(refresh)(dict(local.open))
    for user_id, reason in gone.items():
        await dispatch.send_control(user_id, dispatch.disconnect(reason))
    return gone
