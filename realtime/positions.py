"""Driver positions sent over the socket: relayed to the passenger at once, written to the
database in batches.

At a position per driver every few seconds, one UPDATE per message is the server's main cost;
here each process keeps the newest position per driver and writes them all every
LOCATION_FLUSH_SECONDS in one transaction (queryset updates: no signals, so no second event).
Matching and stats read the database, which is at most that far behind; a connection's first
position (or the first after LOCATION_WRITE_THROUGH_SECONDS) is written at once, so a driver who
just came online can be matched straight away. Positions sent over REST are saved at once.
"""

import asyncio
import logging
import weakref

from django.conf import settings
from django.db import connection, transaction

from drivers.models import Driver

from .db import db_call

logger = logging.getLogger(__name__)


def row(latitude, longitude, heading, speed, recorded_at):
    return (latitude, longitude, heading, speed, recorded_at)


class PositionBuffer:
    def __init__(self):
        self.pending = {}

    def put(self, driver_id, **position):
        self.pending[driver_id] = row(**position)

    def discard(self, driver_id):
        self.pending.pop(driver_id, None)

    def take(self):
        batch, self.pending = self.pending, {}
        return batch


def write(batch):
    """One statement for the whole batch (executemany): the ORM's per-row update costs ~0.1 ms of
    Python each, which at hundreds of drivers a second holds the GIL long enough to delay the
    sockets' own traffic."""
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


_buffers = weakref.WeakKeyDictionary()  # event loop -> (buffer, flush task)


async def _flush_forever(buffer):
    while True:
        await asyncio.sleep(settings.LOCATION_FLUSH_SECONDS)
        await flush(buffer)


async def flush(buffer):
    batch = buffer.take()
    if not batch:
        return
    try:
        await db_call(write)(batch)
    except Exception:
        logger.exception("writing %d driver positions failed; keeping them for the next round", len(batch))
        for driver_id, position in batch.items():
            buffer.pending.setdefault(driver_id, position)


def buffer_for_this_loop():
    """The process's buffer (one per event loop), with its flush task running."""
    loop = asyncio.get_running_loop()
    entry = _buffers.get(loop)
    if entry is None or entry[1].done():
        buffer = entry[0] if entry else PositionBuffer()
        entry = (buffer, loop.create_task(_flush_forever(buffer), name="position-writer"))
        _buffers[loop] = entry
    return entry[0]
