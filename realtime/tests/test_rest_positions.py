"""POST /api/v1/drivers/me/location/ through the ASGI application: the fast path in front of
Django (realtime/serving/rest.py) answers exactly as the DRF view does, stores and relays like the socket
path, and leaves every other request to Django."""

import gc
import json
from datetime import timedelta

import pytest
from channels.testing import HttpCommunicator
from django.db import connection
from django.test import AsyncClient, override_settings
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.tokens import AccessToken

from drivers.models import Driver
from realtime.connections import positions
from realtime.delivery.db import KEPT_CONNECTION_THREADS, close_kept_connections, kept_connection_call
from realtime.serving import lifecycle, reporters, rest
from rides.models import RideStatus
from rides.selectors import nearby_idle_drivers
from rideshare.asgi import application
from rideshare.tests.factories import DriverFactory, UserFactory, access_token_for, ride_in_status

from .helpers import assert_nothing_more, db, receive, socket

LOCATION = "/api/v1/drivers/me/location/"
POSITION = {"latitude": 3.851, "longitude": 11.503, "heading": 90.4, "speed": 25}

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def connections_of_finished_requests_closed():
    """Django serves each request the fast path leaves to it in a thread of its own, which ends
    with the request; the connection it opened there is closed when it is collected. Collected
    here, so that none is still open when the test database is dropped (PostgreSQL refuses)."""
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


def count_fast_answers(monkeypatch):
    """How many requests the fast path answered itself (the rest went to Django)."""
    answered = []
    apply = rest._apply

    async def counting_apply(*args):
        answered.append(args)
        return await apply(*args)

    monkeypatch.setattr(rest, "_apply", counting_apply)
    return answered


async def both_ways(settings, token, body=POSITION, **kwargs):
    """The same request with the fast path on, then off (the DRF view)."""
    fast = await post(token, body, **kwargs)
    settings.REST_LOCATION_FAST_PATH = False
    slow = await post(token, body, **kwargs)
    settings.REST_LOCATION_FAST_PATH = True
    return fast, slow


def without_stamp(answer):
    status, headers, body = answer
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k != "location_updated_at"}
    return status, headers, body


# --- the answer is the DRF view's ------------------------------------------------------------------


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
async def test_the_fast_answer_is_the_views_answer_status_headers_and_body(settings, monkeypatch, debug):
    settings.DEBUG = debug
    answered = count_fast_answers(monkeypatch)
    driver = await db(DriverFactory)()
    token = await db(access_token_for)(driver.user)
    fast, slow = await both_ways(settings, token)
    assert len(answered) == 1
    assert fast[0] == 200
    assert without_stamp(fast) == without_stamp(slow)
    assert fast[2]["heading"] == 90 and fast[2]["latitude"] == 3.851 and fast[2]["full_name"] == driver.user.full_name
    assert fast[2]["location_updated_at"].endswith("Z")


async def test_a_french_speaking_app_gets_the_views_language_headers(settings, monkeypatch):
    answered = count_fast_answers(monkeypatch)
    driver = await db(DriverFactory)()
    token = await db(access_token_for)(driver.user)
    fast, slow = await both_ways(settings, token, headers=[(b"accept-language", b"fr-CM,fr;q=0.9")])
    assert len(answered) == 1
    assert without_stamp(fast) == without_stamp(slow)
    assert fast[1]["content-language"] == "fr" and "Accept-Language" in fast[1]["vary"]


@override_settings(SECURE_HSTS_SECONDS=3600, SECURE_HSTS_PRELOAD=True,
                   SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"))
async def test_a_secure_request_gets_the_same_security_headers(monkeypatch):
    answered = count_fast_answers(monkeypatch)
    driver = await db(DriverFactory)()
    token = await db(access_token_for)(driver.user)
    fast = await post(token, headers=[(b"x-forwarded-proto", b"https")])
    assert len(answered) == 1
    # The application's Django handler read its middleware settings at import; a fresh one here.
    slow = await AsyncClient().post(LOCATION, POSITION, content_type="application/json",
                                    headers={"authorization": f"Bearer {token}", "x-forwarded-proto": "https"})
    assert fast[1]["strict-transport-security"] == "max-age=3600; preload"
    assert fast[1] == {name.lower(): value for name, value in slow.headers.items()}


# --- everything but the common case goes to Django, answered as before ---------------------------------


async def test_errors_are_the_views_errors(settings, monkeypatch):
    answered = count_fast_answers(monkeypatch)
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
        (inactive_token, POSITION, 401, None),
        (token, {**POSITION, "latitude": 90.5}, 400, "validation_error"),
        (token, {"longitude": 11.5}, 400, "validation_error"),
        (token, {**POSITION, "speed": True}, 400, "validation_error"),
    ]
    for sent_token, body, status, code in cases:
        fast, slow = await both_ways(settings, sent_token, body)
        assert fast == slow, (body, fast)
        assert fast[0] == status and (code is None or fast[2]["code"] == code), fast
    assert answered == []


@pytest.mark.parametrize("raw", [
    b'{"latitude": 3.9, "longitude": 1e400}',
    b'{"latitude": "3.85", "longitude": "11.5"}',
    b'{"latitude": 3.9, "longitude": 11.6, "note": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}',
    b'{"latitude": 3.9, "longitude": 11.6, "x": "\\ud800"}',
    b'{"latitude": 3.9, "longitude": NaN}',
    b'[1, 2]',
], ids=["overflow", "numeric_strings", "deep", "surrogate", "nan", "array"])
async def test_bodies_the_socket_rules_do_not_decide_alike_go_to_the_view(settings, monkeypatch, raw):
    answered = count_fast_answers(monkeypatch)
    driver = await db(DriverFactory)()
    token = await db(access_token_for)(driver.user)
    fast, slow = await both_ways(settings, token, raw=raw)
    assert without_stamp(fast) == without_stamp(slow)
    assert answered == []


async def test_a_repeated_key_counts_once_its_last_value_as_in_the_view(settings):
    driver = await db(DriverFactory)()
    token = await db(access_token_for)(driver.user)
    fast, slow = await both_ways(settings, token, raw=b'{"latitude": 3.9, "longitude": 11.6, "latitude": 4.0}')
    assert without_stamp(fast) == without_stamp(slow)
    assert fast[2]["latitude"] == 4.0


@pytest.mark.parametrize("change", [
    {"path": LOCATION + "?format=json"},
    {"headers": [(b"accept", b"text/html")]},
    {"headers": [(b"accept", b"application/json; indent=4")]},
    {"method": "PUT"},
])
async def test_other_requests_to_the_path_go_to_the_view(settings, monkeypatch, change):
    answered = count_fast_answers(monkeypatch)
    driver = await db(DriverFactory)()
    token = await db(access_token_for)(driver.user)
    fast, slow = await both_ways(settings, token, **change)
    assert (fast[0], fast[1]["content-type"]) == (slow[0], slow[1]["content-type"])  # HTML pages differ in their CSRF token
    assert answered == []


async def test_a_form_body_is_left_to_the_view(settings, monkeypatch):
    answered = count_fast_answers(monkeypatch)
    driver = await db(DriverFactory)()
    token = await db(access_token_for)(driver.user)
    status, _, body = await post(token, raw=b"latitude=3.9&longitude=11.6",
                                 headers=[(b"content-type", b"application/x-www-form-urlencoded")])
    assert status == 200 and body["latitude"] == 3.9
    assert answered == []


async def test_a_host_not_allowed_and_plain_http_under_ssl_redirect_are_left_to_django(settings, monkeypatch):
    answered = count_fast_answers(monkeypatch)
    driver = await db(DriverFactory)()
    token = await db(access_token_for)(driver.user)
    settings.ALLOWED_HOSTS = ["api.example.cm"]
    status, _, body = await post(token)
    assert (status, body["code"]) == (400, "bad_request")
    settings.SECURE_SSL_REDIRECT = True  # (the application's Django handler read it at import: no redirect)
    await post(token, headers=[(b"host", b"api.example.cm")])
    assert answered == []
    settings.SECURE_SSL_REDIRECT = False
    assert (await post(token, headers=[(b"host", b"api.example.cm")]))[0] == 200
    assert len(answered) == 1


async def test_a_throttle_a_permission_or_another_middleware_turns_the_fast_path_off(settings, monkeypatch):
    answered = count_fast_answers(monkeypatch)
    driver = await db(DriverFactory)()
    token = await db(access_token_for)(driver.user)
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "django.middleware.gzip.GZipMiddleware"]
    assert (await post(token))[0] == 200
    settings.MIDDLEWARE = settings.MIDDLEWARE[:-1]
    for attribute in ("throttle_classes", "permission_classes"):
        with monkeypatch.context() as patch:
            patch.setattr(rest.DriverLocationView, attribute, [object])
            rest.enabled.cache_clear()
            assert not rest.enabled()
        rest.enabled.cache_clear()
        assert rest.enabled()
    assert answered == []


# --- effects: stored, relayed, matched ---------------------------------------------------------------


async def test_the_first_position_is_written_at_once_and_the_next_in_the_batch(settings):
    driver = await db(DriverFactory)(latitude=None, longitude=None, heading=None, speed=None, location_updated_at=None)
    token = await db(access_token_for)(driver.user)
    reporters.policies.policies.pop(driver.pk, None)
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


# --- bounded state ---------------------------------------------------------------------------------------


def test_driver_policies_stay_bounded():
    clock = [0.0]
    policies = reporters.DriverPolicies(limit=4)
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


def test_a_verified_token_is_checked_again_only_once_it_expired(monkeypatch):
    clock = [0.0]
    tokens = reporters.VerifiedTokens(clock=lambda: clock[0])
    checks = []
    check = reporters.authentication.get_validated_token
    monkeypatch.setattr(reporters.authentication, "get_validated_token", lambda raw: checks.append(raw) or check(raw))
    user = UserFactory.build()
    access = AccessToken.for_user(user)
    raw = str(access).encode()
    leeway = access.get_token_backend().get_leeway().total_seconds()
    clock[0] = access["exp"] + leeway - 1
    assert tokens.user_id(raw) == tokens.user_id(raw) == str(user.pk)
    assert len(checks) == 1
    clock[0] = access["exp"] + leeway
    assert tokens.user_id(raw) == str(user.pk)  # simplejwt itself, on the real clock, says yes
    assert len(checks) == 2
    with pytest.raises(InvalidToken):
        tokens.user_id(b"not-a-token")
    assert b"not-a-token" not in tokens.entries


def test_verified_tokens_stay_bounded():
    tokens = reporters.VerifiedTokens(limit=2)
    for user in UserFactory.build_batch(5):
        tokens.user_id(str(AccessToken.for_user(user)).encode())
    assert len(tokens.entries) <= 2


@pytest.mark.postgres_only  # SQLite's in-memory test database is never closed by Django
async def test_the_kept_connections_are_closed_when_the_server_stops():
    def open_connection():
        connection.ensure_connection()
        return connection.connection

    opened = [await kept_connection_call(open_connection)() for _ in range(KEPT_CONNECTION_THREADS)]
    assert not any(raw.closed for raw in opened)
    await lifecycle.stop()
    assert all(raw.closed for raw in opened)
