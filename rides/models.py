import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.utils import timezone

from drivers.models import Driver, VehicleType

from .signals import ride_transitioned


class RideStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    ACCEPTED = "accepted", "Accepted"
    DRIVER_ARRIVED = "driver_arrived", "Driver arrived"
    STARTED = "started", "Started"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


# A passenger's ride is active until it ends; a driver's from acceptance until it ends.
PASSENGER_ACTIVE_STATUSES = (
    RideStatus.REQUESTED,
    RideStatus.ACCEPTED,
    RideStatus.DRIVER_ARRIVED,
    RideStatus.STARTED,
)
DRIVER_ACTIVE_STATUSES = (RideStatus.ACCEPTED, RideStatus.DRIVER_ARRIVED, RideStatus.STARTED)
CANCELLABLE_STATUSES = (RideStatus.REQUESTED, RideStatus.ACCEPTED, RideStatus.DRIVER_ARRIVED)


class CancelledBy(models.TextChoices):
    PASSENGER = "passenger", "Passenger"
    DRIVER = "driver", "Driver"
    SYSTEM = "system", "System"
    ADMIN = "admin", "Admin"


def _latitude():
    return models.FloatField(validators=[MinValueValidator(-90), MaxValueValidator(90)])


def _longitude():
    return models.FloatField(validators=[MinValueValidator(-180), MaxValueValidator(180)])


class Ride(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    passenger = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="rides")
    driver = models.ForeignKey(Driver, on_delete=models.PROTECT, null=True, blank=True, related_name="rides")
    ride_type = models.CharField(max_length=16, choices=VehicleType.choices)
    status = models.CharField(max_length=20, choices=RideStatus.choices, default=RideStatus.REQUESTED)

    pickup_latitude = _latitude()
    pickup_longitude = _longitude()
    dropoff_latitude = _latitude()
    dropoff_longitude = _longitude()
    distance_km = models.FloatField()
    estimated_fare = models.PositiveIntegerField(help_text="XAF")
    final_fare = models.PositiveIntegerField(null=True, blank=True, help_text="XAF")

    requested_at = models.DateTimeField(default=timezone.now, db_index=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    arrived_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.CharField(max_length=16, choices=CancelledBy.choices, blank=True)
    cancel_reason = models.CharField(max_length=255, blank=True)
    # When `driver_approaching` was announced: set once, by a conditional UPDATE, so the
    # announcement is made once per ride whatever process or path the positions came by.
    approaching_announced_at = models.DateTimeField(null=True, blank=True)

    # Dispatch (rides.dispatching): the number of offer waves sent so far, and when the current
    # wave is due to be replaced (or the request to time out); null once the ride left `requested`.
    offer_wave = models.PositiveSmallIntegerField(default=0)
    next_wave_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["passenger"],
                condition=models.Q(status__in=PASSENGER_ACTIVE_STATUSES),
                name="one_active_ride_per_passenger",
            ),
            models.UniqueConstraint(
                fields=["driver"],
                condition=models.Q(status__in=DRIVER_ACTIVE_STATUSES),
                name="one_active_ride_per_driver",
            ),
            models.CheckConstraint(
                condition=models.Q(driver__isnull=False) | models.Q(status__in=[RideStatus.REQUESTED, RideStatus.CANCELLED]),
                name="ride_past_request_has_driver",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "requested_at"], name="ride_status_requested_idx"),
            # The dispatcher's question every tick: which requested rides are due.
            models.Index(fields=["status", "next_wave_at"], name="ride_status_next_wave_idx"),
        ]

    def __str__(self):
        return f"Ride {self.id} ({self.status})"

    def transition(self, new_status, **changes):
        """Move the ride to `new_status` with the fields that change with it (`changes`: the
        step's timestamp, the driver, the fare, ...), save those alone, and announce it. Every
        status change goes through here (rides.services checks who may make it and from which
        status); the save and the receivers' work commit together or not at all."""
        previous = self.status
        self.status = new_status
        for field, value in changes.items():
            setattr(self, field, value)
        with transaction.atomic():
            self.save(update_fields=["status", *changes])
            ride_transitioned.send(sender=Ride, ride=self, previous=previous, new=new_status)


class OfferStatus(models.TextChoices):
    OFFERED = "offered", "Offered"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    EXPIRED = "expired", "Expired"
    # The ride was taken by another driver or cancelled while the offer stood.
    WITHDRAWN = "withdrawn", "Withdrawn"


class RideOffer(models.Model):
    """A requested ride shown to one driver (`ride_requested`) in one wave of rides.dispatching:
    never twice to the same driver; how the driver answered it is their acceptance record."""

    ride = models.ForeignKey(Ride, on_delete=models.CASCADE, related_name="offers")
    driver = models.ForeignKey(Driver, on_delete=models.CASCADE, related_name="offers")
    wave = models.PositiveSmallIntegerField()
    distance_km = models.FloatField(help_text="great-circle distance to the pickup when offered")
    offered_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=OfferStatus.choices, default=OfferStatus.OFFERED)
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ride", "driver"], name="one_offer_per_ride_and_driver")]
        indexes = [models.Index(fields=["driver", "status"], name="offer_driver_status_idx")]

    def __str__(self):
        return f"Offer of {self.ride_id} to {self.driver_id} (wave {self.wave}, {self.status})"


class RatedBy(models.TextChoices):
    """Who gave a rating: the passenger rates the driver, the driver rates the passenger."""

    PASSENGER = "passenger", "Passenger (of the driver)"
    DRIVER = "driver", "Driver (of the passenger)"


class Rating(models.Model):
    """Stars one participant of a completed ride gave the other, once per side (rides.ratings).
    The passenger's ratings of a driver make the driver's `rating`."""

    ride = models.ForeignKey(Ride, on_delete=models.CASCADE, related_name="ratings")
    rated_by = models.CharField(max_length=16, choices=RatedBy.choices)
    rater = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="ratings_given")
    rated_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="ratings_received"
    )
    stars = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    comment = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Each side rates a ride once, however many requests race (409 already_rated).
            models.UniqueConstraint(fields=["ride", "rated_by"], name="one_rating_per_ride_and_side"),
            models.CheckConstraint(condition=models.Q(stars__gte=1, stars__lte=5), name="rating_stars_1_to_5"),
        ]
        indexes = [
            # A driver's average: the ratings passengers gave them.
            models.Index(fields=["rated_user", "rated_by"], name="rating_rated_user_idx"),
        ]

    def __str__(self):
        return f"{self.stars}★ by the {self.rated_by} of {self.ride_id}"
