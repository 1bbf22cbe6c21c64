from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class IdempotencyKey(models.Model):
    """A request that succeeded with an `Idempotency-Key`, and its answer, replayed to the same key
    from the same user (rideshare.idempotency.decorators).

    The row is written in the transaction that does the request's work: it exists exactly when
    that work committed, and a concurrent duplicate waits on the unique index until then."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+",
        help_text="Whose key it is; empty for an anonymous request (registration).",
    )
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(
        max_length=64, help_text="HMAC-SHA256 of the method, path and body (the body may hold a password)."
    )
    # Set in the claiming transaction, before it commits: never empty in a committed row.
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.TextField(blank=True, help_text="The response's data as JSON.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], condition=Q(user__isnull=False), name="idempotency_key_per_user"),
            models.UniqueConstraint(fields=["key"], condition=Q(user__isnull=True), name="idempotency_key_anonymous"),
        ]

    def __str__(self):
        return f"{self.key} ({self.user_id or 'anonymous'})"
