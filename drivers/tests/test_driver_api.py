"""A driver's own profile, availability and reported position."""

import pytest

from drivers.models import Driver
from rideshare.tests.factories import DriverFactory, api_client_for

LOCATION = "/api/v1/drivers/me/location/"


def driver_row(driver):
    return Driver.objects.filter(pk=driver.pk).values().get()


# --- Profile ---------------------------------------------------------------------------------


def test_driver_reads_own_profile(driver):
    response = api_client_for(driver.user).get("/api/v1/drivers/me/")
    assert response.status_code == 200
    assert response.data["driver_id"] == str(driver.user_id)
    assert response.data["full_name"] == "Jean Moto"
    assert response.data["vehicle_type"] == "moto"
    assert response.data["is_online"] is True
    assert response.data["rating"] == 5.0  # DRIVER_DEFAULT_RATING: nobody rated this driver yet


def test_driver_updates_vehicle_details(driver):
    response = api_client_for(driver.user).patch(
        "/api/v1/drivers/me/", {"vehicle_color": "Blue", "vehicle_plate": "LT-123-AB"}, format="json"
    )
    assert response.status_code == 200, response.data
    driver.refresh_from_db()
    assert (driver.vehicle_color, driver.vehicle_plate) == ("Blue", "LT-123-AB")


def test_driver_cannot_mass_assign_rating_status_position_or_identity(driver, passenger):
    before = driver_row(driver)
    response = api_client_for(driver.user).patch(
        "/api/v1/drivers/me/",
        {
            "rating": 5.0,
            "is_online": False,
            "latitude": 0.0,
            "longitude": 0.0,
            "heading": 90,
            "speed": 99,
            "location_updated_at": "2020-01-01T00:00:00Z",
            "driver_id": str(passenger.pk),
            "user": str(passenger.pk),
            "full_name": "Someone Else",
        },
        format="json",
    )
    assert response.status_code == 200, response.data
    assert driver_row(driver) == before
    driver.user.refresh_from_db()
    assert driver.user.full_name == "Jean Moto"
    assert not Driver.objects.filter(pk=passenger.pk).exists()


@pytest.mark.parametrize(
    "field, value",
    [("vehicle_type", "bus"), ("vehicle_plate", "X" * 21), ("vehicle_color", "C" * 31), ("vehicle_plate", "")],
)
def test_invalid_profile_update_is_a_400_naming_the_field(field, value, driver):
    before = driver_row(driver)
    response = api_client_for(driver.user).patch("/api/v1/drivers/me/", {field: value}, format="json")
    assert response.status_code == 400
    assert response.data["code"] == "validation_error"
    assert list(response.data["errors"]) == [field]
    assert driver_row(driver) == before


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/api/v1/drivers/me/"),
        ("patch", "/api/v1/drivers/me/"),
        ("post", "/api/v1/drivers/me/online/"),
        ("post", "/api/v1/drivers/me/offline/"),
        ("post", LOCATION),
    ],
)
def test_passenger_without_driver_profile_gets_403(method, path, passenger):
    response = getattr(api_client_for(passenger), method)(
        path, {"latitude": 3.8, "longitude": 11.5, "vehicle_color": "Blue"}, format="json"
    )
    assert response.status_code == 403
    assert response.data == {"detail": "This action needs a driver account.", "code": "not_a_driver"}
    assert not Driver.objects.filter(pk=passenger.pk).exists()


@pytest.mark.parametrize("path", ["/api/v1/drivers/me/", "/api/v1/drivers/me/online/", LOCATION])
def test_driver_endpoints_need_authentication(path, driver):
    response = api_client_for(None).post(path, {"latitude": 3.8, "longitude": 11.5}, format="json")
    assert response.status_code == 401
    assert response.data["code"] == "not_authenticated"


# --- Availability ----------------------------------------------------------------------------


def test_driver_goes_offline_and_online(driver):
    client = api_client_for(driver.user)

    response = client.post("/api/v1/drivers/me/offline/")
    assert response.status_code == 200
    assert response.data["is_online"] is False
    driver.refresh_from_db()
    assert driver.is_online is False

    assert client.post("/api/v1/drivers/me/offline/").data["is_online"] is False  # idempotent

    response = client.post("/api/v1/drivers/me/online/")
    assert response.status_code == 200
    assert response.data["is_online"] is True
    driver.refresh_from_db()
    assert driver.is_online is True


# --- Position --------------------------------------------------------------------------------


def test_driver_reports_position(db):
    driver = DriverFactory(latitude=None, longitude=None, heading=None, speed=None, location_updated_at=None)
    response = api_client_for(driver.user).post(
        LOCATION, {"latitude": 4.0511, "longitude": 9.7679, "heading": 270, "speed": 32.5}, format="json"
    )
    assert response.status_code == 200, response.data
    driver.refresh_from_db()
    assert (driver.latitude, driver.longitude, driver.heading, driver.speed) == (4.0511, 9.7679, 270, 32.5)
    assert driver.location_updated_at is not None
    assert response.data["latitude"] == 4.0511 and response.data["longitude"] == 9.7679


def test_heading_and_speed_are_optional_and_cleared_when_omitted(driver):
    response = api_client_for(driver.user).post(LOCATION, {"latitude": 3.9, "longitude": 11.6}, format="json")
    assert response.status_code == 200, response.data
    driver.refresh_from_db()
    assert (driver.latitude, driver.longitude, driver.heading, driver.speed) == (3.9, 11.6, None, None)


@pytest.mark.parametrize("heading, stored", [(0, 0), (359, 359), (90.4, 90), (180.6, 181)])
def test_heading_is_stored_as_whole_degrees(heading, stored, driver):
    response = api_client_for(driver.user).post(
        LOCATION, {"latitude": 3.9, "longitude": 11.6, "heading": heading}, format="json"
    )
    assert response.status_code == 200, response.data
    driver.refresh_from_db()
    assert driver.heading == stored


@pytest.mark.parametrize(
    "body",
    [
        {"latitude": 90, "longitude": 180},
        {"latitude": -90, "longitude": -180},
        {"latitude": 0, "longitude": 0, "heading": 0, "speed": 0},
        {"latitude": "3.85", "longitude": "11.5"},
    ],
)
def test_position_at_the_limits_is_accepted(body, driver):
    response = api_client_for(driver.user).post(LOCATION, body, format="json")
    assert response.status_code == 200, response.data
    driver.refresh_from_db()
    assert driver.latitude == float(body["latitude"]) and driver.longitude == float(body["longitude"])


@pytest.mark.parametrize(
    "field, value",
    [
        ("latitude", 90.0001),
        ("latitude", -91),
        ("latitude", "nan"),
        ("latitude", "inf"),
        ("latitude", True),
        ("latitude", None),
        ("latitude", "somewhere"),
        ("longitude", 180.0001),
        ("longitude", -181),
        ("longitude", "-Infinity"),
        ("longitude", False),
        ("longitude", {}),
        ("heading", -1),
        ("heading", 360),
        ("heading", "NaN"),
        ("speed", -0.1),
        ("speed", "inf"),
        ("speed", "fast"),
    ],
)
def test_invalid_position_is_a_400_naming_the_field(field, value, driver):
    before = driver_row(driver)
    body = {"latitude": 3.9, "longitude": 11.6, "heading": 10, "speed": 5, field: value}
    response = api_client_for(driver.user).post(LOCATION, body, format="json")
    assert response.status_code == 400
    assert response.data["code"] == "validation_error"
    assert list(response.data["errors"]) == [field]
    assert response.data["detail"].startswith(f"{field}: ")
    assert driver_row(driver) == before


def test_json_number_overflowing_to_infinity_is_refused(driver):
    before = driver_row(driver)
    response = api_client_for(driver.user).post(
        LOCATION, data='{"latitude": 3.9, "longitude": 1e400}', content_type="application/json"
    )
    assert response.status_code == 400
    assert list(response.data["errors"]) == ["longitude"]
    assert driver_row(driver) == before


@pytest.mark.parametrize("missing", ["latitude", "longitude"])
def test_position_without_a_coordinate_is_a_400(missing, driver):
    body = {"latitude": 3.9, "longitude": 11.6}
    del body[missing]
    response = api_client_for(driver.user).post(LOCATION, body, format="json")
    assert response.status_code == 400
    assert list(response.data["errors"]) == [missing]


# --- the socket's fast path agrees with the serializer ----------------------------------------------
