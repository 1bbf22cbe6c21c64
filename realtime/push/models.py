import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from realtime.models import Event


class DeviceKind(models.TextChoices):
    WEBPUSH = "webpush", "Web Push (browser, PWA)"
    FCM = "fcm", "FCM (native app)"


class Device(models.Model):
    """Where a user's app can be reached when its socket is closed. One row per Web Push endpoint
    or FCM token: registering the same one again updates it (and moves it to whoever is logged in
    on that app now)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_devices")
    kind = models.CharField(max_length=8, choices=DeviceKind.choices)
    # The Web Push subscription's endpoint URL, or the FCM registration token.
    address = models.CharField(max_length=1024)
    # Web Push only: the subscription's keys (base64url), which the payload is encrypted to.
    p256dh = models.CharField(max_length=128, blank=True)
    auth = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "address"], name="one_device_per_address")]
        ordering = ["-updated_at"]

    def __str__(self):
        return f"{self.get_kind_display()} of {self.user_id}"


class PushDelivery(models.Model):
    """The push outbox: one reliable event for one device of one of its recipients, written in the
    transaction that logged the event (nothing for a rolled-back change), deleted once settled.

    `due_at` is when the next attempt may start; while a sender holds the row it is the end of
    that sender's lease (a sender that died leaves the row due again after it). `attempts` counts
    the claims. Deleted with its event by the log's retention, at the latest."""

    id = models.BigAutoField(primary_key=True)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="+")
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    due_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [models.Index(fields=["due_at"], name="push_delivery_due_idx")]
        verbose_name_plural = "push deliveries"

    def __str__(self):
        return f"event #{self.event_id} to {self.device_id}"
