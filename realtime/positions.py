"""Driver positions sent over the socket: relayed to the passenger at once, written to the
database in batches.

At a position per driver every few seconds, one UPDATE per message is the server's main cost;
here each process keeps the newest position per driver and writes them all every
LOCATION_FLUSH_SECONDS in one transaction (queryset updates: no signals, so no second event).
Matching and stats read the database, which is at most that far behind; a connection's first
position (or the first after LOCATION_WRITE_THROUGH_SECONDS) is written at once, so a driver who
just came online can be matched straight away. Positions sent over REST take the same way when
realtime/rest.py answers them (one policy per driver); those the DRF view answers are saved at once.
"""

import logging
import time

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from drivers.models import Driver

from .db import db_call

logger = logging.getLogger(__name__)


class WriteThrough:
    """A connection's write policy: its first position, and the first after
    LOCATION_WRITE_THROUGH_SECONDS, is written at once (the driver may be matched right now);
    the others go in the next batch. `clock` is injectable for tests."""

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


class PositionBuffer:
    """The newest position per driver since the last flush (touched only on the event loop)."""

    def __init__(self):
        self.pending = {}

    def put(self, driver_id, *, latitude, longitude, heading, speed, recorded_at):
        self.pending[driver_id] = (latitude, longitude, heading, speed, recorded_at)

    def discard(self, driver_id):
        self.pending.pop(driver_id, None)

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
    sockets' own traffic. Queryset-level: no signals, so no second event."""
    meta = Driver._meta
    columns = ("latitude", "longitude", "heading", "speed", "location_updated_at")
    quote = connection.ops.quote_name
    sql = "UPDATE {} SET {} WHERE {} = %s".format(
        quote(meta.db_table),
        ", ".join(f"{quote(meta.get_field(c).column)} = %s" for c in columns),
        quote(meta.pk.column),
    )
    pk_field = meta.pk.target_field
    adapt_datetime = connection.ops.adapt_datetimefield_value
    rows = [
        (latitude, longitude, heading, speed, adapt_datetime(recorded_at), pk_field.get_db_prep_value(driver_id, connection))
        for driver_id, (latitude, longitude, heading, speed, recorded_at) in batch.items()
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def stamp(location):
    """A position from the app (a `wire.LocationUpdate` or the REST body), stamped now."""
    return {"latitude": location.latitude, "longitude": location.longitude, "heading": location.heading,
            "speed": location.speed, "recorded_at": timezone.now()}


async def store(driver_id, policy, position):
    """A stamped position: written at once when the connection's policy says so, else kept for
    the next flush (a newer one for the same driver replaces it)."""
    if policy.due():
        buffer.discard(driver_id)
        await db_call(write)({driver_id: tuple(position.values())})
    else:
        buffer.put(driver_id, **position)


async def flush():
    """Write the buffered positions (realtime.lifecycle runs this every LOCATION_FLUSH_SECONDS)."""
    batch = buffer.take()
    if not batch:
        return
    try:
        await db_call(write)(batch)
    except Exception:
        logger.exception("writing %d driver positions failed; keeping them for the next round", len(batch))
        buffer.give_back(batch)
