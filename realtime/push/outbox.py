"""The push outbox: `PushDelivery` rows, one reliable event for one device of a recipient.

- `enqueue`, in the transaction that logs the events (realtime.delivery.eventlog.record_each sends
  `events_recorded`, which `enqueue_recorded` receives): nothing is
  pushed for a change that rolls back, and every committed pushed event is, even if the process
  dies right after the commit.
- `claim_due`, by a sender: due rows locked (`SKIP LOCKED` on PostgreSQL: senders in several
  processes share the work and never take the same row; SQLite's write transactions are serial)
  and leased (due again only after the sends can have finished: a sender that died mid-round
  loses nothing). The lock lasts the claim's short transaction, never an HTTP request.
- `settle`, after the sends: a sent row deleted; a device its service says is gone deleted (with
  its rows); a failure due again after an exponential backoff, dropped after PUSH_MAX_ATTEMPTS.

Every function takes `now` (tests pass their own times).
"""

import logging
import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from realtime.protocol import wire

from . import outcomes
from .models import Device, PushDelivery

logger = logging.getLogger(__name__)

PUSHED_TYPES = frozenset(name for name, event in wire.SERVER_EVENTS.items() if event.pushed)


@dataclass(frozen=True)
class Push:
    """One claimed delivery, with everything its send needs (no ORM object crosses threads)."""

    delivery_id: int
    user_id: uuid.UUID
    device_id: uuid.UUID
    kind: str
    address: str
    p256dh: str
    auth: str
    event_id: int
    event_type: str
    text: str  # the envelope, as the socket sends it
    expires_at: datetime
    ttl: int  # seconds it is still worth delivering (the push service keeps it that long)
    attempts: int  # this one included


def ttl_seconds(event_type):
    """How long an event is worth delivering: an offer as long as it stands."""
    if event_type == "ride_requested":
        return settings.RIDE_OFFER_TIMEOUT_SECONDS
    return settings.PUSH_TTL_SECONDS


def enqueue_recorded(sender, *, events, recipients, **kwargs):
    """Pushes to the recipients' devices, for whoever has no socket open when they are sent: a
    receiver of realtime.delivery.eventlog.events_recorded (connected in apps.PushConfig.ready)."""
    enqueue(events, recipients)


def enqueue(events, recipients, *, now=None):
    """`events` just logged (realtime.models.Event), `recipients` the user ids of each: a row per
    device of a recipient, for the pushed types. No query when none is pushed; one to find the
    devices otherwise, and one bulk insert when anyone has one. Returns the rows written."""
    pushed = [(event, user_ids) for event, user_ids in zip(events, recipients) if event.type in PUSHED_TYPES]
    if not pushed:
        return 0
    users = {uuid.UUID(str(u)) for _, user_ids in pushed for u in user_ids}
    devices = {}
    for device_id, user_id in Device.objects.filter(user_id__in=users).values_list("id", "user_id"):
        devices.setdefault(user_id, []).append(device_id)
    if not devices:
        return 0
    now = now or timezone.now()
    rows = [
        PushDelivery(event=event, device_id=device_id, user_id=user_id, due_at=now,
                     expires_at=now + timedelta(seconds=ttl_seconds(event.type)))
        for event, user_ids in pushed
        for user_id in {uuid.UUID(str(u)) for u in user_ids}
        for device_id in devices.get(user_id, ())
    ]
    PushDelivery.objects.bulk_create(rows)
    return len(rows)


def lease_seconds():
    """How long a claimed row is left to its sender: its batch's sends, PUSH_SEND_CONCURRENCY at
    once, each within PUSH_TIMEOUT_SECONDS in all, and a margin."""
    rounds = math.ceil(settings.PUSH_BATCH_SIZE / max(1, settings.PUSH_SEND_CONCURRENCY))
    return rounds * settings.PUSH_TIMEOUT_SECONDS + 30


def claim_due(*, now=None, limit=None):
    """Claim the due rows (at most `limit`, PUSH_BATCH_SIZE) for this sender: [Push]. Rows past
    their expiry, or whose device has moved to another user since, are dropped instead."""
    now = now or timezone.now()
    limit = limit or settings.PUSH_BATCH_SIZE
    # A plain read first: most rounds find nothing due, and the claim's transaction would take
    # SQLite's single writer turn every second from the requests that queue for it.
    if not PushDelivery.objects.filter(due_at__lte=now).exists():
        return []
    with transaction.atomic():
        rows = list(
            PushDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("event", "device")
            .filter(due_at__lte=now)
            .order_by("due_at")[:limit]
        )
        dropped = [r.pk for r in rows if r.expires_at <= now or r.device.user_id != r.user_id]
        claimed = [r for r in rows if r.pk not in set(dropped)]
        if dropped:
            PushDelivery.objects.filter(pk__in=dropped).delete()
            logger.info("push: %d deliveries dropped (expired, or the device changed hands)", len(dropped))
        if claimed:
            PushDelivery.objects.filter(pk__in=[r.pk for r in claimed]).update(
                due_at=now + timedelta(seconds=lease_seconds()), attempts=F("attempts") + 1
            )
    return [
        Push(
            delivery_id=r.pk, user_id=r.user_id, device_id=r.device_id, kind=r.device.kind,
            address=r.device.address, p256dh=r.device.p256dh, auth=r.device.auth, event_id=r.event_id,
            event_type=r.event.type, text=r.event.text, expires_at=r.expires_at,
            ttl=max(0, int((r.expires_at - now).total_seconds())), attempts=r.attempts + 1,
        )
        for r in claimed
    ]


def backoff_seconds(attempts, retry_after=None):
    """The wait after the `attempts`-th failed attempt: PUSH_RETRY_BASE_SECONDS doubled at each
    attempt, or the service's longer Retry-After, never above PUSH_RETRY_MAX_SECONDS."""
    delay = settings.PUSH_RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, settings.PUSH_RETRY_MAX_SECONDS)


def settle(results, *, now=None):
    """After a round's sends, `results` [(Push, outcomes.Outcome)]: each row deleted or due again."""
    now = now or timezone.now()
    finished, gone_devices, retries = [], set(), []
    for push, outcome in results:
        if outcome.kind in (outcomes.SENT, outcomes.ON_SOCKET):
            finished.append(push.delivery_id)
        elif outcome.kind == outcomes.GONE:
            gone_devices.add(push.device_id)
            logger.info("push: device %s is gone (%s): deleted", push.device_id, outcome.detail)
        elif outcome.kind == outcomes.REJECTED:
            finished.append(push.delivery_id)
            logger.warning("push: event #%s to device %s refused: %s", push.event_id, push.device_id, outcome.detail)
        elif push.attempts >= settings.PUSH_MAX_ATTEMPTS:
            finished.append(push.delivery_id)
            logger.warning("push: event #%s to device %s given up after %d attempts: %s",
                           push.event_id, push.device_id, push.attempts, outcome.detail)
        else:
            retries.append((push, outcome))
    with transaction.atomic():
        if finished:
            PushDelivery.objects.filter(pk__in=finished).delete()
        if gone_devices:
            Device.objects.filter(pk__in=gone_devices).delete()  # its rows go with it
        for push, outcome in retries:
            wait = backoff_seconds(push.attempts, outcome.retry_after)
            PushDelivery.objects.filter(pk=push.delivery_id).update(
                due_at=now + timedelta(seconds=wait), last_error=outcome.detail
            )
