"""The fare table: base + per_km × great-circle km, rounded to 50 XAF, never below the minimum."""

import math

import pytest
from django.conf import settings
from django.test import override_settings

from rides.fares import estimate, fare_for_distance
from rideshare.tests.factories import YAOUNDE, api_client_for

DOUALA = (4.0511, 9.7679)


def independent_great_circle_km(lat1, lon1, lat2, lon2, radius=6371.0088):
    """Spherical law of cosines: a different formula from the app's haversine."""
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    cos_angle = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl)
    return radius * math.acos(max(-1.0, min(1.0, cos_angle)))


def test_fare_table_is_the_published_one():
    assert settings.FARES == {
        "moto": {"base": 300, "per_km": 150, "minimum": 500},
        "car": {"base": 1000, "per_km": 350, "minimum": 1500},
    }
    assert settings.FARE_ROUNDING == 50
    assert settings.FARE_CURRENCY == "XAF"


@pytest.mark.parametrize(
    "ride_type, km, fare",
    [
        # moto: 300 + 150/km, minimum 500
        ("moto", 0, 500),  # 300 → minimum
        ("moto", 1.0, 500),  # 450 → minimum
        ("moto", 1.4, 500),  # 510 → 500
        ("moto", 1.5, 550),  # 525 → halfway rounds up
        ("moto", 2.0, 600),
        ("moto", 2.533, 700),  # 679.95
        ("moto", 10.0, 1800),
        ("moto", 12.1, 2100),  # 2115 → 2100
        ("moto", 12.2, 2150),  # 2130 → 2150
        # car: 1000 + 350/km, minimum 1500
        ("car", 0, 1500),
        ("car", 1.4, 1500),  # 1490 → 1500
        ("car", 2.0, 1700),
        ("car", 3.07, 2050),  # 2074.5 → 2050
        ("car", 3.08, 2100),  # 2078 → 2100
        ("car", 10.0, 4500),
        ("car", 193.686, 68800),  # Yaoundé → Douala: 68790.1
    ],
)
def test_fare_for_distance(ride_type, km, fare):
    assert fare_for_distance(ride_type, km) == fare


@pytest.mark.parametrize("ride_type", ["moto", "car"])
@pytest.mark.parametrize("km", [0.37, 3.21, 7.77, 14.5, 42.123, 250.0])
def test_fare_is_a_whole_multiple_of_50_within_25_of_the_formula(ride_type, km):
    table = settings.FARES[ride_type]
    fare = fare_for_distance(ride_type, km)
    assert isinstance(fare, int)
    assert fare % 50 == 0
    raw = table["base"] + table["per_km"] * km
    assert fare >= table["minimum"]
    if raw >= table["minimum"] + 25:
        assert abs(fare - raw) <= 25


def test_fare_follows_the_settings_table(settings):
    settings.FARES = {"moto": {"base": 100, "per_km": 1000, "minimum": 0}}
    settings.FARE_ROUNDING = 100
    assert fare_for_distance("moto", 2.26) == 2400  # 2360 → 2400
    assert fare_for_distance("moto", 0) == 100


def test_estimate_uses_great_circle_distance_between_yaounde_and_douala():
    result = estimate("car", *YAOUNDE, *DOUALA)
    expected_km = independent_great_circle_km(*YAOUNDE, *DOUALA)
    assert expected_km == pytest.approx(193.7, abs=0.5)
    assert result["distance_km"] == pytest.approx(expected_km, abs=0.001)
    assert result["distance_km"] == round(result["distance_km"], 3)
    assert result["estimated_fare"] == 68800
    assert result["currency"] == "XAF"


def test_estimate_is_symmetric():
    there = estimate("moto", *YAOUNDE, *DOUALA)
    back = estimate("moto", *DOUALA, *YAOUNDE)
    assert there == back


# Yaoundé to Douala is longer than the longest trip served by default (RIDE_MAX_DISTANCE_KM, 100):
# this checks the fare table at that distance, with the bound raised.
@override_settings(RIDE_MAX_DISTANCE_KM=250)
def test_estimate_endpoint(passenger):
    body = {
        "ride_type": "car",
        "pickup_latitude": YAOUNDE[0],
        "pickup_longitude": YAOUNDE[1],
        "dropoff_latitude": DOUALA[0],
        "dropoff_longitude": DOUALA[1],
    }
    response = api_client_for(passenger).post("/api/v1/rides/estimate/", body, format="json")
    assert response.status_code == 200
    assert set(response.data) == {"estimated_fare", "distance_km", "currency"}
    assert response.data["estimated_fare"] == 68800
    assert response.data["distance_km"] == pytest.approx(193.686, abs=0.001)
    assert response.data["currency"] == "XAF"


def test_short_moto_trip_estimate_is_the_minimum(passenger):
    body = {
        "ride_type": "moto",
        "pickup_latitude": 3.848,
        "pickup_longitude": 11.502,
        "dropoff_latitude": 3.850,
        "dropoff_longitude": 11.502,
    }
    response = api_client_for(passenger).post("/api/v1/rides/estimate/", body, format="json")
    assert response.status_code == 200
    assert response.data["estimated_fare"] == 500
    assert response.data["distance_km"] == pytest.approx(0.222, abs=0.001)
