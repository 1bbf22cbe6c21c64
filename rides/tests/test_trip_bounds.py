"""Sanity bounds of a trip: pickups inside the service area, no trip longer than the longest."""

import pytest
from django.conf import settings
from django.test import override_settings

from rides.models import Ride
from rides.trips import in_service_area
from rideshare.kernel import bounds
from rideshare.tests.factories import YAOUNDE, api_client_for

DOUALA = (4.0511, 9.7679)
BAFOUSSAM = (5.4781, 10.4176)
ENDPOINTS = ["/api/v1/rides/", "/api/v1/rides/estimate/"]


def trip(pickup, dropoff, ride_type="moto"):
    return {
        "ride_type": ride_type,
        "pickup_latitude": pickup[0],
        "pickup_longitude": pickup[1],
        "dropoff_latitude": dropoff[0],
        "dropoff_longitude": dropoff[1],
    }


def test_defaults():
    assert settings.RIDE_MAX_DISTANCE_KM == bounds.RIDE_MAX_DISTANCE_KM == 100
    assert settings.SERVICE_AREA == [bounds.SERVICE_AREA_CAMEROON]
    for city in (YAOUNDE, DOUALA, BAFOUSSAM, (10.5956, 14.3247), (2.9373, 9.9077)):  # ... Maroua, Kribi
        assert in_service_area(*city)
    for elsewhere in ((0.3901, 9.4544), (6.5244, 3.3792), (48.85, 2.35)):  # Libreville, Lagos, Paris
        assert not in_service_area(*elsewhere)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_trip_in_town_is_served(passenger, endpoint):
    response = api_client_for(passenger).post(endpoint, trip(DOUALA, (4.07, 9.74)), format="json")
    assert response.status_code in (200, 201), response.data


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_trip_longer_than_the_longest_is_a_400(passenger, endpoint):
    response = api_client_for(passenger).post(endpoint, trip(YAOUNDE, DOUALA), format="json")

    assert response.status_code == 400
    assert response.data["code"] == "trip_too_long"
    assert isinstance(response.data["detail"], str)
    assert response.data["max_distance_km"] == 100
    assert response.data["distance_km"] == pytest.approx(193.686, abs=0.01)
    assert not Ride.objects.exists()


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_pickup_outside_the_service_area_is_a_400(passenger, endpoint):
    libreville = (0.3901, 9.4544)
    response = api_client_for(passenger).post(endpoint, trip(libreville, (0.40, 9.46)), format="json")

    assert response.status_code == 400
    assert response.data["code"] == "outside_service_area"
    assert isinstance(response.data["detail"], str)
    assert not Ride.objects.exists()


def test_the_longest_trip_is_configurable(passenger):
    client = api_client_for(passenger)
    body = trip(YAOUNDE, BAFOUSSAM)  # ~ 220 km
    assert client.post("/api/v1/rides/estimate/", body, format="json").data["code"] == "trip_too_long"
    with override_settings(RIDE_MAX_DISTANCE_KM=250):
        assert client.post("/api/v1/rides/estimate/", body, format="json").status_code == 200


@override_settings(SERVICE_AREA=[(3.70, 11.40, 4.00, 11.65), (3.90, 9.60, 4.20, 9.90)])  # Yaoundé; Douala
def test_the_service_area_can_be_several_cities(passenger):
    client = api_client_for(passenger)
    assert client.post("/api/v1/rides/estimate/", trip(YAOUNDE, (3.87, 11.52)), format="json").status_code == 200
    assert client.post("/api/v1/rides/estimate/", trip(DOUALA, (4.07, 9.74)), format="json").status_code == 200
    response = client.post("/api/v1/rides/estimate/", trip(BAFOUSSAM, (5.48, 10.42)), format="json")
    assert response.data["code"] == "outside_service_area"


def test_field_errors_come_before_the_bounds(passenger):
    body = {**trip((0.39, 9.45), YAOUNDE), "ride_type": "bus"}
    response = api_client_for(passenger).post("/api/v1/rides/", body, format="json")
    assert response.data["code"] == "validation_error"


@pytest.mark.parametrize(
    "value, expected",
    [
        (None, [bounds.SERVICE_AREA_CAMEROON]),  # unset
        ("3.7,11.4,4.0,11.65", [(3.7, 11.4, 4.0, 11.65)]),
        ("3.7,11.4,4.0,11.65; 3.9,9.6,4.2,9.9", [(3.7, 11.4, 4.0, 11.65), (3.9, 9.6, 4.2, 9.9)]),
    ],
)
def test_service_area_from_the_environment(monkeypatch, value, expected):
    from rideshare.settings.environment import env

    if value is None:
        monkeypatch.delenv("SERVICE_AREA", raising=False)
    else:
        monkeypatch.setenv("SERVICE_AREA", value)
    assert env.boxes("SERVICE_AREA", bounds.SERVICE_AREA_CAMEROON) == expected


@pytest.mark.parametrize("value", ["1,2,3", "4,11,3,12", "a,b,c,d", ""])
def test_a_malformed_service_area_is_refused_at_startup(monkeypatch, value):
    from environs import EnvError

    from rideshare.settings.environment import env

    monkeypatch.setenv("SERVICE_AREA", value)
    with pytest.raises(EnvError, match="SERVICE_AREA"):
        env.boxes("SERVICE_AREA", bounds.SERVICE_AREA_CAMEROON)
