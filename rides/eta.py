"""How far and how long from a point to another: one function for every ETA the service gives
(the driver's position to the pickup or the drop-off, `ride_accepted`'s `estimated_arrival`, an
offer's pickup distance).

`estimate` calls the function named by RIDE_ETA_FUNCTION (a dotted path; same signature), so a
routing service can replace the default, `great_circle_estimate`: the great-circle distance times
ETA_ROAD_FACTOR (streets are not straight) over an average city speed per vehicle type
(ETA_SPEED_KMH_MOTO, ETA_SPEED_KMH_CAR). It runs for every relayed position: no I/O, no query.
"""

import math
from functools import lru_cache
from typing import NamedTuple

from django.conf import settings
from django.utils.module_loading import import_string

from drivers.models import VehicleType
from rideshare.kernel.geo import haversine_km


class Estimate(NamedTuple):
    distance_km: float  # the distance to travel, rounded to metres
    eta_minutes: int  # whole minutes, rounded up, never below 1: "0 minutes" reads as "here"


def speed_kmh(vehicle_type):
    """The average city speed of a vehicle type (a moto weaves through traffic a car sits in)."""
    if vehicle_type == VehicleType.MOTO:
        return settings.ETA_SPEED_KMH_MOTO
    return settings.ETA_SPEED_KMH_CAR


def minutes_at(distance_km, vehicle_type):
    return max(1, math.ceil(distance_km / speed_kmh(vehicle_type) * 60))


def great_circle_estimate(from_lat, from_lon, to_lat, to_lon, vehicle_type):
    """The default: great-circle km × ETA_ROAD_FACTOR at the vehicle type's average speed."""
    distance_km = haversine_km(from_lat, from_lon, to_lat, to_lon) * settings.ETA_ROAD_FACTOR
    return Estimate(round(distance_km, 3), minutes_at(distance_km, vehicle_type))


@lru_cache(maxsize=4)
def _function(dotted_path):
    return import_string(dotted_path)


def estimate(from_lat, from_lon, to_lat, to_lon, vehicle_type):
    """Distance and minutes from (from_lat, from_lon) to (to_lat, to_lon) for `vehicle_type`, by
    the configured function; latitude before longitude, as everywhere."""
    return _function(settings.RIDE_ETA_FUNCTION)(from_lat, from_lon, to_lat, to_lon, vehicle_type)
