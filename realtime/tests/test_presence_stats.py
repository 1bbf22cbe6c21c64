"""Presence (in memory, and shared through Redis with TTLs; drivers going offline) and the staff
stats endpoint."""

import asyncio
import time

import pytest
from django.conf import settings

from drivers.models import Driver
from realtime.presence import presence, shared_presence
from rides.models import RideStatus
from rideshare.tests.factories import DriverFactory, RideFactory, UserFactory, api_client_for, ride_in_status

from .clocks import FakeClock
from .helpers import assert_envelope, assert_nothing_more, counted, db, open_socket, receive, socket

STATS_URLS = ["/api/v1/ws/stats", "/api/v1/ws/stats/"]


# --- stats access --------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("url", STATS_URLS)
def test_stats_require_authentication(url):
    response = api_client_for(None).get(url)
    assert response.status_code == 401
    assert set(response.json()) >= {"detail", "code"}


@pytest.mark.django_db
@pytest.mark.parametrize("url", STATS_URLS)
def test_stats_are_forbidden_to_non_staff(url):
    response = api_client_for(UserFactory()).get(url)
    assert response.status_code == 403
    driver_response = api_client_for(DriverFactory().user).get(url)
    assert driver_response.status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("url", STATS_URLS)
def test_stats_are_served_to_staff_with_the_guide_figures(url):
    response = api_client_for(UserFactory(is_staff=True)).get(url)
    assert response.status_code == 200
    body = response.json()
    for field in ("total_connections", "online_drivers", "active_rides"):
        assert isinstance(body[field], int) and not isinstance(body[field], bool), field


# --- stats figures reflect open connections ------------------------------------------------------


def _stats(staff):
    response = api_client_for(staff).get("/api/v1/ws/stats")
    assert response.status_code == 200
    return response.json()


@pytest.mark.django_db(transaction=True)
async def test_stats_figures_reflect_open_connections_online_drivers_and_active_rides():
    staff = await db(UserFactory)(is_staff=True)
    ride = await db(ride_in_status)(RideStatus.STARTED)  # its driver is online
    await db(RideFactory)()  # a requested ride is not active
    await db(DriverFactory)(is_online=False)
    before = await db(_stats)(staff)
    assert before["total_connections"] == 0
    assert before["online_drivers"] == 1
    assert before["active_rides"] == 1

    driver_user = ride.driver.user
    comms = [await open_socket(ride.passenger), await open_socket(driver_user), await open_socket(driver_user)]
    try:
        stats = await db(_stats)(staff)
        assert stats["total_connections"] == 3
        assert stats["online_drivers"] == 1
        assert stats["active_rides"] == 1

        await comms.pop().disconnect()
        assert (await db(_stats)(staff))["total_connections"] == 2
    finally:
        for comm in comms:
            await comm.disconnect()
    after = await db(_stats)(staff)
    assert after["total_connections"] == 0
    assert after["online_drivers"] == 0  # the driver's last connection closed


redis_mode_only = pytest.mark.skipif(not presence.shared(), reason="presence in Redis: CI's second pass")


def another_process(server_id, sockets, *, heartbeat_age_seconds=0):
    """Entries of another server process in the shared presence: [(channel, user, is_driver)]."""
    shared_presence.add([(name, user.pk, is_driver, time.time()) for name, user, is_driver in sockets], [], server_id)
    shared_presence.client().zadd(shared_presence._servers(), {server_id: time.time() - heartbeat_age_seconds})


@redis_mode_only
@pytest.mark.django_db(transaction=True)
async def test_stats_count_the_sockets_of_every_live_process_and_not_those_of_a_dead_one():
    staff = await db(UserFactory)(is_staff=True)
    user, elsewhere, ghost = await db(UserFactory)(), await db(UserFactory)(), await db(UserFactory)()
    await db(another_process)("live", [("live.1", elsewhere, False)])
    await db(another_process)("dead", [("dead.1", ghost, False)], heartbeat_age_seconds=settings.PRESENCE_TTL_SECONDS + 5)
    async with socket(user):
        stats = await db(_stats)(staff)
        assert (stats["total_connections"], stats["connected_users"], stats["server_processes"]) == (2, 2, 2)


@pytest.mark.django_db(transaction=True)
async def test_embedded_stats_count_this_processs_sockets(settings):
    settings.REDIS_URL = ""  # presence in this process's memory, whatever this run's services
    staff = await db(UserFactory)(is_staff=True)
    passenger, driver = await db(UserFactory)(), await db(DriverFactory)()
    async with socket(passenger), socket(passenger), socket(driver.user):
        stats = await db(_stats)(staff)
        assert (stats["total_connections"], stats["connected_users"], stats["connected_drivers"]) == (3, 2, 1)
        assert stats["server_processes"] == 1
    stats = await db(_stats)(staff)
    assert (stats["total_connections"], stats["connected_users"], stats["connected_drivers"]) == (0, 0, 0)


# --- presence ------------------------------------------------------------------------------------


async def _online(driver):
    return (await db(Driver.objects.get)(pk=driver.pk)).is_online


@pytest.mark.django_db(transaction=True)
async def test_a_driver_goes_offline_when_their_last_connection_closes():
    driver = await db(DriverFactory)(is_online=True)
    comm = await open_socket(driver.user)
    assert await db(counted)(driver.user) == 1
    assert await _online(driver) is True
    await comm.disconnect()
    assert await _online(driver) is False
    assert await db(counted)(driver.user) == 0


@pytest.mark.django_db(transaction=True)
async def test_closing_one_of_two_connections_keeps_the_driver_online_and_the_other_hears_when_they_go():
    driver = await db(DriverFactory)(is_online=True)
    first = await open_socket(driver.user)
    second = await open_socket(driver.user)
    await first.disconnect()
    assert await _online(driver) is True
    await assert_nothing_more(second)
    await second.disconnect()
    assert await _online(driver) is False


@pytest.mark.django_db(transaction=True)
async def test_a_passengers_connections_are_counted_and_forgotten():
    user = await db(UserFactory)()
    comm = await open_socket(user)
    assert await db(counted)(user) == 1
    assert [is_driver for _, is_driver, _ in presence.local.open.values()] == [False]
    await comm.disconnect()
    assert await db(counted)(user) == 0


@redis_mode_only
@pytest.mark.django_db(transaction=True)
async def test_a_driver_connected_through_another_live_process_stays_online_when_their_socket_here_closes():
    driver = await db(DriverFactory)(is_online=True)
    await db(another_process)("live", [("live.d", driver.user, True)])
    comm = await open_socket(driver.user)
    await comm.disconnect()
    assert await _online(driver) is True


# --- a driver's grace: an app that reconnects (to this process or another) stays online ----------


@pytest.fixture
def grace(settings, monkeypatch):
    """The production default's grace (tests otherwise go offline at the close), on a clock the
    test moves: `grace.advance(seconds)`, then `presence.settle_due()` as the grace's timer would."""
    settings.DRIVER_OFFLINE_GRACE_SECONDS = 5
    clock = FakeClock()
    monkeypatch.setattr(presence, "clock", clock)
    return clock


def reconnect_elsewhere_now(driver):
    """The driver's app opens a socket again: through another live process in the Redis mode (a
    proxy sent it there), else in this process (the only one). Sync: callable from a worker thread."""
    if presence.shared():
        another_process("other", [(f"other.{driver.pk}", driver.user, True)])
    else:
        presence.local.add(f"specific.again!{driver.pk}", driver.user, batched=False)


@pytest.mark.django_db(transaction=True)
async def test_a_driver_whose_app_reconnects_within_the_grace_stays_online(grace):
    """The race two server processes showed: the socket closed on one, the app reconnected through
    the other, and the first one's check at the close, made before the new socket was written,
    took the driver offline (the new socket then heard driver_availability_changed). Now the
    check waits for the grace; the reconnection lands in it."""
    driver = await db(DriverFactory)(is_online=True)
    await (await open_socket(driver.user)).disconnect()
    await presence.settle_due()
    assert await _online(driver) is True  # the close itself decides nothing
    grace.advance(4)
    await db(reconnect_elsewhere_now)(driver)
    grace.advance(2)  # the grace ended
    await presence.settle_due()
    assert await _online(driver) is True
    assert not presence.local.unsettled_drivers


@pytest.mark.django_db(transaction=True)
async def test_a_driver_who_does_not_come_back_within_the_grace_goes_offline_when_it_ends(grace):
    driver = await db(DriverFactory)(is_online=True)
    await (await open_socket(driver.user)).disconnect()
    grace.advance(4.9)
    await presence.settle_due()
    assert await _online(driver) is True
    grace.advance(0.1)
    await presence.settle_due()
    assert await _online(driver) is False


@pytest.mark.django_db(transaction=True)
async def test_the_grace_ends_on_its_own_timer(settings):
    settings.DRIVER_OFFLINE_GRACE_SECONDS = 0.2
    driver = await db(DriverFactory)(is_online=True)
    await (await open_socket(driver.user)).disconnect()
    deadline = time.monotonic() + 10
    while await _online(driver):
        assert time.monotonic() < deadline, "the grace's timer never took the driver offline"
        await asyncio.sleep(0.05)
    assert not presence.local.unsettled_drivers


@pytest.mark.django_db(transaction=True)
async def test_a_socket_that_opens_between_the_check_and_the_write_keeps_the_driver_online(grace, monkeypatch):
    """The same race one step later: the grace ended, the check found no socket anywhere, and the
    app's new socket is counted (here, or in another process) before the write that takes the
    driver offline. The write asks again under the driver's row lock and leaves them online."""
    driver = await db(DriverFactory)(is_online=True)
    take_offline = presence.take_offline

    def reconnected_just_after_the_check(driver_ids, **kwargs):
        reconnect_elsewhere_now(driver)
        return take_offline(driver_ids, **kwargs)

    monkeypatch.setattr(presence, "take_offline", reconnected_just_after_the_check)
    await (await open_socket(driver.user)).disconnect()
    grace.advance(5)
    await presence.settle_due()
    assert await _online(driver) is True


@pytest.mark.django_db(transaction=True)
async def test_drivers_in_their_grace_are_settled_when_the_server_leaves(grace):
    """At shutdown no timer runs any more: a driver still in their grace is settled then."""
    driver = await db(DriverFactory)(is_online=True)
    await (await open_socket(driver.user)).disconnect()
    assert await _online(driver) is True
    await presence.leave()
    assert await _online(driver) is False


def _crash_scene():
    ttl = settings.PRESENCE_TTL_SECONDS
    crashed = DriverFactory(is_online=True)  # only sockets in the dead process
    mixed = DriverFactory(is_online=True)  # one there, one in another live process
    fresh = DriverFactory(is_online=True)  # in the live process only
    passenger = UserFactory()
    another_process("dead", [("dead.a", crashed.user, True), ("dead.b", crashed.user, True),
                             ("dead.c", mixed.user, True), ("dead.e", passenger, False)],
                    heartbeat_age_seconds=ttl + 5)
    another_process("live", [("live.c", mixed.user, True), ("live.d", fresh.user, True)],
                    heartbeat_age_seconds=ttl - 10)
    return crashed, mixed, fresh


@redis_mode_only
@pytest.mark.django_db(transaction=True)
async def test_sweep_removes_a_dead_processs_sockets_and_takes_its_drivers_offline():
    crashed, mixed, fresh = await db(_crash_scene)()
    removed, went_offline = await db(presence.sweep)()
    assert removed == 4
    assert list(went_offline) == [crashed.pk]
    assert await _online(crashed) is False
    assert await _online(mixed) is True
    assert await _online(fresh) is True
    assert (await db(shared_presence.figures)())["total_connections"] == 2
    assert await db(presence.sweep)() == (0, [])  # swept once


@redis_mode_only
@pytest.mark.django_db(transaction=True)
async def test_sweep_tells_a_drivers_live_devices_nothing_while_one_connection_is_alive():
    """A crashed process's sockets go; the driver's socket on this process keeps them online."""
    driver = await db(DriverFactory)(is_online=True)
    async with socket(driver.user) as comm:
        await db(another_process)("dead", [("dead.z", driver.user, True)],
                                  heartbeat_age_seconds=settings.PRESENCE_TTL_SECONDS + 5)
        removed, went_offline = await db(presence.sweep)()
        assert (removed, list(went_offline)) == (1, [])
        assert await _online(driver) is True
        await assert_nothing_more(comm)


@redis_mode_only
@pytest.mark.django_db(transaction=True)
async def test_a_process_swept_while_it_stalled_takes_its_driver_offline_and_writes_its_sockets_back():
    """This process froze past the TTL: another process swept it (its live socket hears that the
    driver went offline); its next heartbeat puts its sockets back."""
    driver = await db(DriverFactory)(is_online=True)
    async with socket(driver.user) as comm:
        stale = time.time() - settings.PRESENCE_TTL_SECONDS - 5
        await db(shared_presence.client().zadd)(shared_presence._servers(), {presence.SERVER_ID: stale})
        removed, went_offline = await db(shared_presence.sweep)("another-process")
        assert (removed, list(went_offline)) == (1, [str(driver.pk)])
        await db(presence.take_offline)(went_offline)
        data = assert_envelope(await receive(comm), "driver_availability_changed")
        assert data["is_online"] is False
        await presence.heartbeat()
        assert await db(counted)(driver.user) == 1  # the heartbeat wrote back what this process holds


@redis_mode_only
@pytest.mark.django_db(transaction=True)
async def test_passenger_presence_is_written_in_batches_and_drivers_at_once(settings):
    settings.PRESENCE_SYNC_SECONDS = 1.0
    passenger = await db(UserFactory)()
    driver = await db(DriverFactory)()

    def written():
        return {value.split("|")[0] for value in shared_presence.client().hvals(shared_presence._sockets(presence.SERVER_ID))}

    async with socket(passenger), socket(driver.user):
        assert await db(written)() == {str(driver.pk)}  # the passenger's entry waits for the next batch
        await presence.sync_now()
        assert await db(written)() == {str(driver.pk), str(passenger.pk)}
    assert await db(written)() == {str(passenger.pk)}  # the driver's went at once, the passenger's waits
    await presence.sync_now()
    assert await db(written)() == set()
