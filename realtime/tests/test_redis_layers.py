"""realtime.delivery.redis_layers against a real Redis (the PostgreSQL + Redis pass): the stock layers'
semantics kept (every message, in order per sender, to every member; full channels and failures
as stock), interoperable with the stock classes on the same keys."""

import asyncio
import os
import secrets

import pytest
from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer

from realtime.delivery.redis_layers import RedisLayer, RedisPubSubLayer

REDIS_URL = os.environ.get("REDIS_URL")
pytestmark = pytest.mark.skipif(not REDIS_URL, reason="needs Redis (set REDIS_URL); runs in CI's second pass")

SENDERS = 20
PER_SENDER = 30


def make(layer_class, prefix, **config):
    return layer_class(hosts=[{"address": REDIS_URL}], prefix=prefix, **config)


@pytest.fixture
def prefix():
    return f"rideshare-test-layers-{secrets.token_hex(6)}"


@pytest.fixture
async def layers():
    made = []
    yield made
    for layer in made:
        await layer.flush()


async def receive_all(layer, channels, count):
    """`count` messages from each channel, each channel read by its own task, as consumers do."""

    async def read(channel):
        return [await layer.receive(channel) for _ in range(count)]

    async with asyncio.timeout(10):
        return await asyncio.gather(*(read(channel) for channel in channels))


async def fan_out(sender, groups):
    """Every group gets PER_SENDER numbered messages from its own task, all tasks at once."""

    async def send(group):
        for n in range(PER_SENDER):
            await sender.group_send(group, {"type": "test.message", "group": group, "n": n})

    await asyncio.gather(*(send(group) for group in groups))


@pytest.mark.parametrize("sender_class, receiver_class", [
    (RedisPubSubLayer, RedisPubSubLayer),
    (RedisPubSubChannelLayer, RedisPubSubLayer),
    (RedisPubSubLayer, RedisPubSubChannelLayer),
    (RedisLayer, RedisLayer),
    (RedisChannelLayer, RedisLayer),
    (RedisLayer, RedisChannelLayer),
])
async def test_concurrent_group_sends_all_arrive_in_order_and_interoperate_with_stock(
    sender_class, receiver_class, prefix, layers
):
    # Capacity above the burst: stock's default (100 for the whole process's channel) drops.
    receiver = make(receiver_class, prefix, capacity=10_000)
    sender = receiver if sender_class is receiver_class else make(sender_class, prefix, capacity=10_000)
    layers.extend({id(layer): layer for layer in (receiver, sender)}.values())
    channels = [await receiver.new_channel() for _ in range(SENDERS)]
    groups = [f"user.{i}" for i in range(SENDERS)]
    for group, channel in zip(groups, channels):
        await receiver.group_add(group, channel)
    await asyncio.sleep(0.1)  # pub/sub: the subscriptions reach Redis before the publishes

    await fan_out(sender, groups)

    received = await receive_all(receiver, channels, PER_SENDER)
    for group, messages in zip(groups, received):
        assert [(m["group"], m["n"]) for m in messages] == [(group, n) for n in range(PER_SENDER)]


@pytest.mark.parametrize("layer_class", [RedisPubSubLayer, RedisLayer])
async def test_a_group_send_reaches_every_member_and_nobody_else(layer_class, prefix, layers):
    layer = make(layer_class, prefix)
    layers.append(layer)
    members = [await layer.new_channel() for _ in range(3)]
    outsider = await layer.new_channel()
    for channel in members:
        await layer.group_add("ride.1", channel)
    await layer.group_add("ride.2", outsider)
    await asyncio.sleep(0.1)  # pub/sub: the subscriptions reach Redis before the publishes (another connection)
    await layer.group_send("ride.1", {"type": "test.message", "text": "hello"})
    await layer.group_send("ride.nobody", {"type": "test.message", "text": "lost in space"})
    received = await receive_all(layer, members, 1)
    assert [messages[0]["text"] for messages in received] == ["hello"] * 3
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await layer.receive(outsider)


async def test_core_group_send_respects_the_channel_capacity_as_stock(prefix, layers):
    layer = make(RedisLayer, prefix, capacity=2)
    layers.append(layer)
    channel = await layer.new_channel()
    await layer.group_add("user.1", channel)
    for n in range(4):
        await layer.group_send("user.1", {"type": "test.message", "n": n})
    assert [(await layer.receive(channel))["n"] for _ in range(2)] == [0, 1]
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await layer.receive(channel)


async def test_pubsub_publish_failure_reaches_every_caller_of_the_batch(prefix, layers, monkeypatch):
    layer = make(RedisPubSubLayer, prefix)
    layers.append(layer)
    await layer.send("warm.up", {"type": "test.message"})  # the shard's client exists

    async def broken_execute(self, *args, **kwargs):
        raise ConnectionError("redis went away")

    monkeypatch.setattr("redis.asyncio.client.Pipeline.execute", broken_execute)
    outcomes = await asyncio.gather(
        *(layer.group_send(f"user.{i}", {"type": "test.message"}) for i in range(5)), return_exceptions=True
    )
    assert [type(outcome) for outcome in outcomes] == [ConnectionError] * 5
    monkeypatch.undo()
    await layer.group_send("user.1", {"type": "test.message"})  # and the next batch goes out again


async def test_a_position_reaches_redis_in_one_round_trip(settings, prefix, monkeypatch):
    """realtime.delivery.dispatch sends a position to its two groups at once: on the pipelined layer they
    share one pipeline, so the driver's next position waits for one round trip, not two."""
    from django.utils import timezone
    from redis.asyncio.client import Pipeline

    from realtime.delivery import dispatch
    from rides.matching import Assignment

    settings.CHANNEL_LAYERS = {"default": {
        "BACKEND": "realtime.delivery.redis_layers.RedisPubSubLayer",
        "CONFIG": {"hosts": [{"address": REDIS_URL}], "prefix": prefix},
    }}
    layer = dispatch.get_channel_layer()
    passenger = await layer.new_channel()
    await layer.group_add("user.p1", passenger)
    await asyncio.sleep(0.1)  # pub/sub: the subscriptions reach Redis before the publishes (another connection)
    executes = []
    execute = Pipeline.execute

    async def counting_execute(self, *args, **kwargs):
        executes.append(len(self.command_stack))
        return await execute(self, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "execute", counting_execute)
    try:
        assignment = Assignment("r1", "p1", "moto", 3.848, 11.502, approach_unannounced=False)
        await dispatch.send_position("d1", assignment, latitude=3.85, longitude=11.5, heading=None, speed=None,
                                     recorded_at=timezone.now())
        async with asyncio.timeout(5):
            message = await layer.receive(passenger)
    finally:
        await layer.flush()
    assert message["event_type"] == "driver_location_update"
    assert executes == [2]  # one pipeline: the passenger's group and the ride's observers


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("backend", ["realtime.delivery.redis_layers.RedisLayer", "realtime.delivery.redis_layers.RedisPubSubLayer",
                                     "channels_redis.core.RedisChannelLayer"])
async def test_a_socket_hears_its_user_group_while_the_process_inbox_listens(settings, prefix, backend):
    """The inbox (realtime.serving.lifecycle) reads the layer for as long as the server runs; on the core
    layer a reader parked on another channel prefix once starved every consumer of the process."""
    from realtime.delivery import dispatch
    from realtime.serving import lifecycle
    from rideshare.tests.factories import UserFactory

    from .helpers import db, expect_close, open_socket, receive

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": backend, "CONFIG": {"hosts": [REDIS_URL], "prefix": prefix}}}
    await lifecycle.stop()
    await lifecycle.start(only={"positions", "inbox"})
    user = await db(UserFactory)()
    comm = await open_socket(user)
    await dispatch.send_control(user.pk, dispatch.disconnect("account_disabled"))
    assert (await receive(comm))["data"]["code"] == "account_disabled"
    await expect_close(comm, 4003)
    await comm.disconnect()
