"""Driver positions sent over the socket: relayed to the passenger at once, written to the
database in batches.

At a position per driver every few seconds, one UPDATE per message is the server's main cost;
here each process keeps the newest position per driver and writes them all every
LOCATION_FLUSH_SECONDS in one transaction (queryset updates: no signals, so no second event).
Matching and stats read the database, which is at most that far behind; a connection's first
position (or the first after LOCATION_WRITE_THROUGH_SECONDS) is written at once, so a driver who
just came online can be matched straight away. Positions sent over REST take the same way
(`report_from_rest`, one policy per driver); those saved by other code (the admin, the demo fleet)
are relayed and checked by `report_saved`.

A position carries the time it was recorded: the app's `recorded_at` when it sent one (a position
queued while offline), else the time it arrived. Newest wins everywhere: the write is conditional
on the stored recorded time (`Driver.location_recorded_at`) being older (in SQL, so it holds across
connections and processes), the batch keeps the newest per driver, and a connection relays nothing
older than the newest it knows (`Latest`, seeded with the stored time when it opened). How fresh a
position is for matching is the server's time of the write (`location_updated_at`), not the
phone's: a phone whose clock runs slow is still matched.
"""

import logging
import time

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from drivers.models import Driver
from realtime.delivery import dispatch
from rides.matching import active_assignment
from rideshare.kernel import db as kernel_db
from rideshare.kernel.db import db_call, request_call

from . import approach

logger = logging.getLogger(__name__)


class WriteThrough:
    """A connection's write policy: its first position, and the first after
    LOCATION_WRITE_THROUGH_SECONDS, is written at once (the driver may be matched right now);
    the others go in the next batch. `clock` is injectable for tests."""

    call = staticmethod(db_call)  # how a write at once reaches the database

    def __init__(self, interval_seconds=None, clock=time.monotonic):
        self.interval = settings.LOCATION_WRITE_THROUGH_SECONDS if interval_seconds is None else interval_seconds
        self.clock = clock
        self.written_at = None

    def due(self):
        """True if this position must be written now; then counts it as written."""
        now = self.clock()
        if self.written_at is None or now - self.written_at > self.interval:
            self.written_at = now
            return True
        return False


def stored_recorded_at(user):
    """The recorded time of a driver's stored position, from the user the handshake loaded (its
    driver row comes with it: no query). It may be a few seconds old (the handshake's user cache):
    then an older position is relayed once more, and still not stored (the write is conditional)."""
    driver = getattr(user, "driver", None)
    return None if driver is None else driver.location_recorded_at


class Latest:
    """The recorded time of the newest position of its driver that a connection knows: the stored
    one when it opened, then each it took. A position at or before it (queued while offline and sent
    after a newer one, or sent twice) is neither relayed nor stored."""

    __slots__ = ("recorded_at",)

    def __init__(self, recorded_at=None):
        self.recorded_at = recorded_at

    def is_newer(self, recorded_at):
        return self.recorded_at is None or recorded_at > self.recorded_at

    def took(self, recorded_at):
        """A position was relayed and stored: nothing older is taken from now on. (Only then: the
        resend of one that failed half-way is taken.)"""
        if self.is_newer(recorded_at):
            self.recorded_at = recorded_at


class PositionBuffer:
    """The newest position per driver since the last flush (touched only on the event loop)."""

    RECORDED_AT = 4  # in a pending tuple

    def __init__(self):
        self.pending = {}

    def put(self, driver_id, *, latitude, longitude, heading, speed, recorded_at):
        held = self.pending.get(driver_id)
        if held is None or held[self.RECORDED_AT] <= recorded_at:  # another connection's may be newer
            self.pending[driver_id] = (latitude, longitude, heading, speed, recorded_at)

    def discard(self, driver_id, older_than):
        """Forget the driver's pending position if it is older than `older_than` (written now)."""
        held = self.pending.get(driver_id)
        if held is not None and held[self.RECORDED_AT] < older_than:
            del self.pending[driver_id]

    def take(self):
        batch, self.pending = self.pending, {}
        return batch

    def give_back(self, batch):
        """A batch that could not be written; newer positions that came meanwhile win."""
        for driver_id, position in batch.items():
            self.pending.setdefault(driver_id, position)


buffer = PositionBuffer()


def write(batch):
    """One statement for the whole batch (executemany): the ORM's per-row update costs ~0.1 ms of
    Python each, which at hundreds of drivers a second holds the GIL long enough to delay the
    sockets' own traffic. Queryset-level: no signals, so no second event. A row whose stored
    position is as new or newer is left alone: whoever wrote it (another connection, process or
    path) had a newer one."""
    meta = Driver._meta
    columns = ("latitude", "longitude", "heading", "speed", "location_recorded_at", "location_updated_at")
    quote = connection.ops.quote_name
    recorded = quote(meta.get_field("location_recorded_at").column)
    sql = "UPDATE {} SET {} WHERE {} = %s AND ({} IS NULL OR {} < %s)".format(
        quote(meta.db_table),
        ", ".join(f"{quote(meta.get_field(c).column)} = %s" for c in columns),
        quote(meta.pk.column),
        recorded,
        recorded,
    )
    pk_field = meta.pk.target_field
    adapt_datetime = connection.ops.adapt_datetimefield_value
    written_at = adapt_datetime(timezone.now())
    rows = []
    for driver_id, (latitude, longitude, heading, speed, recorded_at) in batch.items():
        at = adapt_datetime(recorded_at)
        rows.append(
            (latitude, longitude, heading, speed, at, written_at, pk_field.get_db_prep_value(driver_id, connection), at)
        )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def stamp(location):
    """A position from the app (a `wire.LocationUpdate` or the REST body), stamped with its
    `recorded_at` (the socket's, checked by realtime.protocol.wire) or else now."""
    recorded_at = getattr(location, "recorded_at", None)
    return {"latitude": location.latitude, "longitude": location.longitude, "heading": location.heading,
            "speed": location.speed, "recorded_at": timezone.now() if recorded_at is None else recorded_at}


async def store(driver_id, policy, position):
    """A stamped position: written at once when the connection's policy says so, else kept for
    the next flush (a newer one for the same driver replaces it)."""
    if policy.due():
        buffer.discard(driver_id, older_than=position["recorded_at"])
        await policy.call(write)({driver_id: tuple(position.values())})
    else:
        buffer.put(driver_id, **position)


async def report(driver_id, assignment, policy, position):
    """The socket's hot path (every few seconds per driver), for a stamped position newer than the
    connection's last: relayed to the passenger of the active ride at once, stored (`store`), then
    the approach checked (realtime.connections.approach, one query per ride). Relayed first: the
    passenger's view never waits on a database commit (a write-through waits for PostgreSQL's WAL
    flush, tens of milliseconds on a busy machine). Distance and ETA come from `assignment` (the
    connection's, in memory). Returns the assignment to keep: `assignment`, or the one the
    approach check decided."""
    if assignment is not None:
        await dispatch.send_position(driver_id, assignment, **position)
    await store(driver_id, policy, position)
    if assignment is not None and assignment.approach_unannounced:
        return await approach.announce_if_close(driver_id, assignment, position)
    return assignment


class DriverPolicies:
    """One `WriteThrough` per driver reporting over REST in this process (the socket keeps one
    per connection). Bounded: past `limit` drivers, those whose next position would be written at
    once anyway are forgotten, then the oldest half."""

    def __init__(self, limit=50_000):
        self.limit = limit
        self.policies = {}

    def get(self, driver_id):
        policy = self.policies.get(driver_id)
        if policy is None:
            if len(self.policies) >= self.limit:
                self._forget_due()
            policy = self.policies[driver_id] = WriteThrough()
        return policy

    def _forget_due(self):
        now = None
        for driver_id, policy in list(self.policies.items()):
            now = policy.clock() if now is None else now
            if policy.written_at is None or now - policy.written_at > policy.interval:
                del self.policies[driver_id]
        if len(self.policies) >= self.limit:  # all recent: drop the oldest half
            for driver_id in sorted(self.policies, key=lambda d: self.policies[d].written_at)[: self.limit // 2]:
                del self.policies[driver_id]


class AtOnce:
    """The policy where nothing in this process flushes the batch (no server lifecycle: Django's
    test client, a WSGI server, uvicorn --lifespan off): every position is written at once, on
    the request's own connection (rideshare.kernel.db.request_call)."""

    call = staticmethod(request_call)

    def due(self):
        return True


rest_policies = DriverPolicies()


async def report_from_rest(sender, driver, position, **kwargs):
    """drivers.signals.position_reported (connected in realtime.apps): a position sent over REST
    takes the socket's way (`report`), measured against the driver's active ride (one query)."""
    assignment = await request_call(active_assignment)(driver.pk)
    policy = rest_policies.get(driver.pk) if kernel_db.serving else AtOnce()
    await report(driver.pk, assignment, policy, position)


async def flush():
    """Write the buffered positions (realtime.serving.lifecycle runs this every LOCATION_FLUSH_SECONDS)."""
    batch = buffer.take()
    if not batch:
        return
    try:
        await db_call(write)(batch)
    except Exception:
        logger.exception("writing %d driver positions failed; keeping them for the next round", len(batch))
        buffer.give_back(batch)
