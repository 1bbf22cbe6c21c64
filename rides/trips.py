"""Which trips are served: a pickup inside the service area, no longer than the longest trip.

Checked on estimate and request alike, after the serializer (the coordinates are valid numbers)."""

from django.conf import settings

from rideshare.kernel.errors import DomainError

from . import fares


class TripOutOfBounds(DomainError):
    code = "trip_out_of_bounds"


def in_service_area(latitude, longitude, area=None):
    boxes = settings.SERVICE_AREA if area is None else area
    return any(
        min_lat <= latitude <= max_lat and min_lon <= longitude <= max_lon
        for min_lat, min_lon, max_lat, max_lon in boxes
    )


def check_trip(*, pickup_latitude, pickup_longitude, dropoff_latitude, dropoff_longitude, **_):
    if not in_service_area(pickup_latitude, pickup_longitude):
        raise TripOutOfBounds("Rides cannot be picked up here: outside the service area.", code="outside_service_area")
    distance = fares.trip_distance_km(pickup_latitude, pickup_longitude, dropoff_latitude, dropoff_longitude)
    limit = settings.RIDE_MAX_DISTANCE_KM
    if distance > limit:
        raise TripOutOfBounds(
            f"This trip is {distance:.1f} km; the longest trip is {limit:g} km.",
            code="trip_too_long",
            distance_km=round(distance, 3),
            max_distance_km=limit,
        )
