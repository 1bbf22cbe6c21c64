"""Idempotency-key retention by hand (server processes also run it every 10 minutes, with the event
log's): delete keys older than IDEMPOTENCY_KEY_TTL_SECONDS. A request with such a key is new again."""

from django.conf import settings

from rideshare.idempotency import store
from rideshare.kernel.cli import DatabaseCommand, human_duration


class Command(DatabaseCommand):
    help = "Delete Idempotency-Key records older than IDEMPOTENCY_KEY_TTL_SECONDS (rideshare.idempotency.store.purge_expired())."

    def handle(self, *args, **options):
        deleted = store.purge_expired()
        ttl = settings.IDEMPOTENCY_KEY_TTL_SECONDS
        self.stdout.write(f"Purged {deleted} idempotency key(s) older than {human_duration(ttl)} (IDEMPOTENCY_KEY_TTL_SECONDS={ttl}).")
