"""rides.eta: the one ETA function (every position's distance_km/eta_minutes, ride_accepted's
estimated_arrival, an offer's pickup ETA)."""

import math

import pytest

from rides import eta
from rides.eta import Estimate
from rideshare.kernel.geo import haversine_km

PICKUP = (3.848, 11.502)  # Yaoundé
# 0.01° of latitude north of the pickup: 1.112 km of great circle, whatever the longitude.
NORTH = (3.858, 11.502)
GREAT_CIRCLE_KM = haversine_km(*NORTH, *PICKUP)


@pytest.fixture(autouse=True)
def default_eta_settings(settings):
    settings.RIDE_ETA_FUNCTION = "rides.eta.great_circle_estimate"
    settings.ETA_ROAD_FACTOR = 1.3
    settings.ETA_SPEED_KMH_MOTO = 25.0
    settings.ETA_SPEED_KMH_CAR = 20.0


def test_the_distance_is_the_great_circle_times_the_road_factor_to_the_metre():
    estimate = eta.estimate(*NORTH, *PICKUP, "moto")
    assert GREAT_CIRCLE_KM == pytest.approx(1.112, abs=0.001)
    assert estimate.distance_km == round(GREAT_CIRCLE_KM * 1.3, 3) == 1.446


def test_the_road_factor_is_a_setting(settings):
    settings.ETA_ROAD_FACTOR = 1.0
    assert eta.estimate(*NORTH, *PICKUP, "moto").distance_km == round(GREAT_CIRCLE_KM, 3)
    settings.ETA_ROAD_FACTOR = 2.0
    assert eta.estimate(*NORTH, *PICKUP, "moto").distance_km == round(GREAT_CIRCLE_KM * 2, 3)


def test_minutes_come_from_each_vehicle_types_speed_rounded_up():
    road_km = GREAT_CIRCLE_KM * 1.3
    moto = eta.estimate(*NORTH, *PICKUP, "moto")
    car = eta.estimate(*NORTH, *PICKUP, "car")
    assert moto.eta_minutes == math.ceil(road_km / 25 * 60) == 4  # 3.47 minutes
    assert car.eta_minutes == math.ceil(road_km / 20 * 60) == 5  # 4.34 minutes
    assert moto.distance_km == car.distance_km


def test_the_speeds_are_settings(settings):
    settings.ETA_SPEED_KMH_MOTO = 60.0
    settings.ETA_SPEED_KMH_CAR = 6.0
    assert eta.estimate(*NORTH, *PICKUP, "moto").eta_minutes == 2  # 1.446 km at 60 km/h: 1.4 min
    assert eta.estimate(*NORTH, *PICKUP, "car").eta_minutes == 15  # at 6 km/h: 14.5 min


def test_at_the_target_it_is_zero_km_and_one_minute_never_zero():
    assert eta.estimate(*PICKUP, *PICKUP, "car") == Estimate(distance_km=0.0, eta_minutes=1)


def test_a_longer_way_is_never_a_shorter_eta():
    previous = None
    for step in range(0, 200, 7):
        estimate = eta.estimate(PICKUP[0] - step / 1000, PICKUP[1], *PICKUP, "moto")
        if previous is not None:
            assert estimate.distance_km > previous.distance_km
            assert estimate.eta_minutes >= previous.eta_minutes
        previous = estimate


def test_latitude_comes_before_longitude_near_the_equator():
    """Near the equator a swapped pair is still a valid coordinate, so nothing else catches it:
    a step of 0.01° both ways at latitude 0.5 is √2 × 1.112 km; read as (lon, lat) it would be
    measured at latitude 11, where a degree of longitude is shorter."""
    start, end = (0.5, 11.0), (0.51, 11.01)
    right = round(haversine_km(*start, *end) * 1.3, 3)
    swapped = round(haversine_km(start[1], start[0], end[1], end[0]) * 1.3, 3)
    assert right - swapped > 0.01
    assert eta.estimate(*start, *end, "moto").distance_km == right
    assert right == pytest.approx(math.sqrt(2) * 1.112 * 1.3, abs=0.005)


calls = []


def fixed_estimate(from_lat, from_lon, to_lat, to_lon, vehicle_type):
    """A stand-in routing service: what it was asked, and a fixed answer."""
    calls.append((from_lat, from_lon, to_lat, to_lon, vehicle_type))
    return Estimate(distance_km=42.0, eta_minutes=42)


def test_the_function_is_pluggable_by_its_dotted_path(settings):
    calls.clear()
    settings.RIDE_ETA_FUNCTION = "rides.tests.test_eta.fixed_estimate"
    assert eta.estimate(*NORTH, *PICKUP, "car") == Estimate(42.0, 42)
    assert calls == [(*NORTH, *PICKUP, "car")]
    settings.RIDE_ETA_FUNCTION = "rides.eta.great_circle_estimate"
    assert eta.estimate(*NORTH, *PICKUP, "car").distance_km == 1.446
