"""WS_MAX_CONNECTIONS_PER_USER: a new connection over the cap closes the user's oldest (4010),
wherever it is held (realtime.presence.cap)."""

import time

import pytest

from drivers.models import Driver
from realtime.delivery import metrics
from realtime.presence import presence, shared_presence
from rideshare.tests.factories import DriverFactory, UserFactory

from .helpers import assert_nothing_more, db, expect_close, open_socket

pytestmark = pytest.mark.django_db(transaction=True)


async def rows_of(user_id):
    """The user's sockets presence counts in this process (written to Redis or not)."""
    return set(presence.local.by_user.get(user_id, {}))


def written(user_id):
    """The user's sockets in the shared presence (Redis mode; embedded there is none)."""
    return set(shared_presence.client().hkeys(shared_presence._user(user_id))) if presence.shared() else set()


def channel_of(comm):
    """The consumer's channel name: the newest socket this process opened."""
    return max(presence.local.open, key=lambda name: presence.local.by_user[presence.local.open[name][0]][name])


async def test_a_connection_over_the_cap_closes_the_users_oldest_with_4010(settings):
    settings.WS_MAX_CONNECTIONS_PER_USER = 2
    user = await db(UserFactory)()
    gauge = metrics.open_connections._value.get()
    first = await open_socket(user)
    second = await open_socket(user)
    third = await open_socket(user)
    await expect_close(first, 4010)
    # It stopped counting at once, before its close handshake is done.
    assert len(await rows_of(user.pk)) == 2
    assert metrics.open_connections._value.get() == gauge + 2
    await first.disconnect()
    for comm in (second, third):
        await assert_nothing_more(comm)
    assert len(await rows_of(user.pk)) == 2
    fourth = await open_socket(user)
    await expect_close(second, 4010)
    await second.disconnect()
    for comm in (third, fourth):
        await assert_nothing_more(comm)
        await comm.disconnect()
    assert await rows_of(user.pk) == set()
    assert metrics.open_connections._value.get() == gauge


async def test_other_users_connections_do_not_count(settings):
    settings.WS_MAX_CONNECTIONS_PER_USER = 1
    alice, bob = await db(UserFactory)(), await db(UserFactory)()
    a, b = await open_socket(alice), await open_socket(bob)
    await assert_nothing_more(a)
    await assert_nothing_more(b)
    await a.disconnect()
    await b.disconnect()


async def test_a_driver_replaced_by_a_newer_connection_stays_online(settings):
    settings.WS_MAX_CONNECTIONS_PER_USER = 1
    driver = await db(DriverFactory)(is_online=True)
    old = await open_socket(driver.user)
    new = await open_socket(driver.user)
    await expect_close(old, 4010)
    await old.disconnect()
    assert await db(lambda: Driver.objects.get(pk=driver.pk).is_online)() is True
    assert len(await rows_of(driver.pk)) == 1
    await assert_nothing_more(new)
    await new.disconnect()
    assert await db(lambda: Driver.objects.get(pk=driver.pk).is_online)() is False


async def test_passenger_sockets_whose_rows_are_not_written_yet_count(settings):
    settings.PRESENCE_SYNC_SECONDS = 60  # rows in batches: none written during this test
    settings.WS_MAX_CONNECTIONS_PER_USER = 2
    user = await db(UserFactory)()
    socks = [await open_socket(user) for _ in range(3)]
    assert await db(written)(user.pk) == set()
    await expect_close(socks[0], 4010)
    for comm in socks:
        await comm.disconnect()


@pytest.mark.skipif(not presence.shared(), reason="several processes share presence through Redis: CI's second pass")
async def test_the_oldest_connection_held_by_another_process_is_closed_through_the_channel_layer(settings):
    settings.WS_MAX_CONNECTIONS_PER_USER = 2
    user = await db(UserFactory)()
    remote = await open_socket(user)
    # Make it another live process's socket: this process no longer holds it, Redis says elsewhere.
    name = channel_of(remote)
    presence.local.remove(name)
    await db(shared_presence.add)([], [(name, user.pk)], presence.SERVER_ID)
    await db(shared_presence.add)([(name, user.pk, False, time.time() - 300)], [], "elsewhere:1")
    await db(shared_presence.client().zadd)(shared_presence._servers(), {"elsewhere:1": time.time()})
    local = await open_socket(user)
    await assert_nothing_more(remote)  # two: within the cap
    newest = await open_socket(user)
    await expect_close(remote, 4010)
    await remote.disconnect()
    for comm in (local, newest):
        await assert_nothing_more(comm)
        await comm.disconnect()
    # Only the simulated remote entry is left (its own process would remove it; here it has none).
    assert await db(written)(user.pk) == {name}


async def test_no_cap_when_the_setting_is_zero(settings):
    settings.WS_MAX_CONNECTIONS_PER_USER = 0
    user = await db(UserFactory)()
    socks = [await open_socket(user) for _ in range(7)]
    for comm in socks:
        await assert_nothing_more(comm)
        await comm.disconnect()
