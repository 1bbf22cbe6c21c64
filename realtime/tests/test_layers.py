"""realtime.delivery.layers.InProcessChannelLayer: channels' own in-memory layer tests ported to it, the
semantics it shares with stock, and the properties the stock layer lacks (no scans, no residue).

No Redis, no database: these run the same whatever DATABASE_URL / REDIS_URL say."""

import asyncio
import threading

import pytest
from channels import DEFAULT_CHANNEL_LAYER
from channels.exceptions import ChannelFull
from channels.layers import channel_layers, get_channel_layer

from realtime.delivery.layers import InProcessChannelLayer

from .clocks import FakeClock

BACKEND = "realtime.delivery.layers.InProcessChannelLayer"
NOTHING_ARRIVES = 0.2  # how long "no message" is watched


@pytest.fixture
async def channel_layer():
    layer = InProcessChannelLayer(capacity=3)
    yield layer
    await layer.flush()
    await layer.close()


@pytest.fixture
def clock():
    """A settable clock for the layer's expiry, passed as `clock=` (asyncio keeps the real one)."""
    return FakeClock(1000.0)


async def assert_nothing_arrives(layer, channel):
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(NOTHING_ARRIVES):
            await layer.receive(channel)


async def receive(layer, channel):
    async with asyncio.timeout(1):
        return await layer.receive(channel)


async def until(condition, timeout=1):
    """Let the event loop run until `condition()` holds (one turn at a time), or fail."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0)


def waiting_receivers(layer, channel):
    record = layer.channels.get(channel)
    return [] if record is None else list(record.waiters)


def assert_consistent(layer):
    """The layer's invariants: a channel entry exists only while it has messages or waiting
    receivers, every waiting receiver is still waiting (no cancelled or resolved leftovers), and
    the due-time index lists exactly the channels holding messages."""
    for name, record in layer.channels.items():
        assert record.queue or record.waiters, f"idle channel {name} left behind"
        assert not [w for w in record.waiters if w.done()], f"stale waiter on {name}"
    assert set(layer._due) == {name for name, record in layer.channels.items() if record.queue}


def assert_no_residue(layer):
    assert layer.channels == {}
    assert layer.groups == {}
    assert layer._channel_groups == {}
    assert not layer._due
    assert not layer._joins


# --- ported from channels' tests/test_inmemorychannel.py and tests/test_layers.py ----------------


async def test_send_receive(channel_layer):
    await channel_layer.send("test-channel-1", {"type": "test.message", "text": "Ahoy-hoy!"})
    message = await channel_layer.receive("test-channel-1")
    assert message["type"] == "test.message"
    assert message["text"] == "Ahoy-hoy!"


async def test_send_receive_returns_an_equal_message():
    layer = InProcessChannelLayer()
    message = {"type": "test.message"}
    await layer.send("test.channel", message)
    assert message == await layer.receive("test.channel")


async def test_send_capacity(channel_layer):
    for _ in range(3):
        await channel_layer.send("test-channel-1", {"type": "test.message"})
    with pytest.raises(ChannelFull):
        await channel_layer.send("test-channel-1", {"type": "test.message"})


async def test_process_local_send_receive(channel_layer):
    channel_name = await channel_layer.new_channel()
    assert "!" in channel_name
    channel_layer.require_valid_channel_name(channel_name)
    await channel_layer.send(channel_name, {"type": "test.message", "text": "Local only please"})
    message = await channel_layer.receive(channel_name)
    assert message["type"] == "test.message"
    assert message["text"] == "Local only please"


async def test_new_channel_names_are_unique(channel_layer):
    names = {await channel_layer.new_channel() for _ in range(1000)}
    assert len(names) == 1000
    assert (await channel_layer.new_channel("custom")).startswith("custom.")


async def test_multi_send_receive(channel_layer):
    await channel_layer.send("test-channel-3", {"type": "message.1"})
    await channel_layer.send("test-channel-3", {"type": "message.2"})
    await channel_layer.send("test-channel-3", {"type": "message.3"})
    assert (await channel_layer.receive("test-channel-3"))["type"] == "message.1"
    assert (await channel_layer.receive("test-channel-3"))["type"] == "message.2"
    assert (await channel_layer.receive("test-channel-3"))["type"] == "message.3"


async def test_groups_basic(channel_layer):
    await channel_layer.group_add("test-group", "test-gr-chan-1")
    await channel_layer.group_add("test-group", "test-gr-chan-2")
    await channel_layer.group_add("test-group", "test-gr-chan-3")
    await channel_layer.group_discard("test-group", "test-gr-chan-2")
    await channel_layer.group_send("test-group", {"type": "message.1"})
    assert (await receive(channel_layer, "test-gr-chan-1"))["type"] == "message.1"
    assert (await receive(channel_layer, "test-gr-chan-3"))["type"] == "message.1"
    await assert_nothing_arrives(channel_layer, "test-gr-chan-2")


async def test_groups_channel_full(channel_layer):
    """group_send ignores ChannelFull: the channel keeps the first `capacity` messages."""
    await channel_layer.group_add("test-group", "test-gr-chan-1")
    for i in range(5):
        await channel_layer.group_send("test-group", {"type": f"message.{i}"})
    received = [(await receive(channel_layer, "test-gr-chan-1"))["type"] for _ in range(3)]
    assert received == ["message.0", "message.1", "message.2"]
    await assert_nothing_arrives(channel_layer, "test-gr-chan-1")


async def test_expiry_single(clock):
    channel_layer = InProcessChannelLayer(expiry=0.1, clock=clock)
    await channel_layer.send("test-channel-1", {"type": "message.1"})
    assert len(channel_layer.channels) == 1
    clock.advance(0.11)
    await assert_nothing_arrives(channel_layer, "test-channel-1")
    assert len(channel_layer.channels) == 0


async def test_expiry_unread(clock):
    """A message expires and is cleaned up even if its channel is never read again."""
    channel_layer = InProcessChannelLayer(expiry=0.1, clock=clock)
    await channel_layer.send("test-channel-1", {"type": "message.1"})
    clock.advance(0.11)
    await channel_layer.send("test-channel-2", {"type": "message.2"})
    assert (await channel_layer.receive("test-channel-2"))["type"] == "message.2"
    assert len(channel_layer.channels) == 0


async def test_expiry_multi(clock):
    channel_layer = InProcessChannelLayer(expiry=0.1, clock=clock)
    await channel_layer.send("test-channel-1", {"type": "message.1"})
    await channel_layer.send("test-channel-1", {"type": "message.2"})
    await channel_layer.send("test-channel-1", {"type": "message.3"})
    assert (await channel_layer.receive("test-channel-1"))["type"] == "message.1"
    clock.advance(0.11)
    await channel_layer.send("test-channel-1", {"type": "message.4"})
    assert (await channel_layer.receive("test-channel-1"))["type"] == "message.4"
    await assert_nothing_arrives(channel_layer, "test-channel-1")
    assert len(channel_layer.channels) == 0


async def test_receive_cancel():
    """From channels_redis: cancelling a receive at any point never blocks or breaks the channel.

    "Any point" is every number of event-loop turns before the cancel, with the receive cancelled
    while nothing was sent, after the message was queued, while it waited for the message, or
    while it and a second receiver waited. Each time the layer stays consistent (no stale waiter,
    no idle entry), the message reaches exactly one receive (the cancelled one if it had already
    returned, else the other waiting receiver or the next receive), a message sent afterwards is
    received by the next receive, and nothing is left over: none lost, none delivered twice."""
    channel_layer = InProcessChannelLayer(capacity=30)
    channel = await channel_layer.new_channel()
    n = 0
    for turns in range(5):
        for scenario in ("idle", "queued", "waiting", "two waiting"):
            n += 1
            message, after = {"type": "test.message", "n": n}, {"type": "test.message", "n": -n}
            if scenario == "queued":
                await channel_layer.send(channel, message)
            cancelled = asyncio.create_task(channel_layer.receive(channel))
            others = [asyncio.create_task(channel_layer.receive(channel))] if scenario == "two waiting" else []
            if scenario in ("waiting", "two waiting"):
                await until(lambda: len(waiting_receivers(channel_layer, channel)) == 1 + len(others))
                await channel_layer.send(channel, message)  # wakes `cancelled`, the oldest receiver
            for _ in range(turns):  # the cancel point: this many event-loop turns later
                await asyncio.sleep(0)
            cancelled.cancel()
            (outcome,) = await asyncio.gather(cancelled, return_exceptions=True)
            assert_consistent(channel_layer)
            if scenario == "idle":
                assert isinstance(outcome, asyncio.CancelledError)
                assert_no_residue(channel_layer)
                await channel_layer.send(channel, message)

            async def next_message():
                """The next delivery: to the receiver still waiting, if any, else a new receive."""
                async with asyncio.timeout(1):
                    return await (others.pop() if others else channel_layer.receive(channel))

            got = [] if isinstance(outcome, asyncio.CancelledError) else [outcome]
            if not got:
                got.append(await next_message())
            assert got == [message], (turns, scenario)
            await channel_layer.send(channel, after)
            assert await next_message() == after, (turns, scenario)
            assert not others
            assert_no_residue(channel_layer)  # nothing queued twice, no receiver left waiting


@pytest.mark.parametrize("method", ["require_valid_channel_name", "require_valid_group_name"])
@pytest.mark.parametrize(
    "name,expected_valid", [("¯\\_(ツ)_/¯", False), ("chat", True), ("chat" * 100, False)]
)
def test_channel_and_group_name_validation(method, name, expected_valid):
    check = getattr(InProcessChannelLayer(), method)
    if expected_valid:
        check(name)
    else:
        with pytest.raises(TypeError):
            check(name)


@pytest.mark.parametrize("kind", ["Channel", "Group"])
def test_name_length_error_message(kind):
    layer = InProcessChannelLayer()
    check = getattr(layer, f"require_valid_{kind.lower()}_name")
    with pytest.raises(TypeError, match=layer.invalid_name_error.format(kind)):
        check("a" * 101)


def test_deprecated_name_checks_still_work_and_warn():
    layer = InProcessChannelLayer()
    with pytest.warns(DeprecationWarning, match="valid_channel_name is deprecated"):
        assert layer.valid_channel_name("valid-channel")
    with pytest.warns(DeprecationWarning, match="valid_group_name is deprecated"):
        assert layer.valid_group_name("valid-group")
    with pytest.warns(DeprecationWarning), pytest.raises(TypeError):
        layer.valid_channel_name("¯\\_(ツ)_/¯")


async def test_every_operation_validates_its_names_and_messages(channel_layer):
    with pytest.raises(TypeError):
        await channel_layer.send("bad name", {"type": "x"})
    with pytest.raises(TypeError):
        await channel_layer.receive("bad name")
    with pytest.raises(TypeError):
        await channel_layer.group_add("bad group", "chan")
    with pytest.raises(TypeError):
        await channel_layer.group_discard("group", "bad chan")
    with pytest.raises(TypeError):
        await channel_layer.group_send("bad group", {"type": "x"})
    with pytest.raises(AssertionError):
        await channel_layer.send("chan", ["not", "a", "dict"])
    with pytest.raises(AssertionError):
        await channel_layer.group_send("group", "not a dict")
    with pytest.raises(AssertionError):
        await channel_layer.send("chan", {"type": "x", "__asgi_channel__": "chan"})


def test_layer_manager_builds_it_with_test_config(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": BACKEND, "TEST_CONFIG": {"expiry": 100500}}}
    layer = channel_layers.make_test_backend(DEFAULT_CHANNEL_LAYER)
    assert isinstance(layer, InProcessChannelLayer)
    assert layer.expiry == 100500
    assert layer.extensions == ["groups", "flush"]


def test_layer_manager_passes_config(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": BACKEND, "CONFIG": {"capacity": 7, "group_expiry": 5}}}
    layer = get_channel_layer()
    assert isinstance(layer, InProcessChannelLayer)
    assert (layer.capacity, layer.group_expiry, layer.expiry) == (7, 5, 60)


def test_is_the_embedded_default_and_redis_url_selects_redis():
    """Read from a fresh settings import, whatever this test run itself is configured with."""
    import os
    import subprocess
    import sys

    probe = "from rideshare import settings; print(settings.CHANNEL_LAYERS['default']['BACKEND'])"
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    embedded = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert embedded.stdout.strip() == "realtime.delivery.layers.InProcessChannelLayer"
    env["REDIS_URL"] = "redis://127.0.0.1:6379/0"
    redis = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    # channels-redis's pub/sub layer with its publishes pipelined (realtime.delivery.redis_layers).
    assert redis.stdout.strip() == "realtime.delivery.redis_layers.RedisPubSubLayer"


# --- semantics shared with stock, beyond its own tests ---------------------------------------


async def test_channel_capacity_patterns():
    layer = InProcessChannelLayer(capacity=1, channel_capacity={"big.*": 3})
    for _ in range(3):
        await layer.send("big.one", {"type": "x"})
    with pytest.raises(ChannelFull):
        await layer.send("big.one", {"type": "x"})
    await layer.send("small", {"type": "x"})
    with pytest.raises(ChannelFull):
        await layer.send("small", {"type": "x"})


async def test_a_drained_channel_accepts_again(channel_layer):
    for _ in range(3):
        await channel_layer.send("c", {"type": "x"})
    await channel_layer.receive("c")
    await channel_layer.send("c", {"type": "x"})


async def test_message_expired_before_a_group_send_removes_the_channel_from_all_groups(clock):
    """Stock treats an expired message as a dead reader: the channel leaves every group, and the
    group_send that notices it does not deliver to it."""
    layer = InProcessChannelLayer(expiry=10, clock=clock)
    for group in ("g1", "g2"):
        await layer.group_add(group, "dead")
    await layer.group_add("g1", "alive")
    await layer.send("dead", {"type": "old"})
    clock.advance(11)
    await layer.group_send("g1", {"type": "new"})
    assert (await receive(layer, "alive"))["type"] == "new"
    assert layer.groups == {"g1": {"alive": 1000.0}}
    await assert_nothing_arrives(layer, "dead")


async def test_unread_expired_message_removes_its_channel_from_groups_at_any_later_call(clock):
    layer = InProcessChannelLayer(expiry=10, clock=clock)
    await layer.group_add("g", "dead")
    await layer.send("dead", {"type": "old"})
    clock.advance(11)
    await layer.send("elsewhere", {"type": "x"})  # an unrelated call does the cleanup
    assert "dead" not in layer.channels
    assert layer.groups == {}


async def test_a_message_is_never_delivered_after_expiry_even_to_a_woken_receiver(clock):
    layer = InProcessChannelLayer(expiry=10, clock=clock)
    task = asyncio.create_task(layer.receive("c"))
    await until(lambda: len(waiting_receivers(layer, "c")) == 1)
    await layer.send("c", {"type": "old"})
    clock.advance(11)  # expires before the woken receiver runs
    # The woken receiver ran, found the message expired and waits again on a fresh future.
    await until(lambda: len(waiting_receivers(layer, "c")) == 1 and not waiting_receivers(layer, "c")[0].done())
    assert not task.done()
    await layer.send("c", {"type": "new"})
    async with asyncio.timeout(1):
        assert (await task)["type"] == "new"


async def test_group_membership_expires(clock):
    layer = InProcessChannelLayer(group_expiry=100, clock=clock)
    await layer.group_add("g", "old")
    clock.advance(60)
    await layer.group_add("g", "young")
    clock.advance(50)  # "old" joined 110 s ago, "young" 50 s ago
    await layer.group_send("g", {"type": "x"})
    assert (await receive(layer, "young"))["type"] == "x"
    await assert_nothing_arrives(layer, "old")
    assert layer.groups == {"g": {"young": clock.now - 50}}


async def test_rejoining_restarts_group_expiry(clock):
    layer = InProcessChannelLayer(group_expiry=100, clock=clock)
    await layer.group_add("g", "c")
    clock.advance(60)
    await layer.group_add("g", "c")
    clock.advance(60)  # 120 s after the first join, 60 s after the second
    await layer.group_send("g", {"type": "x"})
    assert (await receive(layer, "c"))["type"] == "x"


async def test_flush_drops_messages_and_groups(channel_layer):
    await channel_layer.send("c", {"type": "x"})
    await channel_layer.group_add("g", "c")
    await channel_layer.flush()
    await channel_layer.group_send("g", {"type": "y"})
    await assert_nothing_arrives(channel_layer, "c")
    assert_no_residue(channel_layer)


async def test_messages_are_copied(channel_layer):
    nested = {"type": "x", "data": {"items": [1, 2]}}
    flat = {"type": "y", "text": '{"a": 1}', "id": 5, "prev": None}
    for name in ("a", "b"):
        await channel_layer.group_add("g", name)
    await channel_layer.group_send("g", nested)
    await channel_layer.group_send("g", flat)
    a_nested, b_nested = await receive(channel_layer, "a"), await receive(channel_layer, "b")
    a_flat, b_flat = await receive(channel_layer, "a"), await receive(channel_layer, "b")
    assert a_nested == b_nested == nested and a_flat == b_flat == flat
    a_nested["data"]["items"].append(3)  # one consumer mutating its message affects nobody else
    a_flat["text"] = "changed"
    assert b_nested["data"]["items"] == [1, 2] == nested["data"]["items"]
    assert b_flat["text"] == flat["text"] == '{"a": 1}'
    sent = {"type": "z", "data": {"n": 1}}
    await channel_layer.send("a", sent)
    sent["data"]["n"] = 2  # the sender mutating afterwards changes nothing queued
    assert (await receive(channel_layer, "a"))["data"] == {"n": 1}


# --- several receivers, cancellation, flush, threads -----------------------------------------


async def test_several_receivers_on_one_channel_each_get_one_message(channel_layer):
    tasks = [asyncio.create_task(channel_layer.receive("shared")) for _ in range(3)]
    await until(lambda: len(waiting_receivers(channel_layer, "shared")) == 3)
    for i in range(3):
        await channel_layer.send("shared", {"type": f"m{i}"})
    async with asyncio.timeout(1):
        received = sorted(message["type"] for message in await asyncio.gather(*tasks))
    assert received == ["m0", "m1", "m2"]
    assert channel_layer.channels == {}


async def test_a_woken_receiver_cancelled_before_it_runs_passes_the_message_on(channel_layer):
    first = asyncio.create_task(channel_layer.receive("c"))
    second = asyncio.create_task(channel_layer.receive("c"))
    await until(lambda: len(waiting_receivers(channel_layer, "c")) == 2)
    await channel_layer.send("c", {"type": "x"})  # wakes `first`
    first.cancel()
    async with asyncio.timeout(1):
        assert (await second)["type"] == "x"
    with pytest.raises(asyncio.CancelledError):
        await first
    assert channel_layer.channels == {}


async def test_cancelled_receive_leaves_nothing_behind(channel_layer):
    task = asyncio.create_task(channel_layer.receive("c"))
    await until(lambda: len(waiting_receivers(channel_layer, "c")) == 1)
    assert "c" in channel_layer.channels
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert channel_layer.channels == {}


async def test_a_receiver_waiting_across_flush_still_gets_later_messages(channel_layer):
    task = asyncio.create_task(channel_layer.receive("c"))
    await until(lambda: len(waiting_receivers(channel_layer, "c")) == 1)
    await channel_layer.flush()
    await channel_layer.send("c", {"type": "after"})
    async with asyncio.timeout(1):
        assert (await task)["type"] == "after"


async def test_send_from_another_threads_event_loop_wakes_the_receiver(channel_layer):
    """What async_to_sync does in a plain thread (e.g. a commit hook outside the server loop)."""
    await channel_layer.group_add("g", "c")
    task = asyncio.create_task(channel_layer.receive("c"))
    await until(lambda: len(waiting_receivers(channel_layer, "c")) == 1)
    thread = threading.Thread(target=asyncio.run, args=(channel_layer.group_send("g", {"type": "x"}),))
    thread.start()
    async with asyncio.timeout(2):
        assert (await task)["type"] == "x"
    thread.join()


# --- the scale properties: no scans, no residue ----------------------------------------------


class ScanTrap(dict):
    """A dict that fails if anything iterates it (look-ups, inserts and deletes still work)."""

    def _fail(self, *args):
        raise AssertionError("iterated a structure whose size is the whole layer")

    __iter__ = keys = values = items = _fail


def count_calls(monkeypatch, layer, name):
    calls = []
    original = getattr(layer, name)

    def counted(channel, *args):
        calls.append(channel)
        return original(channel, *args)

    monkeypatch.setattr(layer, name, counted)
    return calls


async def big_layer(clock):
    """20,000 channels in 10,000 two-member groups, all also in one 20,000-member group; every
    channel has a queued message. The whole-layer structures are then swapped for ScanTraps."""
    layer = InProcessChannelLayer(expiry=10, clock=clock)
    for i in range(10_000):
        for channel in (f"c{2 * i}", f"c{2 * i + 1}"):
            await layer.group_add(f"g{i}", channel)
            await layer.group_add("everyone", channel)
            await layer.send(channel, {"type": "queued"})
    clock.advance(5)
    groups = ScanTrap(layer.groups)
    groups["everyone"] = ScanTrap(groups["everyone"])
    layer.groups = groups
    layer.channels = ScanTrap(layer.channels)
    layer._channel_groups = ScanTrap(layer._channel_groups)
    return layer


async def test_group_send_to_a_small_group_touches_only_its_members(clock, monkeypatch):
    layer = await big_layer(clock)
    puts = count_calls(monkeypatch, layer, "_put")
    expiries = count_calls(monkeypatch, layer, "_expire")
    await layer.group_send("g7", {"type": "news"})
    assert sorted(puts) == ["c14", "c15"]
    assert sorted(expiries) == ["c14", "c15"]
    for channel in ("c14", "c15"):
        assert [(await receive(layer, channel))["type"] for _ in range(2)] == ["queued", "news"]
    assert len(dict.__getitem__(layer.channels, "c16").queue) == 1  # the rest untouched


async def test_expired_member_leaves_every_group_without_scanning(clock, monkeypatch):
    layer = await big_layer(clock)
    await layer.receive("c15")  # c15 drained; c14 keeps its now-old message
    clock.advance(6)  # every queued message is now 11 s old: expired (expiry=10)
    monkeypatch.setattr(layer, "_due", {})  # keep the sweep out of it: group_send alone must notice
    expiries = count_calls(monkeypatch, layer, "_expire")
    await layer.group_send("g7", {"type": "news"})
    assert sorted(expiries) == ["c14"]  # c15 has no queue: nothing to expire
    assert (await receive(layer, "c15"))["type"] == "news"
    await assert_nothing_arrives(layer, "c14")
    assert dict.__contains__(layer.groups["everyone"], "c15")
    assert not dict.__contains__(layer.groups["everyone"], "c14")
    assert dict.__getitem__(layer.groups, "g7") == {"c15": clock.now - 11}


async def test_connect_disconnect_churn_leaves_no_residue():
    """10,000 sockets connect (a user group, a shared ride group, a blocked receive), get
    messages, drain them and disconnect: afterwards the layer holds nothing at all."""
    layer = InProcessChannelLayer()
    names = [await layer.new_channel() for _ in range(10_000)]
    for i, name in enumerate(names):
        await layer.group_add(f"user-{i}", name)
        await layer.group_add(f"ride-{i % 100}", name)
    receivers = [asyncio.create_task(layer.receive(name)) for name in names]
    await until(lambda: all(waiting_receivers(layer, name) for name in names), timeout=10)
    for ride in range(100):
        await layer.group_send(f"ride-{ride}", {"type": "ride.update", "text": "{}"})
        await layer.group_send(f"ride-{ride}", {"type": "ride.update", "text": "{}"})
    async with asyncio.timeout(10):
        await asyncio.gather(*receivers)
    for name in names:
        await layer.receive(name)  # the second message
    leftover = [asyncio.create_task(layer.receive(name)) for name in names]  # blocked at disconnect
    await until(lambda: all(waiting_receivers(layer, name) for name in names), timeout=10)
    for i, name in enumerate(names):
        await layer.group_discard(f"user-{i}", name)
        await layer.group_discard(f"ride-{i % 100}", name)
    for task in leftover:
        task.cancel()
    await asyncio.gather(*leftover, return_exceptions=True)
    assert_no_residue(layer)
