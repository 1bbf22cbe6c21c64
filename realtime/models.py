from django.conf import settings
from django.db import models
from django.utils import timezone

from drivers.models import Driver
from rides.models import Ride


class RideOffer(models.Model):
    """A ride shown to a driver (`ride_requested`): who must hear that it is gone."""

    ride = models.ForeignKey(Ride, on_delete=models.CASCADE, related_name="offers")
    driver = models.ForeignKey(Driver, on_delete=models.CASCADE, related_name="offers")
    distance_km = models.FloatField()
    offered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ride", "driver"], name="one_offer_per_ride_driver")]


class Connection(models.Model):
    """One open WebSocket. Rows are refreshed by their server process; a row whose `last_seen` is
    older than PRESENCE_TTL_SECONDS belongs to a process that died and no longer counts."""

    channel_name = models.CharField(max_length=200, primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="connections")
    is_driver = models.BooleanField(default=False)
    server_id = models.CharField(max_length=100, db_index=True)
    connected_at = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now, db_index=True)
