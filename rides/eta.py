"""How far and how long from a point to another for a vehicle: one function every ETA comes from.

A minimal version (stream E of issue 13 makes the speeds and the road factor settings and the
function pluggable); the signature is the one both streams use.
"""

import math
from dataclasses import dataclass

from drivers.models import VehicleType
from rideshare.kernel.geo import haversine_km

ROAD_FACTOR = 1.3  # streets are longer than the straight line
SPEED_KMH = {VehicleType.MOTO: 25.0, VehicleType.CAR: 20.0}


@dataclass(frozen=True)
class Estimate:
    distance_km: float  # by road, estimated
    eta_minutes: int  # at least 1


def estimate(from_lat, from_lon, to_lat, to_lon, vehicle_type):
    distance = haversine_km(from_lat, from_lon, to_lat, to_lon) * ROAD_FACTOR
    minutes = distance / SPEED_KMH.get(vehicle_type, SPEED_KMH[VehicleType.CAR]) * 60
    return Estimate(distance_km=round(distance, 3), eta_minutes=max(1, math.ceil(minutes)))
