"""Requesting, reading and listing rides; validation, error shape and mass assignment."""

import uuid

import pytest
from django.test import override_settings

from rides.models import Ride, RideStatus
from rideshare.tests.factories import TRIP, DriverFactory, UserFactory, api_client_for, ride_in_status

S = RideStatus


def request_ride(user, **overrides):
    return api_client_for(user).post("/api/v1/rides/", {**TRIP, **overrides}, format="json")


# --- Requesting ------------------------------------------------------------------------------


def test_passenger_requests_a_ride_with_a_server_computed_fare(passenger):
    response = request_ride(passenger)

    assert response.status_code == 201, response.data
    data = response.data
    assert data["status"] == "requested"
    assert data["passenger_id"] == str(passenger.pk)
    assert data["driver_id"] is None and data["driver"] is None
    estimate = api_client_for(passenger).post("/api/v1/rides/estimate/", TRIP, format="json").data
    assert data["estimated_fare"] == estimate["estimated_fare"]
    assert data["distance_km"] == estimate["distance_km"]
    assert data["final_fare"] is None
    ride = Ride.objects.get(pk=data["ride_id"])
    assert (ride.pickup_latitude, ride.pickup_longitude) == (3.848, 11.502)
    assert (ride.dropoff_latitude, ride.dropoff_longitude) == (3.866, 11.516)


@pytest.mark.parametrize("active_status", [S.REQUESTED, S.ACCEPTED, S.DRIVER_ARRIVED, S.STARTED])
def test_passenger_cannot_request_a_second_ride_while_one_is_active(active_status, passenger):
    active = ride_in_status(active_status, passenger=passenger)

    response = request_ride(passenger)

    assert response.status_code == 409
    assert response.data["code"] == "active_ride_exists"
    assert response.data["ride_id"] == str(active.pk)
    assert Ride.objects.filter(passenger=passenger).count() == 1


@pytest.mark.parametrize("finished_status", [S.COMPLETED, S.CANCELLED])
def test_passenger_may_request_again_once_the_last_ride_ended(finished_status, passenger):
    ride_in_status(finished_status, passenger=passenger)
    assert request_ride(passenger).status_code == 201


@pytest.mark.parametrize(
    "field, value",
    [
        ("ride_type", "bus"),
        ("ride_type", ""),
        ("pickup_latitude", 90.01),
        ("pickup_latitude", -90.01),
        ("pickup_longitude", 180.01),
        ("pickup_longitude", -180.01),
        ("dropoff_latitude", 123),
        ("dropoff_longitude", -200),
        ("pickup_latitude", "nan"),
        ("pickup_longitude", "Infinity"),
        ("dropoff_latitude", "-inf"),
        ("dropoff_longitude", True),
        ("pickup_latitude", "north"),
        ("pickup_latitude", None),
        ("dropoff_longitude", [1]),
    ],
)
@pytest.mark.parametrize("endpoint", ["/api/v1/rides/", "/api/v1/rides/estimate/"])
def test_invalid_trip_is_a_400_naming_the_field(endpoint, field, value, passenger):
    response = api_client_for(passenger).post(endpoint, {**TRIP, field: value}, format="json")

    assert response.status_code == 400
    assert response.data["code"] == "validation_error"
    assert list(response.data["errors"]) == [field]
    assert response.data["detail"].startswith(f"{field}: ")
    assert not Ride.objects.exists()


@pytest.mark.parametrize("missing", list(TRIP))
def test_missing_trip_field_is_a_400_naming_it(missing, passenger):
    body = {k: v for k, v in TRIP.items() if k != missing}
    response = api_client_for(passenger).post("/api/v1/rides/", body, format="json")
    assert response.status_code == 400
    assert list(response.data["errors"]) == [missing]


# The coordinates' own bounds; the service area and the longest trip (rides/trips.py, tested in
# test_trip_bounds.py) would refuse this trip, so they are opened to the whole globe here.
@override_settings(SERVICE_AREA=[(-90, -180, 90, 180)], RIDE_MAX_DISTANCE_KM=20100)
def test_trip_on_the_extreme_coordinates_is_accepted(passenger):
    response = request_ride(
        passenger, pickup_latitude=90, pickup_longitude=-180, dropoff_latitude=-90, dropoff_longitude=180
    )
    assert response.status_code == 201, response.data


def test_malformed_json_is_a_400_in_the_error_shape(passenger):
    response = api_client_for(passenger).post(
        "/api/v1/rides/", data='{"ride_type": NaN', content_type="application/json"
    )
    assert response.status_code == 400
    assert response.data["code"] == "parse_error"
    assert isinstance(response.data["detail"], str)


def test_json_nan_literal_is_refused(passenger):
    body = '{"ride_type": "moto", "pickup_latitude": NaN, "pickup_longitude": 11.5, ' \
           '"dropoff_latitude": 3.9, "dropoff_longitude": 11.5}'
    response = api_client_for(passenger).post("/api/v1/rides/", data=body, content_type="application/json")
    assert response.status_code == 400
    assert not Ride.objects.exists()


# --- Mass assignment -------------------------------------------------------------------------


def test_client_cannot_set_status_driver_passenger_or_fares_when_requesting(passenger, driver):
    someone_else = UserFactory()
    response = request_ride(
        passenger,
        status="completed",
        driver=str(driver.pk),
        driver_id=str(driver.pk),
        passenger=str(someone_else.pk),
        passenger_id=str(someone_else.pk),
        estimated_fare=1,
        final_fare=1,
        distance_km=0.001,
        accepted_at="2020-01-01T00:00:00Z",
        cancelled_by="admin",
        ride_id=str(uuid.uuid4()),
        id=str(uuid.uuid4()),
    )

    assert response.status_code == 201, response.data
    ride = Ride.objects.get(pk=response.data["ride_id"])
    assert ride.status == S.REQUESTED
    assert ride.driver_id is None
    assert ride.passenger_id == passenger.pk
    assert ride.estimated_fare == 700 and ride.final_fare is None
    assert ride.distance_km == pytest.approx(2.533, abs=0.01)
    assert ride.accepted_at is None and ride.cancelled_by == ""
    assert not Ride.objects.filter(passenger=someone_else).exists()


def test_body_of_a_transition_cannot_choose_the_driver_or_status(passenger, driver):
    ride = ride_in_status(S.REQUESTED, passenger=passenger)
    other = DriverFactory()
    response = api_client_for(driver.user).post(
        f"/api/v1/rides/{ride.pk}/accept/",
        {"driver": str(other.pk), "driver_id": str(other.pk), "status": "completed", "final_fare": 1},
        format="json",
    )
    assert response.status_code == 200
    ride.refresh_from_db()
    assert (ride.status, ride.driver_id, ride.final_fare) == (S.ACCEPTED, driver.pk, None)


def test_cancel_body_cannot_choose_who_cancelled_or_the_status(passenger):
    ride = ride_in_status(S.REQUESTED, passenger=passenger)
    response = api_client_for(passenger).post(
        f"/api/v1/rides/{ride.pk}/cancel/",
        {"cancelled_by": "admin", "status": "completed", "final_fare": 5},
        format="json",
    )
    assert response.status_code == 200
    ride.refresh_from_db()
    assert (ride.status, ride.cancelled_by, ride.final_fare) == (S.CANCELLED, "passenger", None)


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_ride_cannot_be_edited_or_deleted_directly(method, passenger):
    ride = ride_in_status(S.REQUESTED, passenger=passenger)
    before = Ride.objects.filter(pk=ride.pk).values().get()
    response = getattr(api_client_for(passenger), method)(
        f"/api/v1/rides/{ride.pk}/", {"status": "completed", "estimated_fare": 1}, format="json"
    )
    assert response.status_code == 405
    assert response.data["code"] == "method_not_allowed"
    assert Ride.objects.filter(pk=ride.pk).values().get() == before


# --- Reading ---------------------------------------------------------------------------------


def test_passenger_and_assigned_driver_can_read_the_ride(passenger, driver):
    ride = ride_in_status(S.ACCEPTED, passenger=passenger, driver=driver)
    for user in (passenger, driver.user):
        response = api_client_for(user).get(f"/api/v1/rides/{ride.pk}/")
        assert response.status_code == 200
        assert response.data["ride_id"] == str(ride.pk)
    assert response.data["driver"]["full_name"] == "Jean Moto"
    assert response.data["driver"]["vehicle_plate"] == driver.vehicle_plate


def test_staff_can_read_any_ride(staff_user, ride):
    response = api_client_for(staff_user).get(f"/api/v1/rides/{ride.pk}/")
    assert response.status_code == 200
    assert response.data["ride_id"] == str(ride.pk)


@pytest.mark.parametrize("stranger_is_driver", [False, True])
def test_a_ride_that_is_not_yours_is_404_like_an_unknown_one(stranger_is_driver, ride):
    stranger = DriverFactory().user if stranger_is_driver else UserFactory()
    client = api_client_for(stranger)
    theirs = client.get(f"/api/v1/rides/{ride.pk}/")
    unknown = client.get(f"/api/v1/rides/{uuid.uuid4()}/")
    garbage = client.get("/api/v1/rides/not-a-uuid/")
    assert theirs.status_code == unknown.status_code == garbage.status_code == 404
    assert theirs.data == unknown.data == garbage.data == {"detail": "Ride not found.", "code": "ride_not_found"}


def test_reading_rides_needs_authentication(ride):
    for path in ["/api/v1/rides/", f"/api/v1/rides/{ride.pk}/"]:
        response = api_client_for(None).get(path)
        assert response.status_code == 401
        assert response.data["code"] == "not_authenticated"
    assert api_client_for(None).post("/api/v1/rides/", TRIP, format="json").status_code == 401
    assert api_client_for(None).post("/api/v1/rides/estimate/", TRIP, format="json").status_code == 401


def test_invalid_token_is_401_in_the_error_shape(ride):
    client = api_client_for(None)
    client.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")
    response = client.get("/api/v1/rides/")
    assert response.status_code == 401
    assert response.data["code"] == "token_not_valid"
    assert isinstance(response.data["detail"], str)


# --- Listing ---------------------------------------------------------------------------------


@pytest.fixture
def history(passenger, driver):
    """The passenger's rides: two finished and one active (with `driver`); plus a stranger's ride."""
    rides = {
        "completed": ride_in_status(S.COMPLETED, passenger=passenger, driver=driver),
        "cancelled": ride_in_status(S.CANCELLED, passenger=passenger, driver=None),
        "started": ride_in_status(S.STARTED, passenger=passenger, driver=driver),
        "strangers": ride_in_status(S.REQUESTED),
    }
    return rides


def ids(response):
    assert response.status_code == 200, response.data
    return {item["ride_id"] for item in response.data}


def test_list_shows_only_my_rides_as_passenger(passenger, history):
    assert ids(api_client_for(passenger).get("/api/v1/rides/")) == {
        str(history[k].pk) for k in ("completed", "cancelled", "started")
    }


def test_list_shows_only_my_rides_as_driver(driver, history):
    assert ids(api_client_for(driver.user).get("/api/v1/rides/")) == {
        str(history[k].pk) for k in ("completed", "started")
    }


def test_list_is_newest_first(passenger, history):
    listed = api_client_for(passenger).get("/api/v1/rides/").data
    times = [item["requested_at"] for item in listed]
    assert times == sorted(times, reverse=True)


def test_list_filters_by_status(passenger, history):
    client = api_client_for(passenger)
    assert ids(client.get("/api/v1/rides/?status=completed")) == {str(history["completed"].pk)}
    assert ids(client.get("/api/v1/rides/?status=completed&status=cancelled")) == {
        str(history["completed"].pk), str(history["cancelled"].pk)
    }
    assert ids(client.get("/api/v1/rides/?status=accepted")) == set()


def test_list_filters_active(passenger, driver, history):
    assert ids(api_client_for(passenger).get("/api/v1/rides/?active=true")) == {str(history["started"].pk)}
    assert ids(api_client_for(driver.user).get("/api/v1/rides/?active=true")) == {str(history["started"].pk)}
    assert ids(api_client_for(passenger).get("/api/v1/rides/?active=false")) == {
        str(history["completed"].pk), str(history["cancelled"].pk)
    }


@pytest.mark.parametrize("query, field", [("status=flying", "status"), ("active=maybe", "active")])
def test_list_with_an_invalid_filter_is_a_400(query, field, passenger):
    response = api_client_for(passenger).get(f"/api/v1/rides/?{query}")
    assert response.status_code == 400
    assert response.data["code"] == "validation_error"
    assert list(response.data["errors"]) == [field]

