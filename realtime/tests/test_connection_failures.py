"""Whatever goes wrong on a connection ends in a clean close with the clean-up run exactly once
(realtime.connections.connection): no ghost socket in presence, stats or the metric, no ghost driver online.
Also: client strings that UTF-8 cannot carry are never echoed back."""

import json
import logging

import pytest

from drivers.models import Driver
from realtime.connections.consumers import RealtimeConsumer
from realtime.delivery import dispatch, metrics
from realtime.presence import presence
from rideshare.tests.factories import DriverFactory, UserFactory

from .helpers import (
    assert_envelope,
    assert_iso_utc,
    assert_nothing_more,
    counted,
    db,
    expect_close,
    open_socket,
    receive_type,
    send,
)

pytestmark = pytest.mark.django_db(transaction=True)

DEEP_JSON = "[" * 1000 + "]" * 1000  # 2 KB, nested 1000 deep: RecursionError in json.loads


def open_gauge():
    return metrics.open_connections._value.get()


async def online_driver_socket():
    driver = await db(DriverFactory)(is_online=True)
    comm = await open_socket(driver.user)
    return driver, comm


async def assert_cleaned_up(driver, before_gauge):
    assert open_gauge() == before_gauge
    assert not presence.local.open
    assert await db(counted)(driver.user) == 0
    assert await db(lambda: Driver.objects.get(pk=driver.pk).is_online)() is False
    assert (await db(presence.stats)())["total_connections"] == 0


def handler_tracebacks(caplog):
    """What the socket's own code logged as an error (background jobs of other tests aside)."""
    return [
        r for r in caplog.records if r.name in ("realtime.connections.consumers", "realtime.connections.connection") and r.levelno >= logging.ERROR
    ]


def connection_errors(caplog):
    return [r for r in caplog.records if r.name == "realtime.connections.connection" and r.levelno >= logging.WARNING]


# --- deep JSON ------------------------------------------------------------------------------------


async def test_300_deeply_nested_messages_are_invalid_json_and_leave_no_ghost(settings):
    settings.WS_RATE_LIMITS = {**settings.WS_RATE_LIMITS, "*": (1000, 1000.0)}
    before = open_gauge()
    driver, comm = await online_driver_socket()
    assert open_gauge() == before + 1
    for _ in range(300):
        await comm.send_to(text_data=DEEP_JSON)
        assert (await receive_type(comm, "error"))["data"]["code"] == "invalid_json"
    await assert_nothing_more(comm)
    await comm.disconnect()
    await assert_cleaned_up(driver, before)


async def test_a_flood_of_deeply_nested_messages_is_closed_with_4008_and_leaves_no_ghost():
    before = open_gauge()
    driver, comm = await online_driver_socket()
    codes = set()
    for _ in range(300):
        await comm.send_to(text_data=DEEP_JSON)
    while True:
        output = await comm.receive_output(3)
        if output["type"] == "websocket.close":
            assert output["code"] == 4008
            break
        codes.add(json.loads(output["text"])["data"]["code"])
    assert codes == {"invalid_json", "rate_limited"}
    await comm.disconnect()  # what daphne delivers once the close handshake is done
    await assert_cleaned_up(driver, before)


# --- one failure path -----------------------------------------------------------------------------


async def test_a_handler_that_raises_closes_with_1011_and_runs_the_clean_up_once(monkeypatch, caplog):
    async def broken(self, message):
        raise RuntimeError("injected handler failure")

    monkeypatch.setattr(RealtimeConsumer, "realtime_assignment", broken)
    before = open_gauge()
    driver, comm = await online_driver_socket()
    await dispatch.send_control(driver.pk, dispatch.assignment())
    await expect_close(comm, 1011)
    await comm.wait(3)
    await assert_cleaned_up(driver, before)
    assert len(connection_errors(caplog)) == 1


def failing_socket_send(monkeypatch, fails):
    """The ASGI `send` of every new connection raises for the frames `fails(message)` picks, as
    daphne's does for a socket it already closed."""
    original = RealtimeConsumer.__call__

    async def call(self, scope, receive_, send):
        async def flaky(message):
            if fails(message):
                raise RuntimeError("Attempt to send on a closed protocol")
            await send(message)

        return await original(self, scope, receive_, flaky)

    monkeypatch.setattr(RealtimeConsumer, "__call__", call)


async def test_a_send_that_raises_closes_with_1011_without_an_error_reply_and_cleans_up(monkeypatch, caplog):
    failing_socket_send(monkeypatch, lambda message: '"type":"pong"' in message.get("text", ""))
    before = open_gauge()
    driver, comm = await online_driver_socket()
    await send(comm, {"type": "ping"})
    await expect_close(comm, 1011)  # no `internal_error` attempted on a socket that is gone
    await comm.wait(3)
    await assert_cleaned_up(driver, before)
    assert len(connection_errors(caplog)) == 1


async def test_a_send_failure_while_the_close_fails_too_still_cleans_up(monkeypatch):
    failing_socket_send(
        monkeypatch, lambda message: message["type"] == "websocket.close" or '"type":"pong"' in message.get("text", "")
    )
    before = open_gauge()
    driver, comm = await online_driver_socket()
    await send(comm, {"type": "ping"})
    await comm.wait(3)  # the consumer ended by itself
    await assert_cleaned_up(driver, before)


async def test_a_failure_in_the_token_expiry_task_closes_and_cleans_up(monkeypatch):
    monkeypatch.setattr("realtime.connections.auth.seconds_until_expiry", lambda scope: 0.3)
    failing_socket_send(monkeypatch, lambda message: '"token_expired"' in message.get("text", ""))
    before = open_gauge()
    driver = await db(DriverFactory)(is_online=True)
    comm = await open_socket(driver.user)
    await expect_close(comm, 1011)
    await comm.disconnect()
    await assert_cleaned_up(driver, before)


async def test_one_of_two_connections_failing_keeps_the_driver_online(monkeypatch):
    driver, healthy = await online_driver_socket()
    failing_socket_send(monkeypatch, lambda message: '"type":"pong"' in message.get("text", ""))
    broken = await open_socket(driver.user)
    await send(broken, {"type": "ping"})
    await expect_close(broken, 1011)
    await broken.wait(3)
    assert await db(lambda: Driver.objects.get(pk=driver.pk).is_online)() is True
    assert await db(counted)(driver.user) == 1
    await healthy.disconnect()


# --- strings UTF-8 cannot carry -------------------------------------------------------------------

LONE_SURROGATE = "\\ud800"  # as the client's JSON spells it


async def test_a_lone_surrogate_in_the_ping_timestamp_gets_a_pong_with_server_time(caplog):
    user = await db(UserFactory)()
    comm = await open_socket(user)
    await comm.send_to(text_data='{"type":"ping","timestamp":"' + LONE_SURROGATE + '"}')
    output = await comm.receive_output(3)
    output["text"].encode("utf-8")  # sendable: the real server encodes every frame as UTF-8
    data = assert_envelope(json.loads(output["text"]), "pong")
    assert_iso_utc(data["timestamp"])
    await assert_nothing_more(comm)
    await comm.disconnect()
    assert not handler_tracebacks(caplog)


@pytest.mark.parametrize(
    "frame",
    [
        '{"type":"' + LONE_SURROGATE + '"}',
        '{"type":"x' + LONE_SURROGATE + '","timestamp":"' + LONE_SURROGATE + '"}',
        '{"type":"join_ride","ride_id":"' + LONE_SURROGATE + '"}',
        '{"type":"leave_ride","ride_id":"' + LONE_SURROGATE + '"}',
        '{"type":"resume","last_event_id":"' + LONE_SURROGATE + '"}',
        '{"type":"location_update","latitude":"' + LONE_SURROGATE + '","longitude":"' + LONE_SURROGATE + '"}',
        '{"type":"location_update","latitude":3.8,"longitude":11.5,"heading":"' + LONE_SURROGATE + '"}',
        '{"' + LONE_SURROGATE + '":"' + LONE_SURROGATE + '","type":"ping"}',
        '["' + LONE_SURROGATE + '"]',
    ],
)
async def test_no_reply_echoes_a_string_utf8_cannot_carry(frame, caplog):
    driver = await db(DriverFactory)()
    comm = await open_socket(driver.user)
    await comm.send_to(text_data=frame)
    while not await comm.receive_nothing(timeout=0.3):
        output = await comm.receive_output(1)
        assert output["type"] == "websocket.send", output
        output["text"].encode("utf-8")
        message = json.loads(output["text"])
        assert message.get("data", {}).get("code") != "internal_error", message
    await comm.disconnect()
    assert not handler_tracebacks(caplog)
