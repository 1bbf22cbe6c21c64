"""Sessions end when they must (token expiry, account disabled) and greedy clients are bounded."""

import json
import time
from datetime import timedelta
from functools import partial

import pytest
from rest_framework_simplejwt.tokens import AccessToken

from realtime.connections import consumers
from realtime.connections.limits import ConnectionLimiter, TokenBucket
from rideshare.tests.factories import DriverFactory, UserFactory

from .clocks import FakeClock
from .helpers import assert_nothing_more, communicator, db, expect_close, open_socket, ping, receive, receive_type, send

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def limiter_clock(monkeypatch):
    """The connections' rate limiters run on a clock that only the test moves: no token refills
    while a slow machine works through a burst, so the counts are exact."""
    clock = FakeClock()
    monkeypatch.setattr(consumers, "ConnectionLimiter", partial(ConnectionLimiter, clock=clock))
    return clock


@pytest.mark.django_db(transaction=False)
def test_a_bucket_refills_at_its_rate_as_its_clock_advances_and_never_beyond_capacity():
    clock = FakeClock()
    bucket = TokenBucket(3, 2.0, clock=clock)  # a burst of 3, then 2 per second
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    clock.advance(0.4)  # 0.8 of a token
    assert not bucket.take()
    clock.advance(0.1)  # 1.0
    assert bucket.take() and not bucket.take()
    clock.advance(3600)  # refills to capacity, no more
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]


@pytest.mark.django_db(transaction=False)
def test_the_limiter_keeps_a_bucket_per_type_and_forgets_rejections_older_than_the_window():
    clock = FakeClock()
    limiter = ConnectionLimiter({"ping": (1, 1.0), "*": (2, 1.0)}, abuse_rejections=3, abuse_window_seconds=10, clock=clock)
    assert limiter.allow("ping") and not limiter.allow("ping")
    assert limiter.allow("unknown") and limiter.allow("other") and not limiter.allow("third")  # one shared "*"
    assert not limiter.rejected() and not limiter.rejected()
    clock.advance(10.5)  # those two fall out of the window
    assert not limiter.rejected() and not limiter.rejected()
    assert limiter.rejected()  # three within 10 s
    assert limiter.allow("ping")  # 10.5 s refilled the ping bucket


@pytest.mark.django_db(transaction=False)
def test_the_default_clock_is_the_monotonic_one():
    assert TokenBucket(1, 1.0).clock is time.monotonic
    assert ConnectionLimiter({"*": (1, 1.0)}, 1, 1.0).clock is time.monotonic


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


async def test_location_updates_beyond_the_rate_limit_get_rate_limited_errors(limiter_clock):
    driver = await db(DriverFactory)()
    comm = await open_socket(driver.user)
    for _ in range(15):
        await send(comm, {"type": "location_update", "latitude": 3.85, "longitude": 11.5})
    await ping(comm, "after-the-burst")  # handled after all 15 (own bucket): its pong ends the replies
    errors = []
    while (message := await receive(comm))["type"] != "pong":
        errors.append(message)
    # The burst (10; the clock stands still, so nothing refills) goes through silently; the rest is refused.
    assert 1 <= len(errors) <= 5
    assert len(errors) == 5
    await assert_nothing_more(comm)
    assert {e["data"]["code"] for e in errors} == {"rate_limited"}
    assert all(e["data"]["request_type"] == "location_update" for e in errors)
    await comm.disconnect()


async def test_sustained_flooding_closes_with_4008_and_other_clients_are_unaffected(settings, limiter_clock):
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
    # The shared bucket's burst of 20 (the clock stands still: nothing refills), then refusals.
    accepted = codes.count("invalid_json")
    assert accepted >= 20
    assert accepted == 20
    assert codes[:20] == ["invalid_json"] * 20
    assert codes.count("rate_limited") == 5

    await ping(other, "still-here")
    assert (await receive_type(other, "pong"))["data"]["timestamp"] == "still-here"
    await other.disconnect()


async def comm_send_raw(comm, text):
    await comm.send_to(text_data=text)
