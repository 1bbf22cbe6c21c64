"""watch_fleet: the ops console's live map. Staff get the whole fleet, then only what changed, once
per round (the lifecycle's `fleet` job, driven here by calling its round directly)."""

import pytest
from django.utils import timezone

from drivers.models import Driver
from realtime.connections import fleet
from rides.models import Ride, RideStatus
from rideshare.tests.factories import DriverFactory, RideFactory, UserFactory, ride_in_status

from .helpers import assert_envelope, assert_nothing_more, db, eventually, receive_type, send, socket

pytestmark = pytest.mark.django_db(transaction=True)


def _city():
    """Two idle drivers and a busy one online, one offline, one online with no position yet; a
    requested ride, an accepted one, a completed one."""
    idle = DriverFactory(latitude=3.850, longitude=11.500)
    other = DriverFactory(latitude=3.860, longitude=11.510)
    DriverFactory(is_online=False)
    DriverFactory(latitude=None, longitude=None, location_updated_at=None)
    requested = RideFactory()
    accepted = ride_in_status(RideStatus.ACCEPTED)
    ride_in_status(RideStatus.COMPLETED, driver=DriverFactory(is_online=False))
    return idle, other, requested, accepted


async def _watch(comm):
    await send(comm, {"type": "watch_fleet"})
    return assert_envelope(await receive_type(comm, "fleet_update"), "fleet_update")


async def test_staff_get_every_online_driver_and_every_open_ride_at_once():
    idle, other, requested, accepted = await db(_city)()
    staff = await db(UserFactory)(is_staff=True)
    async with socket(staff) as comm:
        data = await _watch(comm)
    assert data["full"] is True
    assert data["removed_driver_ids"] == []
    drivers = {d["driver_id"]: d for d in data["drivers"]}
    assert set(drivers) == {str(idle.pk), str(other.pk), str(accepted.driver_id)}
    assert drivers[str(idle.pk)]["latitude"] == 3.850 and drivers[str(idle.pk)]["longitude"] == 11.500
    assert drivers[str(idle.pk)]["busy"] is False
    assert drivers[str(accepted.driver_id)]["busy"] is True
    assert drivers[str(idle.pk)]["name"] == idle.user.full_name
    rides = {r["ride_id"]: r for r in data["rides"]}
    assert set(rides) == {str(requested.pk), str(accepted.pk)}
    assert rides[str(requested.pk)]["status"] == "requested" and rides[str(requested.pk)]["driver_id"] is None
    assert rides[str(accepted.pk)]["driver_id"] == str(accepted.driver_id)


@pytest.mark.parametrize("role", ["passenger", "driver"])
async def test_anyone_but_staff_is_refused_and_hears_nothing_of_the_fleet(role):
    user = await db(UserFactory)() if role == "passenger" else (await db(DriverFactory)()).user
    await db(_city)()
    async with socket(user) as comm:
        await send(comm, {"type": "watch_fleet"})
        error = assert_envelope(await receive_type(comm, "error"), "error")
        assert error["code"] == "permission_denied"
        assert error["request_type"] == "watch_fleet"
        await db(Driver.objects.update)(latitude=3.9)
        await fleet.watchers.send_changes()
        await assert_nothing_more(comm)


def _changes(idle, other, accepted):
    Driver.objects.filter(pk=idle.pk).update(latitude=3.855, longitude=11.505, location_updated_at=timezone.now())
    Driver.objects.filter(pk=other.pk).update(is_online=False)
    Ride.objects.filter(pk=accepted.pk).update(status=RideStatus.COMPLETED, completed_at=timezone.now())
    return RideFactory(passenger=UserFactory())


async def test_then_only_what_changed_each_round_and_nothing_when_nothing_did():
    idle, other, requested, accepted = await db(_city)()
    staff = await db(UserFactory)(is_staff=True)
    async with socket(staff) as comm:
        await _watch(comm)
        await fleet.watchers.send_changes()
        await assert_nothing_more(comm)  # nothing changed

        new_ride = await db(_changes)(idle, other, accepted)
        await fleet.watchers.send_changes()
        data = assert_envelope(await receive_type(comm, "fleet_update"), "fleet_update")
        assert data["full"] is False
        drivers = {d["driver_id"]: d for d in data["drivers"]}
        # The one that moved, and the one whose ride ended (no longer busy); not the others.
        assert set(drivers) == {str(idle.pk), str(accepted.driver_id)}
        assert (drivers[str(idle.pk)]["latitude"], drivers[str(idle.pk)]["longitude"]) == (3.855, 11.505)
        assert drivers[str(accepted.driver_id)]["busy"] is False
        assert data["removed_driver_ids"] == [str(other.pk)]
        rides = {r["ride_id"]: r["status"] for r in data["rides"]}
        assert rides == {str(accepted.pk): "completed", str(new_ride.pk): "requested"}

        await fleet.watchers.send_changes()
        await assert_nothing_more(comm)


async def test_a_position_sent_over_the_drivers_socket_reaches_the_map_within_a_round():
    driver = await db(DriverFactory)(latitude=3.850, longitude=11.500)
    staff = await db(UserFactory)(is_staff=True)
    async with socket(staff) as console, socket(driver.user) as app:
        await _watch(console)
        await send(app, {"type": "location_update", "latitude": 3.8512, "longitude": 11.5031, "heading": 90})
        # Socket positions reach the database in the next batch (LOCATION_FLUSH_SECONDS).
        assert await eventually(lambda: Driver.objects.filter(pk=driver.pk, latitude=3.8512).exists())
        await fleet.watchers.send_changes()
        data = assert_envelope(await receive_type(console, "fleet_update"), "fleet_update")
    [moved] = data["drivers"]
    assert (moved["driver_id"], moved["latitude"], moved["longitude"], moved["heading"]) == (
        str(driver.pk), 3.8512, 11.5031, 90,
    )


async def test_unwatching_or_leaving_stops_the_updates():
    idle, *_ = await db(_city)()
    staff = await db(UserFactory)(is_staff=True)
    async with socket(staff) as comm:
        await _watch(comm)
        await send(comm, {"type": "unwatch_fleet"})
        assert assert_envelope(await receive_type(comm, "fleet_unwatched"), "fleet_unwatched") == {}
        await db(Driver.objects.filter(pk=idle.pk).update)(latitude=3.9)
        await fleet.watchers.send_changes()
        await assert_nothing_more(comm)

    async with socket(staff) as comm:
        await _watch(comm)
    assert len(fleet.watchers.watchers) == 0  # the closed socket's clean-up dropped it
    await fleet.watchers.send_changes()  # nobody to send to: no query, no error
    assert fleet.watchers.drivers is None


def _demote(user):
    user.is_staff = False
    user.save(update_fields=["is_staff"])  # as the admin does: REST answers 403 from now on


async def test_a_demoted_watcher_is_dropped_at_the_next_round_and_refused_after():
    idle, *_ = await db(_city)()
    staff = await db(UserFactory)(is_staff=True)
    async with socket(staff) as comm:
        await _watch(comm)
        await db(_demote)(staff)
        await db(Driver.objects.filter(pk=idle.pk).update)(latitude=3.9)  # a change the round would send
        await fleet.watchers.send_changes()
        error = assert_envelope(await receive_type(comm, "error"), "error")
        assert (error["code"], error["request_type"]) == ("permission_denied", "watch_fleet")
        assert len(fleet.watchers.watchers) == 0

        await db(Driver.objects.filter(pk=idle.pk).update)(latitude=3.95)
        await fleet.watchers.send_changes()
        await assert_nothing_more(comm)

        # The socket's user was read at the handshake, as staff; watching again asks the database.
        await send(comm, {"type": "watch_fleet"})
        error = assert_envelope(await receive_type(comm, "error"), "error")
        assert (error["code"], error["request_type"]) == ("permission_denied", "watch_fleet")
        await assert_nothing_more(comm)
        assert len(fleet.watchers.watchers) == 0
