"""Which trips are served: a pickup inside the service area, no longer than the longest trip.

Checked on estimate and request alike, after the serializer (the coordinates are valid numbers)."""

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from rideshare.kernel.errors import DomainError
from rideshare.kernel.translation import lazy_format

from . import fares


class TripOutOfBounds(DomainError):
    code = "trip_out_of_bounds"


def in_service_area(latitude, longitude, area=None):
    boxes = settings.SERVICE_AREA if area is None else area
    return any(
        min_lat <= latitude <= max_lat and min_lon <= longitude <= max_lon
        for min_lat, min_lon, max_lat, max_lon in boxes
    )


def check_trip(*, pickup_latitude, pickup_longitude, dropoff_latitude, dropoff_longitude, **other_fields):
    if not in_service_area(pickup_latitude, pickup_longitude):
        raise TripOutOfBounds(
            _("Rides cannot be picked up here: outside the service area."), code="outside_service_area"
        )
    distance = fares.trip_distance_km(pickup_latitude, pickup_longitude, dropoff_latitude, dropoff_longitude)
    limit = settings.RIDE_MAX_DISTANCE_KM
    if distance > limit:
        raise TripOutOfBounds(
            lazy_format(
                _("This trip is %(distance)s km; the longest trip is %(limit)s km."),
                distance=f"{distance:.1f}", limit=f"{limit:g}",
            ),
            code="trip_too_long",
            distance_km=round(distance, 3),
            max_distance_km=limit,
        )
