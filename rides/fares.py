"""The fare table (settings.FARES) applied to a trip."""

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

from rideshare.kernel.geo import haversine_km


def trip_distance_km(pickup_latitude, pickup_longitude, dropoff_latitude, dropoff_longitude):
    return haversine_km(pickup_latitude, pickup_longitude, dropoff_latitude, dropoff_longitude)


def fare_for_distance(ride_type, distance_km):
    """Whole XAF: base + per_km * distance, rounded to the nearest FARE_ROUNDING, at least the minimum."""
    table = settings.FARES[ride_type]
    step = settings.FARE_ROUNDING
    raw = Decimal(table["base"]) + Decimal(table["per_km"]) * Decimal(str(distance_km))
    rounded = int((raw / step).quantize(Decimal(1), rounding=ROUND_HALF_UP)) * step
    return max(int(table["minimum"]), rounded)


def estimate(ride_type, pickup_latitude, pickup_longitude, dropoff_latitude, dropoff_longitude):
    distance = trip_distance_km(pickup_latitude, pickup_longitude, dropoff_latitude, dropoff_longitude)
    return {
        "estimated_fare": fare_for_distance(ride_type, distance),
        "distance_km": round(distance, 3),
        "currency": settings.FARE_CURRENCY,
    }
