"""POST /api/v1/drivers/me/location/ through the ASGI application: an async DRF view served on the
event loop (drivers.views.DriverLocationView on rideshare.kernel.async_views) that answers every
request, stores and relays like the socket path (realtime.connections.positions.report)."""

import gc
import json
import threading
from datetime import timedelta

import pytest
from channels.testing import HttpCommunicator
from django.db import connection
from django.test import AsyncClient, override_settings
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.tokens import AccessToken

from drivers.models import Driver
from realtime.connections import positions
from realtime.serving import lifecycle
from rides.models import RideStatus
from rides.selectors import nearby_idle_drivers
from rides.services import accept_ride, complete_ride
from rideshare.accounts import authentication
from rideshare.asgi import application
from rideshare.kernel.db import KEPT_CONNECTION_THREADS, close_kept_connections, kept_connection_call
from rideshare.tests.factories import DriverFactory, UserFactory, access_token_for, ride_in_status

from .helpers import assert_nothing_more, db, eventually_true, receive, receive_type, socket

LOCATION = "/api/v1/drivers/me/location/"
POSITION = {"latitude": 3.851, "longitude": 11.503, "heading": 90.4, "speed": 25}

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def connections_of_finished_requests_closed():
    """Connections opened in threads that ended are closed when collected: collected here, so
    that none is still open when the test database is dropped (PostgreSQL refuses)."""
    yield
    gc.collect()


async def post(token=None, body=POSITION, *, path=LOCATION, method="POST", headers=None, raw=None):
    """(status, headers as a dict, decoded JSON body) of one request to the ASGI application."""
    given = {name for name, _ in headers or []}
    sent = [h for h in [(b"content-type", b"application/json"), (b"host", b"testserver")] if h[0] not in given]
    sent += list(headers or [])
    if token is not None:
        sent.append((b"authorization", f"Bearer {token}".encode()))
    payload = raw if raw is not None else json.dumps(body).encode()
    sent.append((b"content-length", str(len(payload)).encode()))
    response = await HttpCommunicator(application, method, path, body=payload, headers=sent).get_response(timeout=5)
    header_map = {name.decode().lower(): value.decode() for name, value in response["headers"]}
    try:
        decoded = json.loads(response["body"]) if response["body"] else None
    except ValueError:
        decoded = response["body"]
    return response["status"], header_map, decoded


# --- the answer ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
async def test_the_answer_is_the_driver_at_the_new_position(settings, debug):
    settings.DEBUG = debug
    driver = await db(DriverFactory)()
    token = await db(access_token_for)(driver.user)
    status, headers, body = await post(token)
    assert status == 200 and headers["content-type"] == "application/json"
    assert (body["latitude"], body["longitude"], body["heading"], body["speed"]) == (3.851, 11.503, 90, 25)
    assert body["full_name"] == driver.user.full_name and body["vehicle_plate"] == driver.vehicle_plate
    assert body["location_updated_at"].endswith("Z")
    assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"


async def test_a_french_speaking_app_gets_french_headers_and_errors():
    passenger = await db(UserFactory)()
    token = await db(access_token_for)(passenger)
    status, headers, body = await post(token, headers=[(b"accept-language", b"fr-CM,fr;q=0.9")])
    assert (status, body["code"]) == (403, "not_a_driver")
    assert headers["content-language"] == "fr" and "Accept-Language" in headers["vary"]
    assert body["detail"] != "This action needs a driver account."


@override_settings(SECURE_HSTS_SECONDS=3600, SECURE_HSTS_PRELOAD=True,
                   SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"))
async def test_a_secure_request_gets_the_security_headers():
    driver = await db(DriverFactory)()
    token = await db(access_token_for)(driver.user)
    # The application's Django handler read its middleware settings at import: a fresh one here.
    response = await AsyncClient().post(LOCATION, POSITION, content_type="application/json",
                                        headers={"authorization": f"Bearer {token}", "x-forwarded-proto": "https"})
    assert response.status_code == 200 and response.headers["strict-transport-security"] == "max-age=3600; preload"


async def test_the_view_runs_on_the_event_loop(monkeypatch):
    """No hop to a thread for the view: its handler runs on the loop's thread."""
    from drivers import views

    ran_on = []
    handler = views.DriverLocationView.post

    async def recording_post(self, request):
        ran_on.append(threading.current_thread())
        return await handler(self, request)

    monkeypatch.setattr(views.DriverLocationView, "post", recording_post)
    driver = await db(DriverFactory)()
    token = await db(access_token_for)(driver.user)
    assert (await post(token))[0] == 200
    assert ran_on == [threading.current_thread()]


# --- every bad request gets a clear error -------------------------------------------------------------


async def test_errors_say_what_is_wrong():
    driver = await db(DriverFactory)()
    passenger = await db(UserFactory)()
    inactive = await db(DriverFactory)(user__is_active=False)
    token, passenger_token, inactive_token = [await db(access_token_for)(u) for u in (driver.user, passenger, inactive.user)]
    expired = AccessToken.for_user(driver.user)
    expired.set_exp(lifetime=timedelta(seconds=-1))
    cases = [
        (str(expired), POSITION, 401, "token_not_valid"),
        (None, POSITION, 401, "not_authenticated"),
        ("not-a-token", POSITION, 401, "token_not_valid"),
        (passenger_token, POSITION, 403, "not_a_driver"),
        (inactive_token, POSITION, 401, "authentication_failed"),
        (token, {**POSITION, "latitude": 90.5}, 400, "validation_error"),
        (token, {"longitude": 11.5}, 400, "validation_error"),
        (token, {**POSITION, "speed": True}, 400, "validation_error"),
    ]
    for sent_token, body, status, code in cases:
        answer = await post(sent_token, body)
        assert answer[0] == status and answer[2]["code"] == code, (body, answer)
        if status == 401:
            assert answer[1]["www-authenticate"].startswith("Bearer")


async def test_a_deleted_user_is_refused():
    driver = await db(DriverFactory)()
    token = await db(access_token_for)(driver.user)
    assert (await post(token))[0] == 200
    await db(driver.user.delete)()
    status, _, body = await post(token)  # the token's signature is remembered; the user is not
    assert (status, body["code"], body["detail"]) == (401, "authentication_failed", "User not found")


@pytest.mark.parametrize("raw", [
    b'{"latitude": 3.9, "longitude": 1e400}',
    b'{"latitude": 3.9, "longitude": 11.6, "note": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}',
    b'{"latitude": 3.9, "longitude": 11.6, "x": "\\ud800"}',
    b'{"latitude": 3.9, "longitude": NaN}',
    b'[1, 2]',
    b'{"latitude": 3.9,',
], ids=["overflow", "deep", "surrogate", "nan", "array", "truncated"])
async def test_odd_bodies_get_a_400_with_a_code(raw):
    driver = await db(DriverFactory)()
    token = await db(access_token_for)(driver.user)
    status, _, body = await post(token, raw=raw)
    assert status == 400 and body["code"] and body["detail"], body
    assert (await db(Driver.objects.get)(pk=driver.pk)).latitude == driver.latitude


async def test_numeric_strings_and_a_repeated_key_are_read_as_the_serializer_reads_them():
    driver = await db(DriverFactory)()
    token = await db(access_token_for)(driver.user)
    status, _, body = await post(token, raw=b'{"latitude": "3.85", "longitude": "11.5"}')
    assert (status, body["latitude"]) == (200, 3.85)
    status, _, body = await post(token, raw=b'{"latitude": 3.9, "longitude": 11.6, "latitude": 4.0}')
    assert (status, body["latitude"]) == (200, 4.0)


async def test_a_form_body_and_a_query_string_are_served_too():
    driver = await db(DriverFactory)()
    token = await db(access_token_for)(driver.user)
    status, _, body = await post(token, raw=b"latitude=3.9&longitude=11.6",
                                 headers=[(b"content-type", b"application/x-www-form-urlencoded")])
    assert status == 200 and body["latitude"] == 3.9
    assert (await post(token, path=LOCATION + "?format=json"))[0] == 200
    assert (await post(token, method="PUT"))[0] == 405


async def test_a_host_not_allowed_is_refused(settings):
    driver = await db(DriverFactory)()
    token = await db(access_token_for)(driver.user)
    settings.ALLOWED_HOSTS = ["api.example.cm"]
    status, _, body = await post(token)
    assert (status, body["code"]) == (400, "bad_request")
    assert (await post(token, headers=[(b"host", b"api.example.cm")]))[0] == 200


# --- effects: stored, relayed, matched ---------------------------------------------------------------


async def test_the_first_position_is_written_at_once_and_the_next_in_the_batch(settings):
    driver = await db(DriverFactory)(latitude=None, longitude=None, heading=None, speed=None, location_updated_at=None)
    token = await db(access_token_for)(driver.user)
    positions.rest_policies.policies.pop(driver.pk, None)
    assert (await post(token))[0] == 200
    stored = await db(Driver.objects.get)(pk=driver.pk)
    assert (stored.latitude, stored.longitude, stored.heading, stored.speed) == (3.851, 11.503, 90, 25)

    assert (await post(token, {"latitude": 3.86, "longitude": 11.51}))[0] == 200
    assert positions.buffer.pending[driver.pk][:4] == (3.86, 11.51, None, None)
    await positions.flush()
    stored = await db(Driver.objects.get)(pk=driver.pk)
    assert (stored.latitude, stored.longitude, stored.heading, stored.speed) == (3.86, 11.51, None, None)


async def test_without_the_background_flush_every_position_is_written_at_once():
    driver = await db(DriverFactory)()
    token = await db(access_token_for)(driver.user)
    await lifecycle.stop()  # as under a server that runs no lifecycle (uvicorn --lifespan off)
    try:
        for latitude in (3.86, 3.87):
            assert (await post(token, {"latitude": latitude, "longitude": 11.51}))[0] == 200
            assert (await db(Driver.objects.get)(pk=driver.pk)).latitude == latitude
        assert driver.pk not in positions.buffer.pending
    finally:
        await close_kept_connections()  # what the stopped lifecycle would have done


async def test_matching_sees_the_batched_position_after_the_flush(settings):
    driver = await db(DriverFactory)(latitude=4.05, longitude=9.70)  # Douala: not near the pickup
    token = await db(access_token_for)(driver.user)
    assert (await post(token, {"latitude": 4.05, "longitude": 9.70}))[0] == 200  # written at once
    assert (await post(token, {"latitude": 3.848, "longitude": 11.502}))[0] == 200  # batched

    def nearby():
        return [d.pk for d in nearby_idle_drivers(3.848, 11.502, vehicle_type=driver.vehicle_type, radius_km=1, limit=5)]

    assert driver.pk not in await db(nearby)()
    await positions.flush()
    assert driver.pk in await db(nearby)()


async def test_the_passenger_of_the_active_ride_hears_each_position():
    ride = await db(ride_in_status)(RideStatus.STARTED)
    token = await db(access_token_for)(ride.driver.user)
    async with socket(ride.passenger) as passenger, socket(ride.driver.user) as driver_socket:
        for latitude in (3.851, 3.852):
            assert (await post(token, {**POSITION, "latitude": latitude}))[0] == 200
            event = await receive(passenger)
            assert event["type"] == "driver_location_update"
            data = event["data"]
            assert (data["driver_id"], data["ride_id"]) == (str(ride.driver.pk), str(ride.pk))
            assert (data["latitude"], data["longitude"], data["heading"], data["speed"]) == (latitude, 11.503, 90, 25)
        await assert_nothing_more(passenger)
        await assert_nothing_more(driver_socket)


async def test_a_driver_without_an_active_ride_relays_nothing():
    ride = await db(ride_in_status)(RideStatus.COMPLETED)
    token = await db(access_token_for)(ride.driver.user)
    async with socket(ride.passenger) as passenger:
        assert (await post(token))[0] == 200
        await assert_nothing_more(passenger)


async def post_until_kept(token, driver_id, passenger=None):
    """Post positions until the driver's ride is kept (a load that ran while any transition was
    heard is not kept: other tests' changes reach this process's inbox too)."""
    for _ in range(20):
        assert (await post(token))[0] == 200
        if passenger is not None:
            assert (await receive(passenger))["type"] == "driver_location_update"
        if str(driver_id) in positions.rest_assignments.cache:
            return
    pytest.fail("the driver's ride was never kept")


async def test_a_reporting_driver_follows_the_rides_transitions():
    """The ride a REST position goes to is kept per driver (positions.rest_assignments), and asked
    again after each transition: through every server process's inbox."""
    await lifecycle.stop()
    await lifecycle.start(only={"positions", "inbox"})
    ride = await db(ride_in_status)(RideStatus.STARTED)
    token = await db(access_token_for)(ride.driver.user)
    async with socket(ride.passenger) as passenger:
        await post_until_kept(token, ride.driver.pk, passenger)
        await db(complete_ride)(ride_id=ride.pk, user=ride.driver.user)
        await eventually_true(lambda: str(ride.driver.pk) not in positions.rest_assignments.cache)
        await receive_type(passenger, "ride_completed")
        assert (await post(token))[0] == 200
        await assert_nothing_more(passenger)  # the next position goes nowhere: the ride is over

    next_ride = await db(ride_in_status)(RideStatus.REQUESTED, ride_type=ride.driver.vehicle_type)
    await post_until_kept(token, ride.driver.pk)  # kept: no active ride
    await db(accept_ride)(ride_id=next_ride.pk, user=ride.driver.user)
    async with socket(next_ride.passenger) as next_passenger:
        await eventually_true(lambda: str(ride.driver.pk) not in positions.rest_assignments.cache)
        assert (await post(token))[0] == 200
        event = await receive_type(next_passenger, "driver_location_update")
        assert event["data"]["ride_id"] == str(next_ride.pk)


def test_a_load_begun_before_a_forget_is_not_kept():
    assignments = positions.RestAssignments()
    generation = assignments.generation
    assignments.forget("driver")  # a transition heard while the load ran
    assignments.keep("driver", None, generation)
    assert "driver" not in assignments._entries()
    assignments.keep("driver", None, assignments.generation)
    assert "driver" in assignments._entries()


# --- bounded state ---------------------------------------------------------------------------------------


def test_driver_policies_stay_bounded():
    clock = [0.0]
    policies = positions.DriverPolicies(limit=4)
    for driver_id in range(4):
        policy = policies.get(driver_id)
        policy.clock = lambda: clock[0]
        policy.due()
    clock[0] = 1000.0  # all of them would be written at once now: forgotten first
    policies.get("new")
    assert list(policies.policies) == ["new"]
    for driver_id in range(10):
        policies.get(driver_id).due()
    assert len(policies.policies) <= 4


async def test_a_token_signature_is_checked_once_until_it_expires(monkeypatch):
    checks = []
    check = JWTAuthentication.get_validated_token
    monkeypatch.setattr(JWTAuthentication, "get_validated_token", lambda self, raw: checks.append(raw) or check(self, raw))
    driver = await db(DriverFactory)()
    token = await db(access_token_for)(driver.user)
    for _ in range(3):
        assert (await post(token))[0] == 200
    assert len(checks) == 1
    access = AccessToken(token)
    leeway = access.get_token_backend().get_leeway().total_seconds()
    assert authentication.verified_tokens.ttu(None, access, 0) == access["exp"] + leeway
    assert (await post("not-a-token"))[0] == 401
    assert b"not-a-token" not in authentication.verified_tokens


def test_verified_tokens_stay_bounded():
    assert authentication.verified_tokens.maxsize == 20_000


@pytest.mark.postgres_only  # SQLite's in-memory test database is never closed by Django
async def test_the_kept_connections_are_closed_when_the_server_stops():
    def open_connection():
        connection.ensure_connection()
        return connection.connection

    opened = [await kept_connection_call(open_connection)() for _ in range(KEPT_CONNECTION_THREADS)]
    assert not any(raw.closed for raw in opened)
    await lifecycle.stop()
    assert all(raw.closed for raw in opened)
