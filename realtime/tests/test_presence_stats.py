"""Presence (Connection rows, drivers going offline) and the staff stats endpoint."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from drivers.models import Driver
from realtime import presence
from realtime.models import Connection
from rides.models import RideStatus
from rideshare.tests.factories import DriverFactory, RideFactory, UserFactory, api_client_for, ride_in_status

from .helpers import assert_envelope, assert_nothing_more, db, open_socket, receive, socket

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


@pytest.mark.django_db(transaction=True)
async def test_stats_do_not_count_connections_of_a_crashed_process():
    staff = await db(UserFactory)(is_staff=True)
    user = await db(UserFactory)()
    stale = timezone.now() - timedelta(seconds=settings.PRESENCE_TTL_SECONDS + 5)
    await db(Connection.objects.create)(channel_name="dead.1", user=user, server_id="dead", last_seen=stale)
    async with socket(user):
        assert (await db(_stats)(staff))["total_connections"] == 1


# --- presence ------------------------------------------------------------------------------------


async def _online(driver):
    return (await db(Driver.objects.get)(pk=driver.pk)).is_online


@pytest.mark.django_db(transaction=True)
async def test_a_driver_goes_offline_when_their_last_connection_closes():
    driver = await db(DriverFactory)(is_online=True)
    comm = await open_socket(driver.user)
    assert await db(Connection.objects.filter(user_id=driver.pk).count)() == 1
    assert await _online(driver) is True
    await comm.disconnect()
    assert await _online(driver) is False
    assert await db(Connection.objects.filter(user_id=driver.pk).count)() == 0


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
async def test_a_passengers_connections_are_registered_and_removed():
    user = await db(UserFactory)()
    comm = await open_socket(user)
    row = await db(Connection.objects.get)(user=user)
    assert row.is_driver is False and row.server_id == presence.SERVER_ID
    await comm.disconnect()
    assert await db(Connection.objects.filter(user=user).exists)() is False


def _crash_scene():
    ttl = settings.PRESENCE_TTL_SECONDS
    stale = timezone.now() - timedelta(seconds=ttl + 5)
    almost = timezone.now() - timedelta(seconds=ttl - 10)
    crashed = DriverFactory(is_online=True)  # only stale connections: its process died
    mixed = DriverFactory(is_online=True)  # one stale, one fresh from another live process
    fresh = DriverFactory(is_online=True)  # refreshed recently enough
    passenger = UserFactory()
    rows = [
        Connection(channel_name="dead.a", user=crashed.user, is_driver=True, server_id="dead", last_seen=stale),
        Connection(channel_name="dead.b", user=crashed.user, is_driver=True, server_id="dead", last_seen=stale),
        Connection(channel_name="dead.c", user=mixed.user, is_driver=True, server_id="dead", last_seen=stale),
        Connection(channel_name="live.c", user=mixed.user, is_driver=True, server_id="live", last_seen=almost),
        Connection(channel_name="live.d", user=fresh.user, is_driver=True, server_id="live", last_seen=almost),
        Connection(channel_name="dead.e", user=passenger, is_driver=False, server_id="dead", last_seen=stale),
    ]
    Connection.objects.bulk_create(rows)
    return crashed, mixed, fresh


@pytest.mark.django_db(transaction=True)
async def test_sweep_removes_stale_connections_and_takes_their_drivers_offline():
    crashed, mixed, fresh = await db(_crash_scene)()
    removed, went_offline = await db(presence.sweep)()
    assert removed == 4
    assert list(went_offline) == [crashed.pk]
    assert await _online(crashed) is False
    assert await _online(mixed) is True
    assert await _online(fresh) is True
    remaining = await db(lambda: set(Connection.objects.values_list("channel_name", flat=True)))()
    assert remaining == {"live.c", "live.d"}


@pytest.mark.django_db(transaction=True)
async def test_sweep_tells_a_drivers_live_devices_nothing_while_one_connection_is_alive():
    """A crashed process's rows go; the driver's socket on this process keeps them online."""
    driver = await db(DriverFactory)(is_online=True)
    stale = timezone.now() - timedelta(seconds=settings.PRESENCE_TTL_SECONDS + 5)
    async with socket(driver.user) as comm:
        await db(Connection.objects.create)(
            channel_name="dead.z", user=driver.user, is_driver=True, server_id="dead", last_seen=stale
        )
        removed, went_offline = await db(presence.sweep)()
        assert (removed, list(went_offline)) == (1, [])
        assert await _online(driver) is True
        await assert_nothing_more(comm)


@pytest.mark.django_db(transaction=True)
async def test_sweep_after_this_process_stopped_refreshing_takes_the_driver_offline_and_says_so():
    """Simulate this process having been frozen: age its rows, sweep; its live socket hears it."""
    driver = await db(DriverFactory)(is_online=True)
    async with socket(driver.user) as comm:
        stale = timezone.now() - timedelta(seconds=settings.PRESENCE_TTL_SECONDS + 5)
        await db(Connection.objects.filter(user_id=driver.pk).update)(last_seen=stale)
        removed, went_offline = await db(presence.sweep)()
        assert (removed, list(went_offline)) == (1, [driver.pk])
        assert await _online(driver) is False
        data = assert_envelope(await receive(comm), "driver_availability_changed")
        assert data["is_online"] is False


@pytest.mark.django_db(transaction=True)
async def test_passenger_presence_is_written_in_batches_and_drivers_at_once(settings):
    settings.PRESENCE_SYNC_SECONDS = 1.0
    passenger = await db(UserFactory)()
    driver = await db(DriverFactory)()
    async with socket(passenger), socket(driver.user):
        rows = await db(lambda: set(Connection.objects.values_list("user_id", flat=True)))()
        assert rows == {driver.pk}  # the passenger's row waits for the next batch
        await presence.sync_now()
        rows = await db(lambda: set(Connection.objects.values_list("user_id", flat=True)))()
        assert rows == {driver.pk, passenger.pk}
    await presence.sync_now()
    assert await db(Connection.objects.count)() == 0
