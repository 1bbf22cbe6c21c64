"""realtime.delivery.dispatch: sync code hands its sends to the server's loop and never waits on it."""

import asyncio
import threading

import pytest

from realtime.delivery import dispatch
from realtime.delivery.dispatch import _Handoff

from .helpers import eventually_true


def _from_a_thread(fn):
    """Run `fn` in a plain thread and join it while blocking the loop: if `fn` waited for the loop,
    this would never return (the join times out instead)."""
    thread = threading.Thread(target=fn, daemon=True)
    thread.start()
    thread.join(timeout=5)
    return not thread.is_alive()


async def test_sync_code_hands_a_send_to_the_loop_and_returns_at_once():
    ran = []

    async def job(value):
        ran.append(value)

    assert _from_a_thread(lambda: dispatch.soon(job, 1)), "soon() waited on the (blocked) loop"
    assert ran == []  # the loop was blocked all along: the job cannot have run yet
    assert await eventually_true(lambda: ran == [1])


async def test_hand_offs_run_in_the_order_they_were_made():
    ran = []

    async def job(value):
        await asyncio.sleep(0.01 if value % 2 else 0)  # a slow send does not let the next overtake it
        ran.append(value)

    assert _from_a_thread(lambda: [dispatch.soon(job, n) for n in range(6)])
    assert await eventually_true(lambda: len(ran) == 6)
    assert ran == list(range(6))


async def test_after_shutdown_a_hand_off_is_dropped_not_waited_on():
    from realtime.serving import lifecycle

    ran = []

    async def job():
        ran.append(True)

    await lifecycle.stop()
    dropped = dispatch._handoff.dropped
    assert _from_a_thread(lambda: dispatch.soon(job))
    assert await eventually_true(lambda: dispatch._handoff.dropped == dropped + 1)
    assert ran == []


def test_a_hand_off_to_a_closed_loop_is_dropped():
    handoff = _Handoff()
    loop = asyncio.new_event_loop()
    handoff.loop = loop
    loop.close()
    handoff.hand_off(lambda: None, (), {})
    assert handoff.dropped == 1


def test_without_a_server_loop_and_a_shared_layer_soon_sends_before_it_returns(monkeypatch):
    monkeypatch.setattr(dispatch, "layer_is_process_local", lambda: False)  # as with Redis
    ran = []

    async def job(value):
        ran.append(value)

    dispatch.soon(job, "now")
    assert ran == ["now"]


def test_without_a_server_loop_and_an_in_process_layer_nothing_is_sent(settings):
    """A management command or the shell on the embedded default: no socket can hear this
    process's layer, so nothing is sent (and no reliable event marked published)."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "realtime.delivery.layers.InProcessChannelLayer"}}
    ran = []

    async def job(value):
        ran.append(value)

    left = dispatch._handoff.left_to_relay
    dispatch.soon(job, "now")
    assert ran == [] and dispatch._handoff.left_to_relay == left + 1


@pytest.mark.parametrize("ride_id, passenger_id", [("r1", "p1"), ("r2", "p2")])
def test_a_position_goes_to_the_rides_passenger_and_its_observers_only(ride_id, passenger_id):
    assert dispatch.position_groups(ride_id, passenger_id) == [f"user.{passenger_id}", f"ride.{ride_id}"]
