"""Moving a point towards another, a step at a time (short city distances: a flat map is exact
enough), with the heading an app would report."""

import math

from rideshare.kernel.geo import KM_PER_DEGREE_LATITUDE, haversine_km

KM_PER_DEGREE = KM_PER_DEGREE_LATITUDE


def step_towards(position, target, step_km):
    """(the new position, whole degrees from north or None when already there): `step_km` along
    the straight line to `target`, or `target` itself when it is closer than that."""
    lat, lon = position
    north_km = (target[0] - lat) * KM_PER_DEGREE
    east_km = (target[1] - lon) * KM_PER_DEGREE * math.cos(math.radians(lat))
    if north_km == 0 and east_km == 0:
        return target, None
    heading = round(math.degrees(math.atan2(east_km, north_km))) % 360
    if haversine_km(lat, lon, *target) <= step_km:
        return target, heading
    scale = step_km / math.hypot(north_km, east_km)
    return (
        lat + north_km * scale / KM_PER_DEGREE,
        lon + east_km * scale / (KM_PER_DEGREE * math.cos(math.radians(lat))),
    ), heading
