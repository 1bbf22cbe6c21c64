"""Reliable events: recorded in the transaction that caused them, delivered after commit,
republished if that delivery never happened, and replayed to apps that resume.

Ids are handed out in commit order: on PostgreSQL every event-writing transaction takes one
advisory lock before it draws an id and holds it until it commits; SQLite write transactions are
serial already (BEGIN IMMEDIATE). So once a client has seen id N, every event below N that it
should see is committed and in the log, and "replay everything above N" never leaves a gap.
"""

import asyncio
import json
import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.dispatch import Signal
from django.utils import timezone

from realtime.models import Event, EventLogState, EventRecipient
from rideshare.kernel.db import db_call, kept_connection_call

from . import dispatch, events
from .groups import ride_group_name

logger = logging.getLogger(__name__)

# Sent by record_each inside the transaction that logs the events: `events` (realtime.models.Event)
# and `recipients`, the user ids of each. What a receiver writes commits or rolls back with them
# (realtime.push fills its outbox so); a receiver that raises fails the change, as a failed log does.
events_recorded = Signal()

_ID_LOCK_KEY = 0x52494445  # any constant shared by all processes


def _serialize_id_assignment():
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ID_LOCK_KEY])


def record(message, *, user_ids, ride_id=None, observers=False):
    """Log `message` (an envelope from realtime.delivery.events) for `user_ids` and publish it on commit.

    With `observers`, staff who joined the ride's group hear it too (live only, never replayed).
    """
    recorded = record_each([(message, user_ids)], ride_id=ride_id, observers=observers)
    return recorded[0] if recorded else None


def record_each(messages, *, ride_id=None, observers=False):
    """Log several events of one ride at once, each `(message, user_ids)`, in this order, and
    publish them on commit: a handful of queries whatever their number (an offer wave is one
    event per driver, each with its own distance; one INSERT and one UPDATE per event held the
    dispatcher and every other writer back). Returns the events logged (none for no recipients)."""
    messages = [(message, list(dict.fromkeys(user_ids))) for message, user_ids in messages]
    messages = [(message, user_ids) for message, user_ids in messages if user_ids]
    if not messages:
        return []
    everyone = list(dict.fromkeys(u for _, user_ids in messages for u in user_ids))
    # No savepoint of its own: an event that cannot be logged fails the change that caused it.
    with transaction.atomic(savepoint=False):
        _serialize_id_assignment()
        logged = Event.objects.bulk_create(
            [Event(type=message["type"], ride_id=ride_id, text="") for message, _ in messages]
        )
        for event, (message, _) in zip(logged, messages):
            event.text = events.encode({"id": event.id, **message})
        Event.objects.bulk_update(logged, ["text"])
        previous = dict(
            EventRecipient.objects.filter(user_id__in=everyone).values_list("user_id").annotate(last=Max("event_id"))
        )
        recipients, published = [], []
        for event, (_, user_ids) in zip(logged, messages):
            deliveries = []
            for u in user_ids:
                recipients.append(EventRecipient(event=event, user_id=u, prev_event_id=previous.get(u)))
                deliveries.append((u, previous.get(u)))
                previous[u] = event.id  # a user's next event in this batch follows this one
            published.append((event, deliveries))
        EventRecipient.objects.bulk_create(recipients)
        events_recorded.send(sender=Event, events=logged, recipients=[user_ids for _, user_ids in messages])
    groups = [ride_group_name(ride_id)] if observers and ride_id else []

    def publish_committed_event():  # a named function: robust on_commit logs its __qualname__
        for event, deliveries in published:
            publish(event, deliveries, groups)

    transaction.on_commit(publish_committed_event, robust=True)
    return logged


def publish(event, deliveries, groups, committed_at=None):
    """Hand one committed event to the dispatcher (sync code: it does not wait for the send)."""
    committed_at = time.time() if committed_at is None else committed_at
    dispatch.soon(send_committed, event.pk, event.type, event.text, deliveries, groups, committed_at)
    return True


async def send_committed(event_id, event_type, text, deliveries, groups, committed_at):
    """Send one event just committed. On the server's loop it is marked published with the others
    sent meanwhile, in one UPDATE (`published_marks`): one write transaction per event held every
    other writer back (an offer wave is one event per driver). Elsewhere it is marked before this
    returns. Left unpublished, the relay sends it again (consumers drop what they delivered)."""
    if not await dispatch.send_reliable(event_id, event_type, text, deliveries, groups, committed_at):
        return False
    if dispatch.serving():
        published_marks.add(event_id)
    else:
        await db_call(mark_published)([event_id])
    return True


MARK_BATCH = 500  # ids per UPDATE (under SQLite's parameter limit)


def mark_published(event_ids):
    for start in range(0, len(event_ids), MARK_BATCH):
        chunk = event_ids[start : start + MARK_BATCH]
        Event.objects.filter(pk__in=chunk, published_at__isnull=True).update(published_at=timezone.now())


class PublishedMarks:
    """Events sent on the server's loop, marked published by one UPDATE for all those sent while
    the previous UPDATE ran. Touched only on the loop; `flush` at shutdown (realtime.serving.lifecycle)."""

    def __init__(self):
        self.pending = []
        self.loop = None
        self.writer = None

    def add(self, event_id):
        loop = asyncio.get_running_loop()
        if loop is not self.loop:  # a new server loop (tests run one per test): nothing carries over
            self.loop, self.pending, self.writer = loop, [], None
        self.pending.append(event_id)
        if self.writer is None:
            self.writer = loop.create_task(self._write(), name="published-marks")

    async def _write(self):
        try:
            while self.pending:
                batch, self.pending = self.pending, []
                try:
                    await kept_connection_call(mark_published)(batch)
                except Exception:  # the relay sends them again; consumers drop duplicates
                    logger.exception("marking %d events published failed", len(batch))
        finally:
            self.writer = None

    async def flush(self):
        """Write what is pending (the server is stopping)."""
        writer = self.writer
        if writer is not None and self.loop is asyncio.get_running_loop():
            await writer


published_marks = PublishedMarks()


def unpublished(*, older_than_seconds=None, limit=500):
    """The outbox: committed events whose own publish never happened (the process died, or the
    channel layer was down), with their deliveries: [(event, deliveries, groups)], oldest first."""
    grace = settings.EVENT_RELAY_GRACE_SECONDS if older_than_seconds is None else older_than_seconds
    cutoff = timezone.now() - timedelta(seconds=grace)
    batch = list(Event.objects.filter(published_at__isnull=True, created_at__lt=cutoff).order_by("id")[:limit])
    recipients = {}
    for event_id, user_id, prev in EventRecipient.objects.filter(event__in=batch).values_list(
        "event_id", "user_id", "prev_event_id"
    ):
        recipients.setdefault(event_id, []).append((user_id, prev))
    return [
        (event, recipients.get(event.pk, []), [ride_group_name(event.ride_id)] if event.ride_id else [])
        for event in batch
    ]


async def relay_once(**kwargs):
    """One round of the outbox relay, on the loop (realtime.serving.lifecycle runs it periodically).
    Several processes may republish the same event; every connection delivers an id once.
    What was sent is marked published in one UPDATE at the end of the round."""
    sent = []
    for event, deliveries, groups in await db_call(unpublished)(**kwargs):
        if await dispatch.send_reliable(event.pk, event.type, event.text, deliveries, groups,
                                        event.created_at.timestamp()):
            sent.append(event.pk)
    if sent:
        await db_call(mark_published)(sent)
    return len(sent)


# --- reading the log ------------------------------------------------------------------------


def latest_event_ids(user_ids):
    """{user_id: newest event id} for those of `user_ids` with any event (one query)."""
    rows = EventRecipient.objects.filter(user_id__in=user_ids).values_list("user_id").annotate(last=Max("event_id"))
    return dict(rows)


def events_after(user_id, after_id, limit=None):
    """(id, type, text) of the user's events above `after_id`, in order."""
    rows = (
        Event.objects.filter(recipients__user_id=user_id, id__gt=after_id)
        .order_by("id")
        .values_list("id", "type", "text")
    )
    return list(rows[:limit] if limit else rows)


def log_bounds():
    """(purged_through, newest id issued): the ids a resume may start from lie between them."""
    state = EventLogState.objects.filter(pk=1).first()
    purged_through = state.purged_through if state else 0
    return purged_through, max(Event.objects.aggregate(last=Max("id"))["last"] or 0, purged_through)


def resume_problem(after_id, bounds=None):
    """Why the log cannot replay from `after_id` (a resync reason), or None if it can."""
    purged_through, newest = log_bounds() if bounds is None else bounds
    if after_id < 0 or after_id > newest:
        return "unknown_event_id"
    if after_id < purged_through:
        return "too_old"
    return None


def ride_timeline_entries(ride_id, *, for_user=None):
    """The ride's logged events as sent (envelope with id), oldest first.

    For staff (`for_user` None) every event, with the user ids it went to; for a participant only
    the events addressed to them (offers to other drivers are not theirs to see)."""
    timeline = Event.objects.filter(ride_id=ride_id).order_by("id")
    if for_user is not None:
        return [json.loads(text) for text in timeline.filter(recipients__user=for_user).values_list("text", flat=True)]
    return [
        {**json.loads(event.text), "recipients": [str(r.user_id) for r in event.recipients.all()]}
        for event in timeline.prefetch_related("recipients")
    ]


@transaction.atomic
def purge_expired(*, retention_seconds=None):
    """Delete events older than the retention; resumes from before them get `resync_required`."""
    retention = settings.EVENT_RETENTION_SECONDS if retention_seconds is None else retention_seconds
    expired = Event.objects.filter(created_at__lt=timezone.now() - timedelta(seconds=retention))
    newest_expired = expired.aggregate(last=Max("id"))["last"]
    if newest_expired is None:
        return 0
    _, deleted_by_model = Event.objects.filter(id__lte=newest_expired).delete()
    state, _ = EventLogState.objects.select_for_update().get_or_create(pk=1)
    state.purged_through = max(state.purged_through, newest_expired)
    state.save(update_fields=["purged_through"])
    return deleted_by_model.get(Event._meta.label, 0)
