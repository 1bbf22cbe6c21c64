from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from model_utils import FieldTracker


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
    rating = models.DecimalField(
        max_digits=2,
        decimal_places=1,
        default=5.0,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
    )
    is_online = models.BooleanField(default=False)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    heading = models.PositiveSmallIntegerField(null=True, blank=True)
    speed = models.FloatField(null=True, blank=True, help_text="km/h")
    location_updated_at = models.DateTimeField(null=True, blank=True)

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
    def has_position(self):
        return self.latitude is not None and self.longitude is not None
