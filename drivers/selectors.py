"""Read-side queries on drivers."""

import math
from datetime import timedelta

from django.conf import settings
from django.db.models import F, FloatField
from django.db.models.functions import Cast
from django.utils import timezone

from rideshare.kernel.geo import bounding_box, haversine_km

from .models import Driver

# How many of the database's nearest (flat distance) are measured exactly, for `limit` wanted.
NEAREST_MARGIN = 4
NEAREST_SLACK = 20


def nearby_drivers(
    latitude,
    longitude,
    *,
    vehicle_type,
    radius_km=None,
    limit=None,
    max_age_seconds=None,
    queryset=None,
):
    """Online drivers of `vehicle_type` within `radius_km` of the point, nearest first.

    A bounding box on the indexed columns narrows the candidates; the exact great-circle
    distance decides. Each returned driver carries `distance_km`. Positions older than
    `max_age_seconds` are ignored: the driver's app stopped reporting.
    """
    radius_km = settings.NEARBY_RADIUS_KM if radius_km is None else radius_km
    limit = settings.NEARBY_LIMIT if limit is None else limit
    max_age_seconds = settings.DRIVER_POSITION_MAX_AGE_SECONDS if max_age_seconds is None else max_age_seconds

    min_lat, max_lat, min_lon, max_lon = bounding_box(latitude, longitude, radius_km)
    base = Driver.objects.all() if queryset is None else queryset
    in_box = base.filter(
        is_online=True,
        vehicle_type=vehicle_type,
        latitude__gte=min_lat,
        latitude__lte=max_lat,
        longitude__gte=min_lon,
        longitude__lte=max_lon,
        location_updated_at__gte=timezone.now() - timedelta(seconds=max_age_seconds),
    )
    # The database orders the box by a flat-map distance (degrees of longitude scaled to the
    # point's latitude) and returns only the nearest few: a city centre can hold thousands of
    # drivers, and building each as an object to measure it held a request (and SQLite's write
    # lock, in a ride request's transaction) for seconds. Within a few km the flat distance ranks
    # drivers as the great-circle one does, to a few metres; the margin covers ties, and the
    # exact distance below decides.
    dlat = F("latitude") - latitude
    dlon = (F("longitude") - longitude) * math.cos(math.radians(latitude))
    candidates = (
        in_box.annotate(flat_distance=Cast(dlat * dlat + dlon * dlon, FloatField()))
        .order_by("flat_distance")
        .values_list("pk", "latitude", "longitude")[: limit * NEAREST_MARGIN + NEAREST_SLACK]
    )
    # Measured on plain rows; only the few returned are loaded as drivers (with their user), in
    # one more query: building every candidate as a model was most of a wave's cost.
    measured = sorted(
        (distance, pk)
        for pk, lat, lon in candidates
        if (distance := haversine_km(latitude, longitude, lat, lon)) <= radius_km
    )[:limit]
    loaded = Driver.objects.select_related("user").in_bulk([pk for _, pk in measured])
    found = []
    for distance, pk in measured:
        driver = loaded.get(pk)
        if driver is not None:  # deleted in between
            driver.distance_km = distance
            found.append(driver)
    return found
