"""Handshake: JWT in the query string, the Origin check, and the paths the socket answers on."""

import uuid
from datetime import datetime, timedelta, timezone

import jwt
import pytest
from django.conf import settings as django_settings
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from realtime.presence import presence
from rideshare.tests.factories import DriverFactory, UserFactory, access_token_for

from .helpers import (
    RECEIVE_TIMEOUT,
    assert_envelope,
    assert_nothing_more,
    communicator,
    counted,
    db,
    expect_close,
    receive,
)

pytestmark = pytest.mark.django_db(transaction=True)

ALLOWED_ORIGIN = "http://localhost:8000"


@pytest.fixture(autouse=True)
def allowed_origins(settings):
    settings.WS_ALLOWED_ORIGINS = [ALLOWED_ORIGIN, "https://app.example.cm"]


async def _connect_and_get_connected(token, **kwargs):
    comm = communicator(token, **kwargs)
    connected, _ = await comm.connect(timeout=RECEIVE_TIMEOUT)
    assert connected, "handshake refused"
    data = assert_envelope(await receive(comm), "connected")
    return comm, data


# --- origin --------------------------------------------------------------------------------------


async def test_a_client_without_origin_header_is_accepted():
    user = await db(UserFactory)()
    comm, data = await _connect_and_get_connected(await db(access_token_for)(user))
    assert data["user_id"] == str(user.pk)
    await comm.disconnect()


@pytest.mark.parametrize("origin", [ALLOWED_ORIGIN, "https://app.example.cm", "HTTP://LOCALHOST:8000"])
async def test_an_allowed_origin_is_accepted(origin):
    user = await db(UserFactory)()
    comm, data = await _connect_and_get_connected(await db(access_token_for)(user), origin=origin)
    assert data["user_id"] == str(user.pk)
    await comm.disconnect()


async def test_localhost_8000_is_allowed_by_the_debug_default_settings(settings):
    from rideshare import settings as settings_module  # the values computed from the environment

    settings.WS_ALLOWED_ORIGINS = settings_module.WS_ALLOWED_ORIGINS
    user = await db(UserFactory)()
    comm, data = await _connect_and_get_connected(await db(access_token_for)(user), origin="http://localhost:8000")
    assert data["user_id"] == str(user.pk)
    await comm.disconnect()


@pytest.mark.parametrize(
    "origin",
    ["http://evil.example", "http://localhost:8001", "https://localhost:8000", "null", "http://app.example.cm"],
)
async def test_any_other_origin_is_refused_at_the_handshake(origin):
    user = await db(UserFactory)()
    comm = communicator(await db(access_token_for)(user), origin=origin)
    connected, _ = await comm.connect(timeout=RECEIVE_TIMEOUT)
    assert connected is False
    assert await db(counted)(user) == 0


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://localhost:8123", "localhost:8123"),
        ("http://127.0.0.1:8000", "127.0.0.1:8000"),
        ("http://Ride.Example.CM", "ride.example.cm:80"),
        ("https://ride.example.cm", "ride.example.cm"),
    ],
)
async def test_the_servers_own_origin_is_accepted_without_configuration(settings, origin, host):
    settings.WS_ALLOWED_ORIGINS = []  # production's default: nothing listed
    user = await db(UserFactory)()
    comm, data = await _connect_and_get_connected(await db(access_token_for)(user), origin=origin, host=host)
    assert data["user_id"] == str(user.pk)
    await comm.disconnect()


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://evil.example", "localhost:8123"),
        ("http://localhost:8124", "localhost:8123"),
        ("http://localhost.evil.example:8123", "localhost:8123"),
        ("null", "localhost:8123"),
        ("ftp://localhost:8123", "localhost:8123"),
        ("http://localhost:8123", "localhost:notaport"),
    ],
)
async def test_a_page_of_another_origin_is_refused_whatever_host_it_names(settings, origin, host):
    settings.WS_ALLOWED_ORIGINS = []
    user = await db(UserFactory)()
    comm = communicator(await db(access_token_for)(user), origin=origin, host=host)
    connected, _ = await comm.connect(timeout=RECEIVE_TIMEOUT)
    assert connected is False


# --- authentication ------------------------------------------------------------------------------


def _forged_token(user_id):
    """Correct claims, signed with a different key."""
    now = datetime.now(timezone.utc)
    return jwt.encode(
        {"token_type": "access", "user_id": str(user_id), "exp": now + timedelta(minutes=5),
         "iat": now, "jti": uuid.uuid4().hex},
        "not-the-signing-key-" * 3,
        algorithm="HS256",
    )


def _token_with_malformed_user_id():
    now = datetime.now(timezone.utc)
    return jwt.encode(
        {"token_type": "access", "user_id": "not-a-uuid", "exp": now + timedelta(minutes=5),
         "iat": now, "jti": uuid.uuid4().hex},
        django_settings.SIMPLE_JWT["SIGNING_KEY"],
        algorithm="HS256",
    )


def _bad_token(kind):
    if kind == "no_token":
        return None
    if kind == "empty_token":
        return ""
    if kind == "garbage":
        return "garbage"
    if kind == "garbage_jwt_shape":
        return "aaa.bbb.ccc"
    user = UserFactory()
    if kind == "forged_signature":
        return _forged_token(user.pk)
    if kind == "refresh_token":
        return str(RefreshToken.for_user(user))
    if kind == "inactive_user":
        token = access_token_for(user)
        user.is_active = False
        user.save(update_fields=["is_active"])
        return token
    if kind == "deleted_user":
        token = access_token_for(user)
        user.delete()
        return token
    if kind == "malformed_user_id":
        return _token_with_malformed_user_id()
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    ["no_token", "empty_token", "garbage", "garbage_jwt_shape", "forged_signature", "refresh_token",
     "inactive_user", "deleted_user", "malformed_user_id"],
)
async def test_a_bad_token_is_accepted_then_closed_with_4001_and_no_event(kind):
    token = await db(_bad_token)(kind)
    comm = communicator(token, query="token=" if kind == "empty_token" else None)
    connected, _ = await comm.connect(timeout=RECEIVE_TIMEOUT)
    assert connected is True  # accept-then-close: browsers can read the close code
    await expect_close(comm, 4001)
    assert await comm.receive_nothing(timeout=0.1)
    assert await db(counted)() == 0


async def test_an_expired_token_is_closed_with_4002_and_no_event():
    user = await db(UserFactory)()
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(seconds=1))
    comm = communicator(str(token))
    connected, _ = await comm.connect(timeout=RECEIVE_TIMEOUT)
    assert connected is True
    await expect_close(comm, 4002)
    assert await comm.receive_nothing(timeout=0.1)
    assert await db(counted)() == 0


async def test_an_expired_refresh_token_is_still_invalid_not_expired():
    """Expiry is checked first by the JWT library; either way no session starts."""
    user = await db(UserFactory)()
    token = await db(RefreshToken.for_user)(user)  # writes its outstanding-token row (token_blacklist)
    token.set_exp(lifetime=-timedelta(seconds=1))
    comm = communicator(str(token))
    assert (await comm.connect(timeout=RECEIVE_TIMEOUT))[0] is True
    output = await comm.receive_output(RECEIVE_TIMEOUT)
    assert output["type"] == "websocket.close" and output["code"] in (4001, 4002)


async def test_a_valid_token_of_a_driver_connects_and_registers_the_connection():
    driver = await db(DriverFactory)()
    comm, data = await _connect_and_get_connected(await db(access_token_for)(driver.user))
    assert data["is_driver"] is True
    assert await db(counted)(driver.user) == 1
    assert presence.local.open[next(iter(presence.local.open))][1] is True  # counted as a driver
    await comm.disconnect()
    assert await db(counted)(driver.user) == 0


# --- paths ---------------------------------------------------------------------------------------


async def test_the_path_with_a_trailing_slash_works():
    user = await db(UserFactory)()
    comm, data = await _connect_and_get_connected(await db(access_token_for)(user), path="/api/v1/ws/connect/")
    assert data["user_id"] == str(user.pk)
    await assert_nothing_more(comm)
    await comm.disconnect()


@pytest.mark.parametrize("path", ["/api/v1/ws/unknown", "/api/v1/ws/connect/extra", "/", "/ws/connect"])
async def test_an_unknown_path_is_refused(path):
    user = await db(UserFactory)()
    comm = communicator(await db(access_token_for)(user), path=path)
    connected, _ = await comm.connect(timeout=RECEIVE_TIMEOUT)
    assert connected is False
    assert await db(counted)() == 0
