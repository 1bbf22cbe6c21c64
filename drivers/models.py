from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


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

    class Meta:
        indexes = [
            # Nearby search: equality on the first two, range on latitude, then longitude.
            models.Index(fields=["is_online", "vehicle_type", "latitude", "longitude"], name="driver_nearby_idx"),
        ]

    def __str__(self):
        return f"{self.user.full_name} · {self.vehicle_type} {self.vehicle_plate}"

    # Signal receivers compare against the values loaded from the database to tell what a save
    # changed, whether it came from a service, the admin or a shell.
    TRACKED_FIELDS = ("is_online", "location_updated_at")

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._loaded_values = {f: instance.__dict__.get(f) for f in cls.TRACKED_FIELDS}
        return instance

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        self._loaded_values = {f: self.__dict__.get(f) for f in self.TRACKED_FIELDS}

    def changed(self, field):
        loaded = getattr(self, "_loaded_values", None)
        if loaded is None:  # a new instance: everything it has is a change
            return getattr(self, field) not in (None, False)
        return loaded.get(field) != getattr(self, field)

    @property
    def has_position(self):
        return self.latitude is not None and self.longitude is not None
