"""Hand events to the channel layer once the transaction that caused them has committed."""

import logging
from functools import partial

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from . import events

logger = logging.getLogger(__name__)

# The consumer method that receives these (`realtime_event`).
DELIVER = "realtime.event"


def publish_on_commit(message, groups):
    """Send `message` to `groups` after commit; a rolled-back change announces nothing."""
    groups = list(dict.fromkeys(groups))
    if not groups:
        return
    text = events.encode(message)
    transaction.on_commit(partial(send_now, text, groups), robust=True)


def send_now(text, groups):
    async_to_sync(send_to_groups)(text, groups)


async def send_to_groups(text, groups):
    layer = get_channel_layer()
    for group in groups:
        try:
            await layer.group_send(group, {"type": DELIVER, "text": text})
        except Exception:
            logger.exception("channel layer send to %s failed", group)
