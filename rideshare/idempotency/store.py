"""The keys in the database: claimed in the transaction doing the work, read back to replay, purged
after IDEMPOTENCY_KEY_TTL_SECONDS."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from .models import IdempotencyKey


def cutoff(now=None):
    """Keys created before this are forgotten: a request with one is new again."""
    return (now or timezone.now()) - timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL_SECONDS)


def claim(*, user, key, fingerprint):
    """Insert the key; IntegrityError if it is taken. On PostgreSQL an INSERT meeting the key of a
    transaction still running waits for it to end (the unique index), then fails if it committed."""
    return IdempotencyKey.objects.create(user=user, key=key, request_fingerprint=fingerprint)


def record(claimed, *, status, body):
    IdempotencyKey.objects.filter(pk=claimed.pk).update(response_status=status, response_body=body)


def find(*, user, key):
    return IdempotencyKey.objects.filter(user=user, key=key).first()


def forget_if_expired(found, now=None):
    """Delete `found` if it is past the TTL (not yet purged); True if it was."""
    return IdempotencyKey.objects.filter(pk=found.pk, created_at__lt=cutoff(now)).delete()[0] > 0


def purge_expired(now=None):
    """Delete keys older than IDEMPOTENCY_KEY_TTL_SECONDS; returns how many."""
    return IdempotencyKey.objects.filter(created_at__lt=cutoff(now)).delete()[0]
