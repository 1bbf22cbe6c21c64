"""The handshake's cache of users seen recently (drivers.known_users) and the database reads
shared by the handshakes in flight (realtime.delivery.batching)."""

import asyncio

import pytest

from drivers.known_users import KnownUsers, known
from drivers.models import Driver
from realtime.connections import auth
from realtime.delivery import dispatch
from realtime.delivery.batching import Batched
from realtime.serving import lifecycle
from rideshare.accounts.models import User
from rideshare.tests.factories import DriverFactory, UserFactory, access_token_for

from .helpers import RECEIVE_TIMEOUT, communicator, db, eventually_true, expect_close, open_socket, receive


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


# --- the cache on its own --------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_entry_lives_for_the_ttl_and_the_oldest_goes_past_the_size(settings):
    settings.WS_USER_CACHE_SECONDS = 30
    settings.WS_USER_CACHE_SIZE = 2
    clock = FakeClock()
    cache = KnownUsers(clock=clock)
    first, second, third = UserFactory(), UserFactory(), UserFactory()
    cache.put(first)
    clock.now += 29
    assert cache.get(first.pk) is first
    clock.now += 2
    assert cache.get(first.pk) is None  # older than the TTL
    cache.put(first)
    cache.put(second)
    cache.put(third)
    assert cache.get(first.pk) is None and cache.get(second.pk) is second and cache.get(third.pk) is third


@pytest.mark.django_db
def test_inactive_users_are_never_kept_and_a_zero_size_keeps_nobody(settings):
    cache = KnownUsers()
    cache.put(UserFactory.build(is_active=False))
    assert cache.entries == {}
    settings.WS_USER_CACHE_SIZE = 0
    cache.put(UserFactory())
    assert cache.entries == {}


# --- the handshake --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_a_reconnect_within_the_ttl_asks_the_database_nothing_about_the_user(monkeypatch):
    user = await db(UserFactory)()
    comm = await open_socket(user)
    await comm.disconnect()
    looked_up = []
    original = auth._active_user.load
    monkeypatch.setattr(auth._active_user, "load", lambda ids: looked_up.append(ids) or original(ids))
    comm = await open_socket(user)
    await comm.disconnect()
    assert looked_up == []


@pytest.mark.django_db(transaction=True)
async def test_a_user_deactivated_here_is_forgotten_at_once_and_refused_with_4001():
    user = await db(UserFactory)()
    comm = await open_socket(user)
    stored = await db(User.objects.get)(pk=user.pk)
    stored.is_active = False
    await db(stored.save)()
    assert (await receive(comm))["data"]["code"] == "account_disabled"
    await expect_close(comm, 4003)
    assert known.get(user.pk) is None
    again = communicator(await db(access_token_for)(user))
    assert (await again.connect(timeout=RECEIVE_TIMEOUT))[0] is True
    await expect_close(again, 4001)  # the handshake asked the database again


@pytest.mark.django_db(transaction=True)
async def test_a_passenger_who_becomes_a_driver_connects_as_a_driver_at_once():
    user = await db(UserFactory)()
    comm = await open_socket(user)
    await comm.disconnect()
    assert known.get(user.pk) is not None
    await db(DriverFactory)(user=user)
    assert known.get(user.pk) is None
    comm = await open_socket(user)
    assert known.get(user.pk).is_driver is True
    await comm.disconnect()
    await db(Driver.objects.filter(pk=user.pk).delete)()
    assert known.get(user.pk) is None


@pytest.mark.django_db(transaction=True)
async def test_every_server_process_forgets_a_user_through_its_inbox():
    """What another process's change sends (realtime.signals): the inbox job forgets the user here."""
    await lifecycle.stop()
    await lifecycle.start(only={"positions", "inbox"})
    user = await db(UserFactory)()
    known.put(user)
    deadline = asyncio.get_running_loop().time() + 3
    while known.get(user.pk) is not None:  # sent again until the inbox has joined its group
        assert asyncio.get_running_loop().time() < deadline, "the inbox never forgot the user"
        await dispatch.send_to_processes(dispatch.forget_user(user.pk))
        await eventually_true(lambda: known.get(user.pk) is None, timeout=0.1)


# --- shared reads ------------------------------------------------------------------------------------


async def test_requests_made_while_a_load_runs_share_the_next_one():
    calls = []

    def load(requests):
        calls.append(list(requests))
        return [r * 10 for r in requests]

    batched = Batched(load)
    results = await asyncio.gather(*(batched(i) for i in range(50)))
    assert results == [i * 10 for i in range(50)]
    assert len(calls) <= 2 and sorted(sum(calls, [])) == list(range(50))


async def test_a_failed_load_fails_its_batch_and_the_next_batch_runs():
    def load(requests):
        if 0 in requests:
            raise RuntimeError("database away")
        return requests

    batched = Batched(load, max_batch=1)
    outcomes = await asyncio.gather(batched(0), batched(1), return_exceptions=True)
    assert isinstance(outcomes[0], RuntimeError) and outcomes[1] == 1
