"""Events sent on the server's loop are marked published together: one UPDATE for all those sent
while the previous one ran, not one write transaction per event (an offer wave is one event per
driver), and none is left unmarked."""

import asyncio

import pytest
from django.db import transaction

from realtime.delivery import eventlog, events
from realtime.models import Event
from rideshare.tests.factories import UserFactory

from .helpers import db

pytestmark = pytest.mark.django_db(transaction=True)


def log_many(users, count):
    with transaction.atomic():
        for i in range(count):
            eventlog.record(events.pong(f"t{i}"), user_ids=[users[i % len(users)].pk])


async def wait_until_all_published(timeout=5):
    async with asyncio.timeout(timeout):
        while await db(Event.objects.filter(published_at__isnull=True).exists)():
            await asyncio.sleep(0.01)


async def test_events_sent_together_are_marked_published_in_a_few_updates(monkeypatch):
    writes = []
    original = eventlog.mark_published

    def counting_mark_published(event_ids):
        writes.append(list(event_ids))
        original(event_ids)

    monkeypatch.setattr(eventlog, "mark_published", counting_mark_published)
    users = [await db(UserFactory)() for _ in range(3)]
    await db(log_many)(users, 40)

    await wait_until_all_published()
    assert sorted(i for batch in writes for i in batch) == sorted(
        await db(lambda: list(Event.objects.values_list("pk", flat=True)))()
    )
    assert len(writes) < 10  # one per event before


async def test_what_is_still_to_mark_at_shutdown_is_written_by_the_lifecycle():
    users = [await db(UserFactory)()]
    await db(log_many)(users, 5)
    await eventlog.published_marks.flush()
    # The dispatcher may still hold some to send; the lifecycle's stop sends and marks them all.
    from realtime.serving import lifecycle

    await lifecycle.stop()
    assert not await db(Event.objects.filter(published_at__isnull=True).exists)()
