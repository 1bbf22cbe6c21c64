from django.conf import settings
from django.db import models
from django.utils import timezone

from rides.models import Ride


class Event(models.Model):
    """The event log and the outbox: every reliable event, written in the transaction that caused it.

    `id` is the event id clients see and resume from; ids are handed out in commit order (see
    realtime.delivery.eventlog). `text` is the encoded envelope, sent as is on replay. `published_at` is
    set once the event was handed to the channel layer; the relay republishes what stays unset.
    """

    id = models.BigAutoField(primary_key=True)
    type = models.CharField(max_length=40)
    ride = models.ForeignKey(Ride, on_delete=models.SET_NULL, null=True, blank=True, related_name="events")
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["created_at"], condition=models.Q(published_at__isnull=True), name="event_unpublished_idx")
        ]

    def __str__(self):
        return f"#{self.id} {self.type}"


class EventRecipient(models.Model):
    """Who an event is for. `prev_event_id` is that user's previous event: a connection that has
    delivered it can deliver this one straight away; one that has not knows it missed something."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="recipients")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    prev_event_id = models.BigIntegerField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "event"], name="one_recipient_row_per_event")]


class EventLogState(models.Model):
    """A single row: the highest event id that retention has deleted (resumes from below it fail)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    purged_through = models.BigIntegerField(default=0)
