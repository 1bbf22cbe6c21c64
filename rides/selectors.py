"""Read-side queries on rides, and on drivers where rides decide who is free."""

import uuid

from django.db.models import Count, Exists, OuterRef, Q

from drivers.models import Driver
from drivers.selectors import nearby_drivers

from .models import DRIVER_ACTIVE_STATUSES, PASSENGER_ACTIVE_STATUSES, OfferStatus, Ride, RideOffer


def rides_of(user):
    """Rides the user is passenger or driver of."""
    return Ride.objects.filter(Q(passenger=user) | Q(driver_id=user.pk)).select_related(
        "passenger", "driver", "driver__user"
    )


def visible_ride(user, ride_id):
    """The ride if `user` may see it (participant or staff), else None. Never tells which."""
    qs = Ride.objects.select_related("passenger", "driver", "driver__user")
    if not user.is_staff:
        qs = qs.filter(Q(passenger=user) | Q(driver_id=user.pk))
    try:
        ride_id = uuid.UUID(str(ride_id))
    except ValueError:
        return None
    return qs.filter(pk=ride_id).first()


def idle_drivers():
    """Drivers with no accepted, arrived or started ride."""
    busy = Ride.objects.filter(driver=OuterRef("pk"), status__in=DRIVER_ACTIVE_STATUSES)
    return Driver.objects.exclude(Exists(busy))


def nearby_idle_drivers(
    latitude, longitude, *, vehicle_type, radius_km=None, limit=None, exclude_user_id=None, exclude_driver_ids=None
):
    """`exclude_driver_ids`: ids, or a query of them (sent along as a subquery)."""
    queryset = idle_drivers()
    if exclude_user_id is not None:
        queryset = queryset.exclude(pk=exclude_user_id)
    if exclude_driver_ids is not None:
        queryset = queryset.exclude(pk__in=exclude_driver_ids)
    return nearby_drivers(
        latitude, longitude, vehicle_type=vehicle_type, radius_km=radius_km, limit=limit, queryset=queryset
    )


def offer_figures(driver_id):
    """A driver's answers to offers: {"offers", "accepted", "declined", "expired", "withdrawn",
    "acceptance_rate"}; the rate counts the offers the driver answered or let expire (a withdrawn
    one was taken away before they could), None before the first."""
    counts = dict(
        RideOffer.objects.filter(driver_id=driver_id).values_list("status").annotate(n=Count("pk")).order_by()
    )
    figures = {status: counts.get(status, 0) for status in OfferStatus.values if status != OfferStatus.OFFERED}
    figures["offers"] = sum(counts.values())
    answered = figures["accepted"] + figures["declined"] + figures["expired"]
    figures["acceptance_rate"] = round(figures["accepted"] / answered, 3) if answered else None
    return figures


FLEET_DRIVER_FIELDS = (
    "user_id", "user__full_name", "vehicle_type", "latitude", "longitude", "heading", "location_updated_at"
)
FLEET_RIDE_FIELDS = (
    "id", "status", "ride_type", "pickup_latitude", "pickup_longitude", "dropoff_latitude", "dropoff_longitude",
    "driver_id", "requested_at",
)


def fleet():
    """The ops map's view of the city as plain rows: (online drivers with a position, open rides),
    dicts keyed by FLEET_DRIVER_FIELDS and FLEET_RIDE_FIELDS. Two queries, nothing loaded as models:
    it runs every second while a staff console watches."""
    rides = list(Ride.objects.filter(status__in=PASSENGER_ACTIVE_STATUSES).values(*FLEET_RIDE_FIELDS))
    drivers = list(
        Driver.objects.filter(is_online=True, latitude__isnull=False, longitude__isnull=False).values(
            *FLEET_DRIVER_FIELDS
        )
    )
    return drivers, rides


def rides_by_id(ride_ids):
    """The same rows for the given rides, whatever their status (those that just ended)."""
    return list(Ride.objects.filter(pk__in=ride_ids).values(*FLEET_RIDE_FIELDS))
