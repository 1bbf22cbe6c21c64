"""Keys are forgotten after IDEMPOTENCY_KEY_TTL_SECONDS: by `store.purge_expired`, the
`purge_idempotency_keys` command and the server's retention job."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from realtime.serving import lifecycle
from realtime.tests.helpers import db as in_thread
from rideshare.idempotency import store
from rideshare.idempotency.models import IdempotencyKey
from rideshare.tests.factories import UserFactory

TTL = 24 * 3600


@pytest.fixture(autouse=True)
def one_day(settings):
    settings.IDEMPOTENCY_KEY_TTL_SECONDS = TTL


def key_created(seconds_ago, *, now, key=None):
    return IdempotencyKey.objects.create(
        user=UserFactory(), key=key or f"key-{seconds_ago}", request_fingerprint="0" * 64,
        response_status=201, response_body="{}", created_at=now - timedelta(seconds=seconds_ago),
    )


@pytest.mark.django_db
def test_purge_removes_the_keys_past_the_ttl_only():
    now = timezone.now()
    key_created(TTL + 60, now=now, key="old")
    key_created(TTL + 1, now=now, key="just-past")
    key_created(TTL - 1, now=now, key="just-within")
    key_created(0, now=now, key="new")

    assert store.purge_expired(now=now) == 2
    assert set(IdempotencyKey.objects.values_list("key", flat=True)) == {"just-within", "new"}
    assert store.purge_expired(now=now) == 0


@pytest.mark.django_db
def test_the_command_purges_and_says_how_many():
    now = timezone.now()
    key_created(TTL + 60, now=now, key="old")
    key_created(60, now=now, key="new")
    out = StringIO()

    call_command("purge_idempotency_keys", stdout=out)

    assert out.getvalue().strip() == "Purged 1 idempotency key(s) older than 24h (IDEMPOTENCY_KEY_TTL_SECONDS=86400)."
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


@pytest.mark.django_db(transaction=True)
async def test_the_servers_retention_job_purges_keys_too():
    now = timezone.now()
    await in_thread(key_created)(TTL + 60, now=now, key="old")
    await in_thread(key_created)(60, now=now, key="new")
    _, retention = lifecycle._jobs()["retention"]

    await retention()

    assert await in_thread(lambda: list(IdempotencyKey.objects.values_list("key", flat=True)))() == ["new"]
