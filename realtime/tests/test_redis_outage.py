"""Redis unreachable (the REDIS_URL mode), in one process: here Redis is a port nobody listens on,
or a Redis call made to raise as redis-py does, so these run in both CI passes. The staff figures
answer 503 `presence_unavailable`, a new socket is accepted and closed with 1011, the background
rounds and the sends carry on, and the outage is logged once when it starts and once when it ends,
never as a traceback. A real server through a real outage: test_live_redis_outage.py."""

import asyncio
import logging
import sys

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from drivers.models import Driver
from realtime.delivery import dispatch, metrics, outages
from realtime.delivery.redis_layers import CancelledCleanupFilter
from realtime.presence import presence, shared_presence
from rideshare.tests.factories import DriverFactory, UserFactory, access_token_for, api_client_for

from .helpers import RECEIVE_TIMEOUT, communicator, db, expect_close, open_socket
from .servers import free_port


@pytest.fixture(autouse=True)
def redis_answering():
    outages.redis.__init__()  # no outage left over from another test
    yield
    outages.redis.__init__()


@pytest.fixture
def redis_away(settings):
    """REDIS_URL (presence, the figures) on a port nobody listens on; put back before the
    conftest's clean-up, which deletes this test's keys on the real one."""
    answering = settings.REDIS_URL
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    yield settings.REDIS_URL
    settings.REDIS_URL = answering


@pytest.fixture
def channel_layer_away(redis_away, settings):
    """The production channel layer (Redis pub/sub) on that port too."""
    layers = settings.CHANNEL_LAYERS
    settings.CHANNEL_LAYERS = {"default": {
        "BACKEND": "realtime.delivery.redis_layers.RedisPubSubLayer",
        "CONFIG": {"hosts": [redis_away], "prefix": "rideshare-test-away"},
    }}
    yield
    settings.CHANNEL_LAYERS = layers


def outage_lines(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "realtime.delivery.outages"]


def unreachable_lines(caplog):
    """The outage's first line (a send that got through meanwhile, on this test's answering Redis,
    may add an "answers again")."""
    return [line for line in outage_lines(caplog) if line.startswith("Redis unreachable")]


def tracebacks(caplog):
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.exc_info]


# --- ws/stats ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_stats_answer_503_presence_unavailable_and_log_one_line(redis_away, caplog):
    staff = api_client_for(UserFactory(is_staff=True))
    for _ in range(3):
        response = staff.get("/api/v1/ws/stats")
        assert response.status_code == 503
        body = response.json()
        assert body["code"] == "presence_unavailable" and body["detail"]
    assert len(unreachable_lines(caplog)) == 1
    assert "ws/stats" in unreachable_lines(caplog)[0]
    assert tracebacks(caplog) == []


# --- the handshake ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_a_handshake_while_the_channel_layer_is_unreachable_is_accepted_then_closed_with_1011(
    channel_layer_away, caplog
):
    token = await db(access_token_for)(await db(UserFactory)())
    for _ in range(2):  # an app retrying
        comm = communicator(token)
        connected, _ = await comm.connect(timeout=RECEIVE_TIMEOUT)
        assert connected  # accepted, so a browser can read the close code
        await expect_close(comm, 1011)  # the README's "reconnect with last_event_id, with backoff"
        await comm.wait(timeout=RECEIVE_TIMEOUT)
    assert len(unreachable_lines(caplog)) == 1
    assert tracebacks(caplog) == []


@pytest.mark.django_db(transaction=True)
async def test_a_connect_that_finds_redis_away_after_its_channel_closes_with_1011_without_a_traceback(
    monkeypatch, caplog
):
    async def redis_refuses(channel_name, user):
        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(presence, "opened", redis_refuses)
    token = await db(access_token_for)(await db(UserFactory)())
    comm = communicator(token)
    assert (await comm.connect(timeout=RECEIVE_TIMEOUT))[0]
    await expect_close(comm, 1011)
    await comm.wait(timeout=RECEIVE_TIMEOUT)
    assert len(unreachable_lines(caplog)) == 1
    assert tracebacks(caplog) == []


# --- the background rounds and the sends -------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_presence_rounds_carry_on_and_log_the_outage_once_and_its_end(channel_layer_away, monkeypatch, caplog):
    # The channel layer is away too, as it is in production (the same Redis): a send that reached
    # a Redis still answering would end the outage between two rounds.
    passenger = await db(UserFactory)()
    await db(presence.local.add)("specific.away!1", passenger, batched=True)  # written by the next sync
    for _ in range(3):
        await presence.sync_now()  # does not raise: the job's round is over, the next one retries
        await presence.heartbeat()
    assert presence.local.unsynced_adds == {"specific.away!1"}  # kept for when Redis answers
    assert len(outage_lines(caplog)) == 1
    assert tracebacks(caplog) == []

    monkeypatch.setattr(shared_presence, "heartbeat", lambda sockets, server_id: None)
    monkeypatch.setattr(shared_presence, "sweep", lambda server_id: (0, []))
    await presence.heartbeat()
    assert len(outage_lines(caplog)) == 2
    assert "answers again" in outage_lines(caplog)[1]


@pytest.mark.django_db(transaction=True)
async def test_a_driver_whose_last_socket_closed_while_redis_was_away_goes_offline_once_it_answers(
    redis_away, monkeypatch
):
    driver = await db(DriverFactory)(is_online=True)
    await db(presence.local.add)("specific.away!2", driver.user, batched=False)
    presence.forget("specific.away!2")  # closed; whether the driver is connected elsewhere is Redis's to say
    await presence.heartbeat()
    assert set(presence.local.unsettled_drivers) == {driver.pk}  # not given up
    assert await db(lambda: Driver.objects.get(pk=driver.pk).is_online)() is True

    monkeypatch.setattr(shared_presence, "connected_elsewhere", lambda user_ids, server_id: set())
    monkeypatch.setattr(shared_presence, "heartbeat", lambda sockets, server_id: None)
    monkeypatch.setattr(shared_presence, "sweep", lambda server_id: (0, []))
    await presence.heartbeat()
    assert await db(lambda: Driver.objects.get(pk=driver.pk).is_online)() is False
    assert not presence.local.unsettled_drivers


async def test_sends_while_redis_is_away_are_counted_and_logged_once(monkeypatch, caplog):
    layer = dispatch.get_channel_layer()
    group_send = layer.group_send

    async def redis_refuses(group, message):
        raise RedisConnectionError("Connection refused.")

    monkeypatch.setattr(layer, "group_send", redis_refuses)
    failures = metrics.layer_send_failures.labels("control")
    before = failures._value.get()
    for _ in range(3):
        await dispatch.send_control("someone", {"type": dispatch.ASSIGNMENT})
    assert failures._value.get() == before + 3
    assert len(outage_lines(caplog)) == 1
    assert tracebacks(caplog) == []

    monkeypatch.setattr(layer, "group_send", group_send)
    await dispatch.send_control("someone", {"type": dispatch.ASSIGNMENT})
    assert "answers again" in outage_lines(caplog)[-1]


def test_channels_redis_receive_loop_failing_every_second_is_one_line_not_a_traceback_each(caplog):
    pubsub_filter = CancelledCleanupFilter()

    def receive_task_failed():
        try:
            raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        except RedisConnectionError:
            record = logging.getLogger("channels_redis.pubsub").makeRecord(
                "channels_redis.pubsub", logging.ERROR, __file__, 1, "Unexpected exception in receive task", (),
                sys.exc_info(),
            )
        return pubsub_filter.filter(record)

    assert [receive_task_failed() for _ in range(3)] == [False] * 3  # said once by realtime.delivery.outages instead
    assert len(outage_lines(caplog)) == 1
    outages.redis.answered()  # a send or a presence round got through
    assert receive_task_failed() is False
    assert [line.split(" (")[0] for line in outage_lines(caplog)] == [
        "Redis unreachable", "Redis answers again", "Redis unreachable",
    ]


@pytest.mark.django_db(transaction=True)
async def test_an_open_socket_whose_channel_receive_fails_closes_with_1011_without_a_traceback(caplog):
    """The core Redis layer pops each process's messages from Redis: while it is away, that fails."""
    layer = dispatch.get_channel_layer()
    receive = layer.receive
    redis_gone = asyncio.Event()

    async def receive_until_redis_goes(channel):
        await redis_gone.wait()
        raise RedisConnectionError("Connection reset by peer")

    layer.receive = receive_until_redis_goes
    try:
        comm = await open_socket(await db(UserFactory)())
        redis_gone.set()
        await expect_close(comm, 1011)
        await comm.wait(timeout=RECEIVE_TIMEOUT)
    finally:
        layer.receive = receive
    assert len(unreachable_lines(caplog)) == 1
    assert tracebacks(caplog) == []
