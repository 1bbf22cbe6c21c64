"""The ride state machine over REST: who may do what, from which status.

requested → accepted → driver_arrived → started → completed;
cancelled from requested, accepted or driver_arrived, by the passenger or the assigned driver.

Every (action, role, status) combination is listed: the allowed ones must succeed, every other
one must be refused with the exact status and `code`, leaving the ride row untouched.
"""

import uuid

import pytest

from drivers.models import VehicleType
from rides.models import Ride, RideStatus
from rideshare.tests.factories import DriverFactory, UserFactory, api_client_for, ride_in_status

S = RideStatus
ACTIONS = ["accept", "arrived", "start", "complete", "cancel"]
ROLES = ["passenger", "assigned_driver", "other_driver", "unrelated_passenger", "staff"]
STATUSES = list(RideStatus)
STATUSES_WITH_DRIVER = [s for s in STATUSES if s != S.REQUESTED]

# (action, role, from status) -> status after the action. Nothing else is allowed.
ALLOWED = {
    ("accept", "other_driver", S.REQUESTED): S.ACCEPTED,
    ("arrived", "assigned_driver", S.ACCEPTED): S.DRIVER_ARRIVED,
    ("start", "assigned_driver", S.DRIVER_ARRIVED): S.STARTED,
    ("complete", "assigned_driver", S.STARTED): S.COMPLETED,
    ("cancel", "passenger", S.REQUESTED): S.CANCELLED,
    ("cancel", "passenger", S.ACCEPTED): S.CANCELLED,
    ("cancel", "passenger", S.DRIVER_ARRIVED): S.CANCELLED,
    ("cancel", "assigned_driver", S.ACCEPTED): S.CANCELLED,
    ("cancel", "assigned_driver", S.DRIVER_ARRIVED): S.CANCELLED,
}

NON_DRIVERS = {"passenger", "unrelated_passenger", "staff"}
NON_PARTICIPANTS = {"other_driver", "unrelated_passenger", "staff"}
DRIVER_ONLY_ACTIONS = {"arrived", "start", "complete"}


def refusal(action, role):
    """(HTTP status, code) for a refused action; 409 invalid_transition means "right person, wrong status"."""
    if action == "accept" and role in NON_DRIVERS:
        return 403, "not_a_driver"
    if action != "accept" and role in NON_PARTICIPANTS:
        # Not yours: indistinguishable from a ride that does not exist.
        return 404, "ride_not_found"
    if action in DRIVER_ONLY_ACTIONS and role == "passenger":
        return 403, "not_ride_driver"
    return 409, "invalid_transition"


def all_cases():
    for action in ACTIONS:
        for status in STATUSES:
            for role in ROLES:
                if role == "assigned_driver" and status not in STATUSES_WITH_DRIVER:
                    continue  # a requested ride has no driver yet
                yield action, role, status


FORBIDDEN = [case for case in all_cases() if case not in ALLOWED]


def case_id(case):
    action, role, status = case
    return f"{role}-{action}-{status}"


@pytest.fixture
def actors(passenger, driver, staff_user):
    """The five roles around one ride; the ride's driver (when it has one) is `driver`."""
    return {
        "passenger": passenger,
        "assigned_driver": driver.user,
        "other_driver": DriverFactory(user__full_name="Other Moto").user,
        "unrelated_passenger": UserFactory(),
        "staff": staff_user,
    }


def make_ride(status, passenger, driver):
    return ride_in_status(status, passenger=passenger, driver=None if status == S.REQUESTED else driver)


def row(ride):
    return Ride.objects.filter(pk=ride.pk).values().get()


def test_the_table_covers_every_action_role_and_status():
    assert len(ALLOWED) + len(FORBIDDEN) == len(ACTIONS) * (len(STATUSES) * len(ROLES) - 1)
    assert {s for _, _, s in FORBIDDEN} == set(STATUSES)


@pytest.mark.parametrize("case", list(ALLOWED), ids=case_id)
def test_allowed_transition_succeeds(case, actors, passenger, driver):
    action, role, status = case
    ride = make_ride(status, passenger, driver)
    actor = actors[role]

    response = api_client_for(actor).post(f"/api/v1/rides/{ride.pk}/{action}/", format="json")

    assert response.status_code == 200, response.data
    expected = ALLOWED[case]
    assert response.data["status"] == expected
    ride.refresh_from_db()
    assert ride.status == expected
    timestamp = {
        S.ACCEPTED: "accepted_at",
        S.DRIVER_ARRIVED: "arrived_at",
        S.STARTED: "started_at",
        S.COMPLETED: "completed_at",
        S.CANCELLED: "cancelled_at",
    }[expected]
    assert getattr(ride, timestamp) is not None
    assert response.data[timestamp] is not None
    if action == "accept":
        assert ride.driver_id == actor.pk
        assert response.data["driver_id"] == str(actor.pk)
    if action == "cancel":
        assert ride.cancelled_by == ("passenger" if role == "passenger" else "driver")
    if action == "complete":
        assert ride.final_fare == ride.estimated_fare


@pytest.mark.parametrize("case", FORBIDDEN, ids=case_id)
def test_forbidden_transition_is_refused_and_leaves_the_ride_unchanged(case, actors, passenger, driver):
    action, role, status = case
    ride = make_ride(status, passenger, driver)
    before = row(ride)

    response = api_client_for(actors[role]).post(f"/api/v1/rides/{ride.pk}/{action}/", format="json")

    expected_status, expected_code = refusal(action, role)
    assert (response.status_code, response.data.get("code")) == (expected_status, expected_code), response.data
    assert isinstance(response.data["detail"], str) and response.data["detail"]
    if expected_status == 409:
        assert response.data["current_status"] == status
    if expected_status == 404:
        assert set(response.data) == {"detail", "code"}
    assert row(ride) == before


# --- The individual rules, named -----------------------------------------------------------


def test_passenger_cannot_start_ride(passenger, driver):
    ride = ride_in_status(S.DRIVER_ARRIVED, passenger=passenger, driver=driver)
    response = api_client_for(passenger).post(f"/api/v1/rides/{ride.pk}/start/")
    assert response.status_code == 403
    assert response.data["code"] == "not_ride_driver"
    ride.refresh_from_db()
    assert ride.status == S.DRIVER_ARRIVED


def test_driver_cannot_accept_a_ride_of_another_vehicle_type(passenger):
    car_driver = DriverFactory(vehicle_type=VehicleType.CAR)
    ride = ride_in_status(S.REQUESTED, passenger=passenger, ride_type=VehicleType.MOTO)
    before = row(ride)

    response = api_client_for(car_driver.user).post(f"/api/v1/rides/{ride.pk}/accept/")

    assert response.status_code == 403
    assert response.data["code"] == "wrong_vehicle_type"
    assert row(ride) == before


def test_offline_driver_cannot_accept(passenger):
    offline = DriverFactory(is_online=False)
    ride = ride_in_status(S.REQUESTED, passenger=passenger)
    before = row(ride)

    response = api_client_for(offline.user).post(f"/api/v1/rides/{ride.pk}/accept/")

    assert response.status_code == 409
    assert response.data["code"] == "driver_offline"
    assert row(ride) == before


@pytest.mark.parametrize("busy_status", [S.ACCEPTED, S.DRIVER_ARRIVED, S.STARTED])
def test_driver_with_an_active_ride_cannot_accept_another(busy_status, driver, passenger):
    ride_in_status(busy_status, driver=driver)
    ride = ride_in_status(S.REQUESTED, passenger=passenger)
    before = row(ride)

    response = api_client_for(driver.user).post(f"/api/v1/rides/{ride.pk}/accept/")

    assert response.status_code == 409
    assert response.data["code"] == "driver_busy"
    assert row(ride) == before


@pytest.mark.parametrize("finished_status", [S.COMPLETED, S.CANCELLED])
def test_driver_whose_last_ride_ended_can_accept_again(finished_status, driver, passenger):
    ride_in_status(finished_status, driver=driver)
    ride = ride_in_status(S.REQUESTED, passenger=passenger)

    response = api_client_for(driver.user).post(f"/api/v1/rides/{ride.pk}/accept/")

    assert response.status_code == 200, response.data
    assert response.data["driver_id"] == str(driver.pk)


def test_driver_cannot_accept_own_ride(db):
    driver_as_passenger = DriverFactory()
    ride = ride_in_status(S.REQUESTED, passenger=driver_as_passenger.user)
    before = row(ride)

    response = api_client_for(driver_as_passenger.user).post(f"/api/v1/rides/{ride.pk}/accept/")

    assert response.status_code == 403
    assert response.data["code"] == "own_ride"
    assert row(ride) == before


def test_second_driver_to_accept_gets_409_with_current_status(passenger, driver):
    ride = ride_in_status(S.REQUESTED, passenger=passenger)
    first = api_client_for(driver.user).post(f"/api/v1/rides/{ride.pk}/accept/")
    assert first.status_code == 200

    late = DriverFactory()
    response = api_client_for(late.user).post(f"/api/v1/rides/{ride.pk}/accept/")

    assert response.status_code == 409
    assert response.data["code"] == "invalid_transition"
    assert response.data["current_status"] == "accepted"
    ride.refresh_from_db()
    assert ride.driver_id == driver.pk


def test_ten_drivers_accepting_in_turn_leave_exactly_one_assigned(passenger):
    ride = ride_in_status(S.REQUESTED, passenger=passenger)
    drivers = DriverFactory.create_batch(10)
    codes = [api_client_for(d.user).post(f"/api/v1/rides/{ride.pk}/accept/").status_code for d in drivers]
    assert codes == [200] + [409] * 9
    ride.refresh_from_db()
    assert ride.driver_id == drivers[0].pk


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("ride_id", [uuid.uuid4(), "not-a-uuid", "0"])
def test_unknown_ride_is_404_for_every_action(action, ride_id, driver):
    response = api_client_for(driver.user).post(f"/api/v1/rides/{ride_id}/{action}/")
    assert response.status_code == 404
    assert response.data == {"detail": "Ride not found.", "code": "ride_not_found"}


@pytest.mark.parametrize("action", ["arrived", "start", "complete", "cancel"])
def test_someone_elses_ride_looks_exactly_like_an_unknown_one(action, passenger, driver):
    ride = ride_in_status(S.ACCEPTED, passenger=passenger, driver=driver)
    stranger = api_client_for(DriverFactory().user)
    theirs = stranger.post(f"/api/v1/rides/{ride.pk}/{action}/")
    unknown = stranger.post(f"/api/v1/rides/{uuid.uuid4()}/{action}/")
    assert (theirs.status_code, theirs.data) == (unknown.status_code, unknown.data)
    assert theirs.status_code == 404


@pytest.mark.parametrize("action", ACTIONS)
def test_transitions_need_authentication(action, ride):
    response = api_client_for(None).post(f"/api/v1/rides/{ride.pk}/{action}/")
    assert response.status_code == 401
    assert response.data["code"] == "not_authenticated"
    ride.refresh_from_db()
    assert ride.status == S.REQUESTED


def test_cancel_records_who_and_why(passenger, driver):
    ride = ride_in_status(S.ACCEPTED, passenger=passenger, driver=driver)
    response = api_client_for(driver.user).post(
        f"/api/v1/rides/{ride.pk}/cancel/", {"reason": "Flat tyre"}, format="json"
    )
    assert response.status_code == 200
    assert response.data["cancelled_by"] == "driver"
    assert response.data["cancel_reason"] == "Flat tyre"


def test_cancel_reason_longer_than_255_is_a_validation_error(passenger):
    ride = ride_in_status(S.REQUESTED, passenger=passenger)
    response = api_client_for(passenger).post(
        f"/api/v1/rides/{ride.pk}/cancel/", {"reason": "x" * 256}, format="json"
    )
    assert response.status_code == 400
    assert response.data["code"] == "validation_error"
    assert "reason" in response.data["errors"]
    ride.refresh_from_db()
    assert ride.status == S.REQUESTED


def test_cancelled_ride_frees_passenger_and_driver(passenger, driver):
    ride = ride_in_status(S.ACCEPTED, passenger=passenger, driver=driver)
    assert api_client_for(passenger).post(f"/api/v1/rides/{ride.pk}/cancel/").status_code == 200

    new_ride = ride_in_status(S.REQUESTED)  # the driver may take another ride
    assert api_client_for(driver.user).post(f"/api/v1/rides/{new_ride.pk}/accept/").status_code == 200
    again = api_client_for(passenger).post(  # and the passenger may request again
        "/api/v1/rides/",
        {"ride_type": "moto", "pickup_latitude": 3.848, "pickup_longitude": 11.502,
         "dropoff_latitude": 3.866, "dropoff_longitude": 11.516},
        format="json",
    )
    assert again.status_code == 201, again.data
