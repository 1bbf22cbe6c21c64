"""GET /api/v1/drivers/nearby/: online idle drivers of the type within the radius, nearest first."""

import math
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from drivers.models import VehicleType
from rides.models import RideStatus
from rideshare.tests.factories import YAOUNDE, DriverFactory, api_client_for, ride_in_status

R = 6371.0088


def great_circle_km(lat1, lon1, lat2, lon2):
    """Independent of the app: the spherical law of cosines."""
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    c = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl)
    return R * math.acos(max(-1.0, min(1.0, c)))


def place(lat, lon, **kwargs):
    return DriverFactory(latitude=lat, longitude=lon, **kwargs)


def nearby(user, lat, lon, ride_type="moto"):
    response = api_client_for(user).get(
        "/api/v1/drivers/nearby/", {"latitude": lat, "longitude": lon, "ride_type": ride_type}
    )
    assert response.status_code == 200, response.data
    return response.data


def positions(results):
    return [(d["latitude"], d["longitude"]) for d in results]


def test_nearby_settings_are_the_documented_ones():
    assert settings.NEARBY_RADIUS_KM == 5.0
    assert settings.DRIVER_POSITION_MAX_AGE_SECONDS == 120


def test_driver_0_04_degrees_east_of_yaounde_is_within_5_km_but_0_05_north_is_not(passenger):
    lat, lon = YAOUNDE
    place(lat, lon + 0.04)  # ~4.4 km at 3.8°N
    place(lat + 0.05, lon)  # ~5.6 km anywhere
    assert great_circle_km(lat, lon, lat, lon + 0.04) == pytest.approx(4.44, abs=0.01)
    assert great_circle_km(lat, lon, lat + 0.05, lon) == pytest.approx(5.56, abs=0.01)

    results = nearby(passenger, lat, lon)

    assert positions(results) == [(lat, lon + 0.04)]
    assert results[0]["distance_km"] == pytest.approx(great_circle_km(lat, lon, lat, lon + 0.04), abs=1e-6)


def test_longitude_is_scaled_by_latitude_far_from_the_equator(passenger):
    helsinki = (60.17, 24.94)  # a degree of longitude is half as long here
    lat, lon = helsinki
    place(lat, lon + 0.08)  # ~4.4 km: only found if longitude degrees are shrunk by cos(60°)
    place(lat, lon - 0.1)  # ~5.5 km: out
    place(lat + 0.05, lon)  # ~5.6 km: out
    place(lat - 0.04, lon)  # ~4.4 km: in

    results = nearby(passenger, lat, lon)

    assert sorted(positions(results)) == sorted([(lat, lon + 0.08), (lat - 0.04, lon)])
    for item in results:
        assert item["distance_km"] == pytest.approx(
            great_circle_km(lat, lon, item["latitude"], item["longitude"]), abs=1e-6
        )
        assert item["distance_km"] <= 5.0


def test_nearby_works_south_and_west(passenger):
    rio = (-22.9068, -43.1729)
    lat, lon = rio
    place(lat - 0.03, lon - 0.03)  # ~4.5 km south-west: in
    place(lat + 0.03, lon + 0.04)  # ~5.6 km north-east: out
    place(-lat, -lon)  # the mirror point in the north-east: nowhere near

    assert positions(nearby(passenger, lat, lon)) == [(lat - 0.03, lon - 0.03)]


def test_latitude_and_longitude_are_not_swapped(passenger):
    place(*YAOUNDE)
    place(YAOUNDE[1], YAOUNDE[0])  # the swapped point, ~900 km away in Nigeria

    assert positions(nearby(passenger, *YAOUNDE)) == [YAOUNDE]
    assert positions(nearby(passenger, YAOUNDE[1], YAOUNDE[0])) == [(YAOUNDE[1], YAOUNDE[0])]


@pytest.mark.parametrize("bearing", ["north", "south", "east", "west"])
def test_driver_just_inside_the_radius_is_found_in_every_direction(bearing, passenger):
    lat, lon = YAOUNDE
    km = 4.997  # within 6 m of the edge
    dlat = math.degrees(km / R)
    dlon = math.degrees(km / (R * math.cos(math.radians(lat))))
    offset = {"north": (dlat, 0), "south": (-dlat, 0), "east": (0, dlon), "west": (0, -dlon)}[bearing]
    place(lat + offset[0], lon + offset[1])

    results = nearby(passenger, lat, lon)

    assert len(results) == 1
    assert results[0]["distance_km"] == pytest.approx(km, abs=0.001)


def test_results_are_nearest_first(passenger):
    lat, lon = YAOUNDE
    for km in (3.0, 0.5, 4.5, 1.5):
        place(lat + math.degrees(km / R), lon)

    distances = [d["distance_km"] for d in nearby(passenger, lat, lon)]

    assert distances == pytest.approx([0.5, 1.5, 3.0, 4.5], abs=0.001)


def test_results_are_limited(passenger, settings):
    settings.NEARBY_LIMIT = 2
    lat, lon = YAOUNDE
    for km in (3.0, 0.5, 4.5, 1.5):
        place(lat + math.degrees(km / R), lon)

    distances = [d["distance_km"] for d in nearby(passenger, lat, lon)]

    assert distances == pytest.approx([0.5, 1.5], abs=0.001)


def test_radius_follows_settings(passenger, settings):
    settings.NEARBY_RADIUS_KM = 2.0
    lat, lon = YAOUNDE
    place(lat + math.degrees(1.9 / R), lon)
    place(lat + math.degrees(2.1 / R), lon)

    assert [round(d["distance_km"], 1) for d in nearby(passenger, lat, lon)] == [1.9]


def test_only_drivers_of_the_requested_type(passenger):
    place(*YAOUNDE, vehicle_type=VehicleType.MOTO, vehicle_color="Red")
    place(*YAOUNDE, vehicle_type=VehicleType.CAR, vehicle_color="Black")

    assert [d["vehicle_color"] for d in nearby(passenger, *YAOUNDE, "moto")] == ["Red"]
    assert [d["vehicle_color"] for d in nearby(passenger, *YAOUNDE, "car")] == ["Black"]


def test_offline_drivers_are_not_listed(passenger):
    place(*YAOUNDE, is_online=False)
    assert nearby(passenger, *YAOUNDE) == []


def test_drivers_who_never_reported_a_position_are_not_listed(passenger):
    DriverFactory(latitude=None, longitude=None, location_updated_at=None)
    assert nearby(passenger, *YAOUNDE) == []


def test_stale_positions_are_not_listed(passenger, settings):
    max_age = settings.DRIVER_POSITION_MAX_AGE_SECONDS
    now = timezone.now()
    place(*YAOUNDE, vehicle_color="Fresh", location_updated_at=now - timedelta(seconds=max_age - 10))
    place(*YAOUNDE, vehicle_color="Stale", location_updated_at=now - timedelta(seconds=max_age + 10))

    assert [d["vehicle_color"] for d in nearby(passenger, *YAOUNDE)] == ["Fresh"]

    settings.DRIVER_POSITION_MAX_AGE_SECONDS = max_age + 60
    assert sorted(d["vehicle_color"] for d in nearby(passenger, *YAOUNDE)) == ["Fresh", "Stale"]


@pytest.mark.parametrize("status", [RideStatus.ACCEPTED, RideStatus.DRIVER_ARRIVED, RideStatus.STARTED])
def test_drivers_with_an_active_ride_are_not_listed(status, passenger):
    busy = place(*YAOUNDE)
    ride_in_status(status, driver=busy)
    assert nearby(passenger, *YAOUNDE) == []


@pytest.mark.parametrize("status", [RideStatus.COMPLETED, RideStatus.CANCELLED])
def test_drivers_whose_rides_ended_are_listed(status, passenger):
    idle = place(*YAOUNDE)
    ride_in_status(status, driver=idle)
    assert len(nearby(passenger, *YAOUNDE)) == 1


def test_a_driver_does_not_see_themselves(driver):
    other = place(YAOUNDE[0] + 0.01, YAOUNDE[1])
    assert positions(nearby(driver.user, *YAOUNDE)) == [(other.latitude, other.longitude)]


def test_nearby_shows_position_and_vehicle_but_no_identity(passenger):
    found = place(*YAOUNDE, user__full_name="Secret Name", vehicle_plate="CE-777-ZZ", heading=45)

    (item,) = nearby(passenger, *YAOUNDE)

    assert set(item) == {"vehicle_type", "vehicle_color", "latitude", "longitude", "heading", "distance_km"}
    assert item["heading"] == 45
    text = str(item)
    for secret in ("Secret Name", found.user.phone_number, str(found.pk), "CE-777-ZZ"):
        assert secret not in text


@pytest.mark.parametrize(
    "params, field",
    [
        ({"longitude": 11.5, "ride_type": "moto"}, "latitude"),
        ({"latitude": 3.8, "ride_type": "moto"}, "longitude"),
        ({"latitude": 3.8, "longitude": 11.5}, "ride_type"),
        ({"latitude": 91, "longitude": 11.5, "ride_type": "moto"}, "latitude"),
        ({"latitude": 3.8, "longitude": -180.5, "ride_type": "moto"}, "longitude"),
        ({"latitude": "nan", "longitude": 11.5, "ride_type": "moto"}, "latitude"),
        ({"latitude": 3.8, "longitude": "inf", "ride_type": "moto"}, "longitude"),
        ({"latitude": 3.8, "longitude": 11.5, "ride_type": "bus"}, "ride_type"),
    ],
)
def test_invalid_nearby_query_is_a_400_naming_the_field(params, field, passenger):
    response = api_client_for(passenger).get("/api/v1/drivers/nearby/", params)
    assert response.status_code == 400
    assert response.data["code"] == "validation_error"
    assert list(response.data["errors"]) == [field]


def test_nearby_needs_authentication(driver):
    response = api_client_for(None).get(
        "/api/v1/drivers/nearby/", {"latitude": YAOUNDE[0], "longitude": YAOUNDE[1], "ride_type": "moto"}
    )
    assert response.status_code == 401
    assert response.data["code"] == "not_authenticated"


@pytest.mark.django_db
def test_in_a_crowded_centre_the_nearest_are_exactly_the_great_circle_nearest():
    """The database ranks a crowded box and only the nearest few are measured exactly: the
    result is still the great-circle nearest, in order (a ring of drivers at near-equal
    distances, east-west and north-south, where a flat map and the sphere disagree most)."""
    import random

    from drivers.selectors import nearby_drivers

    rng = random.Random(7)
    centre = YAOUNDE
    for _ in range(150):
        place(centre[0] + rng.uniform(-0.03, 0.03), centre[1] + rng.uniform(-0.03, 0.03))
    for i in range(24):  # a ring ~1.1 km out
        angle = 2 * math.pi * i / 24
        place(centre[0] + 0.01 * math.sin(angle), centre[1] + 0.01 * math.cos(angle))
    from drivers.models import Driver

    def km(driver):
        return round(great_circle_km(*centre, driver.latitude, driver.longitude), 6)

    everyone = sorted(km(d) for d in Driver.objects.all())
    for limit in (5, 10, 40):
        found = nearby_drivers(*centre, vehicle_type="moto", radius_km=5, limit=limit)
        # Symmetric points of the ring tie: the distances, in order, are what must match.
        assert [km(d) for d in found] == everyone[:limit]
