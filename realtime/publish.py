"""Latest-wins events (driver positions): straight to the channel layer after commit, not logged.

Reliable events go through realtime.eventlog instead."""

import logging
import time

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from . import events, metrics
from .groups import user_group_name

logger = logging.getLogger(__name__)

# The consumer method that receives every event (`RealtimeConsumer.realtime_event`).
DELIVER = "realtime.event"


def publish_latest_on_commit(message, groups, latest_key):
    """Send `message` to `groups` after commit; a rolled-back change announces nothing.

    `latest_key` names what the message is the latest of: a slow client gets only the newest."""
    groups = list(dict.fromkeys(groups))
    if not groups:
        return
    text = events.encode(message)

    def send_committed_position():  # a named function: robust on_commit logs its __qualname__
        send_now(text, message["type"], groups, latest_key)

    transaction.on_commit(send_committed_position, robust=True)


def send_now(text, event_type, groups, latest_key):
    async_to_sync(send_to_groups)(text, event_type, groups, latest_key)


async def publish_latest(message, groups, latest_key):
    """From async code with nothing to commit (the socket's position path): send now."""
    await send_to_groups(events.encode(message), message["type"], groups, latest_key)


async def _group_send_or_log(group, message, kind):
    """Best effort: a failed send is counted and logged, the caller goes on."""
    try:
        await get_channel_layer().group_send(group, message)
    except Exception:
        metrics.layer_send_failures.labels(kind).inc()
        logger.exception("channel layer send to %s failed", group)


async def send_to_groups(text, event_type, groups, latest_key):
    message = {"type": DELIVER, "text": text, "event_type": event_type, "latest_key": latest_key,
               "committed_at": time.time()}
    for group in groups:
        await _group_send_or_log(group, message, "latest_wins")


# Messages for the consumers themselves (not forwarded to the app).
DISCONNECT = "realtime.disconnect"
ASSIGNMENT = "realtime.assignment"


def publish_control_on_commit(group, message):
    """After commit, hand `message` to every connection in `group`'s consumer (not to the app)."""

    def send_control_message():
        async_to_sync(_group_send_or_log)(group, message, "control")

    transaction.on_commit(send_control_message, robust=True)


def disconnect_on_commit(group, reason):
    """Close every connection in `group` (the account was disabled or deleted)."""
    publish_control_on_commit(group, {"type": DISCONNECT, "reason": reason})


def assignment_on_commit(driver_id, ride=None):
    """Tell a driver's connections which ride their positions go to (None: no active ride)."""
    publish_control_on_commit(
        user_group_name(driver_id),
        {
            "type": ASSIGNMENT,
            "ride_id": str(ride.pk) if ride else None,
            "passenger_id": str(ride.passenger_id) if ride else None,
        },
    )
