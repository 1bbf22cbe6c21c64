from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from model_utils import FieldTracker


def shown_rating(average_rating):
    """A driver's rating as shown, from their stored `average_rating` (None: not rated yet)."""
    if average_rating is None:
        return Decimal(str(settings.DRIVER_DEFAULT_RATING)).quantize(Decimal("0.1"))
    return Decimal(str(average_rating))


class VehicleType(models.TextChoices):
    MOTO = "moto", "Moto-taxi"
    CAR = "car", "Car"


class Driver(models.Model):
    """A user's driver profile. Its primary key is the user's id, so `driver_id` is the user id."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="driver"
    )
    vehicle_type = models.CharField(max_length=16, choices=VehicleType.choices)
    vehicle_plate = models.CharField(max_length=20)
    vehicle_color = models.CharField(max_length=30)
    # The mean of the stars passengers gave the driver, to one decimal (rides.ratings writes it with
    # the driver's row locked); empty until the first rating. `rating` is what everyone is shown.
    average_rating = models.DecimalField(
        max_digits=2,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
    )
    is_online = models.BooleanField(default=False)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    heading = models.PositiveSmallIntegerField(null=True, blank=True)
    speed = models.FloatField(null=True, blank=True, help_text="km/h")
    # When the server took the position: how fresh it is for matching (DRIVER_POSITION_MAX_AGE_SECONDS).
    location_updated_at = models.DateTimeField(null=True, blank=True)
    # When the phone recorded it (the app's `recorded_at`, else when it arrived): which of two
    # positions is newer. Kept apart from the above: a phone whose clock is slow would otherwise
    # look stale to matching while it sends a position every few seconds.
    location_recorded_at = models.DateTimeField(null=True, blank=True)

    # What a save changed, for the signal receivers that announce availability and positions.
    tracker = FieldTracker(fields=["is_online", "location_updated_at"])

    class Meta:
        indexes = [
            # Nearby search (every ride request and offer wave): online drivers only, equality on the
            # type, range on latitude, then longitude. Partial rather than led by `is_online`: SQLite
            # uses no index for a bare boolean term, and scanned every driver (2.8 ms at 10,000
            # drivers, 0.3 ms with this index).
            models.Index(
                fields=["vehicle_type", "latitude", "longitude"], condition=models.Q(is_online=True),
                name="driver_online_nearby_idx",
            ),
        ]

    def __str__(self):
        return f"{self.user.full_name} · {self.vehicle_type} {self.vehicle_plate}"

    @property
    def rating(self):
        """What passengers, events and the API show: the average of the driver's ratings, or
        DRIVER_DEFAULT_RATING before the first one."""
        return shown_rating(self.average_rating)

    @property
    def has_position(self):
        return self.latitude is not None and self.longitude is not None
