"""Sessions end when they must (token expiry, account disabled) and greedy clients are bounded."""

import json
import time
from datetime import timedelta

import pytest
from rest_framework_simplejwt.tokens import AccessToken

from rideshare.tests.factories import DriverFactory, UserFactory

from .helpers import assert_nothing_more, communicator, db, expect_close, open_socket, ping, receive, receive_type, send

pytestmark = pytest.mark.django_db(transaction=True)


def short_token(user, seconds):
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=timedelta(seconds=seconds))
    return str(token)


async def test_the_socket_closes_with_4002_when_the_access_token_expires():
    user = await db(UserFactory)()
    issued = time.time()
    token = await db(short_token)(user, 3)
    expires_at = AccessToken(token)["exp"]
    comm = communicator(token)
    assert (await comm.connect())[0]
    await receive_type(comm, "connected")
    message = await receive(comm, timeout=6)
    assert message["type"] == "error" and message["data"]["code"] == "token_expired"
    await expect_close(comm, 4002)
    # At the token's expiry (`exp` is whole seconds), not at connect and not long after.
    closed = time.time()
    assert expires_at - 0.5 <= closed <= expires_at + 1.5, (issued, expires_at, closed)


@pytest.mark.parametrize("how", ["deactivated", "deleted"])
async def test_a_user_removed_by_an_operator_is_disconnected_with_4003(how):
    user = await db(UserFactory)()
    comm = await open_socket(user)
    if how == "deactivated":
        user.is_active = False
        await db(user.save)()
    else:
        await db(user.delete)()
    message = await receive(comm)
    assert message["type"] == "error" and message["data"]["code"].startswith("account_")
    await expect_close(comm, 4003)


async def test_a_message_above_the_size_limit_gets_an_error_and_the_socket_keeps_working(settings):
    user = await db(UserFactory)()
    comm = await open_socket(user)
    await comm.send_to(text_data=json.dumps({"type": "ping", "padding": "x" * (settings.WS_MAX_MESSAGE_BYTES + 1)}))
    message = await receive_type(comm, "error")
    assert message["data"]["code"] == "message_too_large"
    await assert_nothing_more(comm)
    await comm.disconnect()


async def test_location_updates_beyond_the_rate_limit_get_rate_limited_errors():
    driver = await db(DriverFactory)()
    comm = await open_socket(driver.user)
    for _ in range(15):
        await send(comm, {"type": "location_update", "latitude": 3.85, "longitude": 11.5})
    errors = []
    while not await comm.receive_nothing(timeout=0.3):
        errors.append(await receive(comm))
    # The burst (10, plus what refills meanwhile) goes through silently; the rest is refused.
    assert 1 <= len(errors) <= 5
    assert {e["data"]["code"] for e in errors} == {"rate_limited"}
    assert all(e["data"]["request_type"] == "location_update" for e in errors)
    await comm.disconnect()


async def test_sustained_flooding_closes_with_4008_and_other_clients_are_unaffected(settings):
    settings.WS_ABUSE_REJECTIONS = 5
    flooder_user, other_user = await db(UserFactory)(), await db(UserFactory)()
    flooder, other = await open_socket(flooder_user), await open_socket(other_user)
    for _ in range(100):
        await comm_send_raw(flooder, "not json")
    outputs = []
    while True:
        output = await flooder.receive_output(timeout=2)
        outputs.append(output)
        if output["type"] == "websocket.close":
            break
    assert outputs[-1]["code"] == 4008
    codes = [json.loads(o["text"])["data"]["code"] for o in outputs[:-1]]
    # The shared bucket's burst of 20 (plus what refills on a slow machine), then refusals.
    accepted = codes.count("invalid_json")
    assert accepted >= 20
    assert codes[:20] == ["invalid_json"] * 20
    assert codes.count("rate_limited") == 5

    await ping(other, "still-here")
    assert (await receive_type(other, "pong"))["data"]["timestamp"] == "still-here"
    await other.disconnect()


async def comm_send_raw(comm, text):
    await comm.send_to(text_data=text)
