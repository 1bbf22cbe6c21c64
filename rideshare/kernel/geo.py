"""Great-circle geometry on (latitude, longitude) pairs, in that order everywhere."""

import math

EARTH_RADIUS_KM = 6371.0088
# On the same sphere as haversine_km: a box sized with a longer degree would cut off the
# edge of the circle that the exact distance accepts.
KM_PER_DEGREE_LATITUDE = math.pi * EARTH_RADIUS_KM / 180


def haversine_km(lat1, lon1, lat2, lon2):
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def bounding_box(lat, lon, radius_km):
    """(min_lat, max_lat, min_lon, max_lon) enclosing a circle of `radius_km` around the point.

    A degree of longitude shrinks with cos(latitude); near the poles the box covers every
    longitude. Boxes that cross the antimeridian are clamped (no market there yet).
    """
    angle = radius_km / EARTH_RADIUS_KM  # radians of arc
    dlat = radius_km / KM_PER_DEGREE_LATITUDE
    cos_lat = math.cos(math.radians(lat))
    if angle >= math.pi / 2 or math.sin(angle) >= cos_lat:
        # The circle reaches a pole: every longitude.
        return (max(-90.0, lat - dlat), min(90.0, lat + dlat), -180.0, 180.0)
    # Widest longitude reached by the circle (wider than at its own latitude, off the equator).
    dlon = math.degrees(math.asin(math.sin(angle) / cos_lat))
    return (
        max(-90.0, lat - dlat),
        min(90.0, lat + dlat),
        max(-180.0, lon - dlon),
        min(180.0, lon + dlon),
    )
