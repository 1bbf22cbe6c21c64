"""Client messages with an `id` (realtime.connections.acks): acknowledged once applied, after their own reply;
a refusal's `error` names the id; a message that changes something beyond its connection is
applied once per id and user, across connections. And positions with `recorded_at`: one older
than the driver's newest is acknowledged but neither relayed nor stored."""

from datetime import timedelta

import pytest
from django.utils import timezone

from drivers.models import Driver
from drivers.selectors import nearby_drivers
from realtime.connections import acks, positions
from realtime.connections.connection import SocketGone
from rides.models import RideOffer, RideStatus
from rideshare.tests.factories import DriverFactory, RideFactory, UserFactory, ride_in_status

from .helpers import (
    assert_envelope,
    assert_nothing_more,
    db,
    eventually,
    receive,
    receive_type,
    send,
    socket,
)

pytestmark = pytest.mark.django_db(transaction=True)


def location(latitude, *, id=None, recorded_at=None):
    message = {"type": "location_update", "latitude": latitude, "longitude": 11.505}
    if id is not None:
        message["id"] = id
    if recorded_at is not None:
        message["recorded_at"] = recorded_at.isoformat().replace("+00:00", "Z")
    return message


async def acked(comm, request_id, message_type):
    data = assert_envelope(await receive(comm), "ack")
    assert data == {"id": request_id, "type": message_type}


async def stored(driver):
    return await db(Driver.objects.values("latitude", "location_recorded_at").get)(pk=driver.pk)


def buffered(driver):
    """The driver's position waiting for the next batch, if any (realtime.connections.positions)."""
    return positions.buffer.pending.get(driver.pk)


# --- acknowledgements ------------------------------------------------------------------------------


async def test_a_position_with_an_id_is_acknowledged_once_relayed_and_stored():
    ride = await db(ride_in_status)(RideStatus.ACCEPTED)
    async with socket(ride.passenger) as passenger, socket(ride.driver.user) as driver:
        await send(driver, location(3.85, id="pos-1"))
        assert assert_envelope(await receive(passenger), "driver_location_update")["latitude"] == 3.85
        await acked(driver, "pos-1", "location_update")
        assert (await stored(ride.driver))["latitude"] == 3.85  # a connection's first position: written at once
        await assert_nothing_more(driver)
        await assert_nothing_more(passenger)


async def test_a_position_resent_with_the_same_id_is_acknowledged_but_neither_relayed_nor_stored_again():
    ride = await db(ride_in_status)(RideStatus.ACCEPTED)
    async with socket(ride.passenger) as passenger, socket(ride.driver.user) as driver:
        await send(driver, location(3.85, id="pos-1"))
        await receive_type(passenger, "driver_location_update")
        await acked(driver, "pos-1", "location_update")

        # The id alone says it is the same message: a changed body shows it was not applied.
        await send(driver, location(3.86, id="pos-1"))
        await acked(driver, "pos-1", "location_update")
        assert buffered(ride.driver) is None
        assert (await stored(ride.driver))["latitude"] == 3.85
        await assert_nothing_more(passenger)  # one driver_location_update in all
        await assert_nothing_more(driver)


async def test_the_same_id_on_a_new_connection_of_the_same_user_is_acknowledged_not_applied():
    ride = await db(ride_in_status)(RideStatus.ACCEPTED)
    async with socket(ride.passenger) as passenger:
        async with socket(ride.driver.user) as before:
            await send(before, location(3.85, id="queued-7"))
            await acked(before, "queued-7", "location_update")
            await receive_type(passenger, "driver_location_update")
        async with socket(ride.driver.user) as after:  # the app reconnected and sends its queue again
            await send(after, location(3.86, id="queued-7"))
            await acked(after, "queued-7", "location_update")
            # Applied, this first position of the connection would be stored before the ack.
            assert (await stored(ride.driver))["latitude"] == 3.85
            await assert_nothing_more(passenger)


async def test_another_users_same_id_is_their_own():
    first, second = await db(DriverFactory)(), await db(DriverFactory)()
    async with socket(first.user) as one, socket(second.user) as other:
        await send(one, location(3.85, id="pos-1"))
        await acked(one, "pos-1", "location_update")
        await send(other, location(3.86, id="pos-1"))
        await acked(other, "pos-1", "location_update")
    assert (await stored(first))["latitude"] == 3.85
    assert (await stored(second))["latitude"] == 3.86


async def test_a_message_with_a_reply_gets_its_reply_then_the_ack():
    driver = await db(DriverFactory)(is_online=False)
    async with socket(driver.user) as comm:
        await send(comm, {"type": "ping", "timestamp": "t1", "id": "p-1"})
        assert assert_envelope(await receive(comm), "pong")["timestamp"] == "t1"
        await acked(comm, "p-1", "ping")

        await send(comm, {"type": "driver_online", "id": "on-1"})
        # driver_availability_changed goes to all the driver's connections, in its own time.
        replies = [await receive(comm) for _ in range(3)]
        types = [reply["type"] for reply in replies]
        assert sorted(types) == ["ack", "driver_availability_changed", "driver_status"]
        assert types.index("driver_status") < types.index("ack")
        assert replies[types.index("ack")]["data"] == {"id": "on-1", "type": "driver_online"}
        await assert_nothing_more(comm)


async def test_a_message_that_concerns_only_its_connection_is_applied_again_when_resent():
    """join_ride, ping, resume, watch_fleet...: applying one again changes nothing, and a new
    connection needs it (a staff console re-joining the rides it follows)."""
    staff = await db(UserFactory)(is_staff=True)
    ride = await db(ride_in_status)(RideStatus.ACCEPTED)
    join = {"type": "join_ride", "ride_id": str(ride.pk), "id": "join-1"}
    async with socket(staff) as comm:
        await send(comm, join)
        assert_envelope(await receive(comm), "ride_joined")
        await acked(comm, "join-1", "join_ride")
    async with socket(staff) as comm:
        await send(comm, join)
        assert_envelope(await receive(comm), "ride_joined")
        await acked(comm, "join-1", "join_ride")
        async with socket(ride.driver.user) as driver:
            await send(driver, location(3.85))
            # Joined on this connection: the staff console hears the ride's driver.
            assert_envelope(await receive(comm), "driver_location_update")


async def test_a_message_without_an_id_gets_no_ack():
    driver = await db(DriverFactory)()
    async with socket(driver.user) as comm:
        await send(comm, location(3.85))
        await send(comm, {"type": "ping", "timestamp": "t"})
        await receive_type(comm, "pong")
        await assert_nothing_more(comm)


# --- refusals ---------------------------------------------------------------------------------------


async def test_an_error_carries_the_id_of_the_message_it_refuses():
    passenger = await db(UserFactory)()
    driver = await db(DriverFactory)()
    async with socket(passenger) as as_passenger, socket(driver.user) as as_driver:
        cases = [
            (as_passenger, {"type": "join_ride", "ride_id": "3f0c7d3e-8a9b-4c1d-9e2f-0a1b2c3d4e5f", "id": "j"},
             "ride_not_found"),
            (as_passenger, location(3.85, id="not-mine"), "not_a_driver"),
            (as_driver, {"type": "location_update", "latitude": 91, "longitude": 11.5, "id": "bad"}, "validation_error"),
            (as_driver, {"type": "join_ride", "id": "no-ride"}, "missing_field"),
        ]
        for comm, message, code in cases:
            await send(comm, message)
            data = assert_envelope(await receive(comm), "error")
            assert (data["code"], data["request_id"], data["request_type"]) == (code, message["id"], message["type"])
            await assert_nothing_more(comm)  # no ack for a refused message


async def test_a_server_failure_carries_the_id_and_the_resend_is_applied(monkeypatch):
    driver = await db(DriverFactory)()
    real_store = positions.store
    failures = [RuntimeError("database down")]

    async def store_failing_once(*args):
        if failures:
            raise failures.pop()
        return await real_store(*args)

    monkeypatch.setattr(positions, "store", store_failing_once)
    queued = location(3.85, id="pos-9", recorded_at=timezone.now())
    async with socket(driver.user) as comm:
        await send(comm, queued)
        data = assert_envelope(await receive(comm), "error")
        assert (data["code"], data["request_id"]) == ("internal_error", "pos-9")
        await send(comm, queued)  # the same message: its id was released, its time not taken
        await acked(comm, "pos-9", "location_update")
    assert (await stored(driver))["latitude"] == 3.85


async def test_a_refused_message_releases_its_id_so_its_resend_is_applied():
    ride = await db(RideFactory)()  # its first wave went out before this driver came
    driver = await db(DriverFactory)()
    decline = {"type": "decline_ride", "ride_id": str(ride.pk), "id": "decline-1"}
    async with socket(driver.user) as comm:
        await send(comm, decline)  # not offered to this driver (yet)
        data = assert_envelope(await receive(comm), "error")
        assert (data["code"], data["request_id"]) == ("ride_not_found", "decline-1")

        await db(RideOffer.objects.create)(
            ride=ride, driver=driver, wave=ride.offer_wave, distance_km=1.0, expires_at=timezone.now() + timedelta(minutes=1)
        )
        await send(comm, decline)
        assert_envelope(await receive(comm), "ride_declined")
        await acked(comm, "decline-1", "decline_ride")


@pytest.mark.parametrize(
    "value,problem",
    [
        ("", "This field may not be blank."),
        ("x" * 65, "Ensure this field has no more than 64 characters."),
        (42, "Not a valid string."),
        (None, "This field may not be null."),
        (["a"], "Not a valid string."),
    ],
)
async def test_an_id_that_is_not_1_to_64_characters_is_a_validation_error_and_nothing_is_applied(value, problem):
    driver = await db(DriverFactory)(latitude=3.0)
    async with socket(driver.user) as comm:
        await send(comm, {**location(3.85), "id": value})
        data = assert_envelope(await receive(comm), "error")
        assert data["code"] == "validation_error"
        assert data["errors"] == {"id": [problem]}
        assert data["message"] == f"id: {problem}"
        assert data["request_type"] == "location_update"
        assert "request_id" not in data
        await assert_nothing_more(comm)
    assert (await stored(driver))["latitude"] == 3.0


async def test_an_id_of_64_characters_is_taken():
    driver = await db(DriverFactory)()
    async with socket(driver.user) as comm:
        await send(comm, location(3.85, id="é" * 64))
        await acked(comm, "é" * 64, "location_update")


async def test_a_rate_limited_message_names_its_id(settings):
    settings.WS_RATE_LIMITS = {**settings.WS_RATE_LIMITS, "ping": (1, 1e-9)}  # one, then none for years
    user = await db(UserFactory)()
    async with socket(user) as comm:
        await send(comm, {"type": "ping", "id": "p-1"})
        await receive_type(comm, "pong")
        await acked(comm, "p-1", "ping")
        await send(comm, {"type": "ping", "id": "p-2"})
        data = assert_envelope(await receive(comm), "error")
        assert (data["code"], data["request_id"]) == ("rate_limited", "p-2")


async def test_a_cache_that_cannot_be_reached_applies_the_message_as_new(monkeypatch):
    class Unreachable:
        def add(self, *args):
            raise ConnectionError("cache down")

        def delete(self, *args):
            raise ConnectionError("cache down")

    monkeypatch.setattr(acks.applied_ids, "_backend", Unreachable())
    ride = await db(ride_in_status)(RideStatus.ACCEPTED)
    async with socket(ride.passenger) as passenger, socket(ride.driver.user) as driver:
        await send(driver, location(3.85, id="pos-1"))
        await receive_type(passenger, "driver_location_update")
        await acked(driver, "pos-1", "location_update")


async def test_a_resend_while_the_first_copy_is_still_applied_is_asked_again_not_acknowledged():
    """The first copy may still fail: acknowledging the resend then would lose the message."""
    driver = await db(DriverFactory)(is_online=False)
    key = acks.applied_ids.key(driver.pk, "driver_online", "on-1")
    assert await acks.applied_ids.claim(key) is None  # another socket is applying it now
    async with socket(driver.user) as comm:
        await send(comm, {"type": "driver_online", "id": "on-1"})
        data = assert_envelope(await receive(comm), "error")
        assert (data["code"], data["request_id"], data["request_type"]) == ("request_in_progress", "on-1", "driver_online")
        assert not (await db(Driver.objects.get)(pk=driver.pk)).is_online  # not applied here

        await acks.applied_ids.done(key)  # the first copy went through
        await send(comm, {"type": "driver_online", "id": "on-1"})
        await acked(comm, "on-1", "driver_online")


class Gone:
    """A connection whose socket closed while it answered: the message itself was applied."""

    def __init__(self, user):
        self.user = user
        self.applied = 0

    async def handle(self, message):
        self.applied += 1
        raise SocketGone("closed while answering")


async def test_a_message_applied_on_a_socket_that_closed_while_answering_counts_as_applied():
    user = await db(UserFactory)()
    connection = Gone(user)
    with pytest.raises(SocketGone):
        await acks.handle(connection, "decline_ride", "dec-1", object())
    key = acks.applied_ids.key(user.pk, "decline_ride", "dec-1")
    assert await acks.applied_ids.claim(key) == acks.DONE  # a resend is acknowledged, not applied again
    assert connection.applied == 1


# --- recorded_at ----------------------------------------------------------------------------------


async def test_a_position_recorded_before_the_newest_is_acknowledged_but_neither_relayed_nor_stored():
    ride = await db(ride_in_status)(RideStatus.ACCEPTED)
    now = timezone.now()
    async with socket(ride.passenger) as passenger, socket(ride.driver.user) as driver:
        await send(driver, location(3.85, id="new", recorded_at=now))
        relayed = assert_envelope(await receive(passenger), "driver_location_update")
        assert relayed["recorded_at"] == now.isoformat().replace("+00:00", "Z")
        await acked(driver, "new", "location_update")

        await send(driver, location(3.80, id="queued", recorded_at=now - timedelta(minutes=5)))
        await acked(driver, "queued", "location_update")
        assert buffered(ride.driver) is None
        await assert_nothing_more(passenger)
    assert await stored(ride.driver) == {"latitude": 3.85, "location_recorded_at": now}


async def test_a_queued_position_older_than_the_stored_one_is_not_taken_on_a_new_connection():
    """The connection starts from the driver's stored position's time (realtime.connections.actions)."""
    ride = await db(ride_in_status)(RideStatus.ACCEPTED)
    saved = await stored(ride.driver)
    async with socket(ride.passenger) as passenger, socket(ride.driver.user) as driver:
        await send(driver, location(3.80, id="q", recorded_at=saved["location_recorded_at"] - timedelta(seconds=30)))
        await acked(driver, "q", "location_update")
        await assert_nothing_more(passenger)
    assert await stored(ride.driver) == saved


async def test_a_queued_position_newer_than_the_stored_one_is_relayed_and_stored_with_its_time():
    driver_row = await db(DriverFactory)(location_recorded_at=timezone.now() - timedelta(minutes=10))
    ride = await db(ride_in_status)(RideStatus.ACCEPTED, driver=driver_row)
    recorded_at = timezone.now() - timedelta(minutes=1)
    async with socket(ride.passenger) as passenger, socket(driver_row.user) as driver:
        await send(driver, location(3.85, recorded_at=recorded_at))
        relayed = assert_envelope(await receive(passenger), "driver_location_update")
        assert relayed["recorded_at"] == recorded_at.isoformat().replace("+00:00", "Z")
        await assert_nothing_more(driver)
    assert await stored(driver_row) == {"latitude": 3.85, "location_recorded_at": recorded_at}


async def test_queued_positions_sent_oldest_first_are_all_taken_and_the_newest_stays():
    driver = await db(DriverFactory)(location_recorded_at=timezone.now() - timedelta(minutes=10))
    start = timezone.now() - timedelta(minutes=3)
    async with socket(driver.user) as comm:
        for minute, latitude in enumerate((3.81, 3.82, 3.83)):
            await send(comm, location(latitude, id=f"q{minute}", recorded_at=start + timedelta(minutes=minute)))
            await acked(comm, f"q{minute}", "location_update")
        newest = start + timedelta(minutes=2)
        saved = await eventually(lambda: Driver.objects.filter(pk=driver.pk, latitude=3.83).values(
            "latitude", "location_recorded_at").first())
    assert saved == {"latitude": 3.83, "location_recorded_at": newest}


async def test_a_recorded_at_further_ahead_than_the_allowed_skew_is_a_validation_error(settings):
    settings.WS_RECORDED_AT_MAX_SKEW_SECONDS = 30
    driver = await db(DriverFactory)(latitude=3.0)
    async with socket(driver.user) as comm:
        await send(comm, location(3.85, id="f", recorded_at=timezone.now() + timedelta(minutes=5)))
        data = assert_envelope(await receive(comm), "error")
        assert (data["code"], data["request_id"]) == ("validation_error", "f")
        assert list(data["errors"]) == ["recorded_at"]
        await assert_nothing_more(comm)
    assert (await stored(driver))["latitude"] == 3.0


@pytest.mark.parametrize("value", ["yesterday", "2026-03-02T08:15:30", 1767225600, "2026-02-30T08:15:30Z"])
async def test_a_recorded_at_that_is_not_an_iso_time_with_a_zone_is_a_validation_error(value):
    driver = await db(DriverFactory)()
    async with socket(driver.user) as comm:
        await send(comm, {**location(3.85), "recorded_at": value})
        data = assert_envelope(await receive(comm), "error")
        assert data["code"] == "validation_error" and list(data["errors"]) == ["recorded_at"], data


# --- the conditional write -------------------------------------------------------------------------


def test_a_batch_never_overwrites_a_newer_stored_position(driver):
    saved_at = driver.location_recorded_at
    positions.write({
        driver.pk: (3.80, 11.5, None, None, saved_at - timedelta(seconds=1)),
    })
    driver.refresh_from_db()
    assert (driver.latitude, driver.location_recorded_at) == (3.848, saved_at)
    positions.write({driver.pk: (3.80, 11.5, None, None, saved_at)})  # as new: the same position again
    driver.refresh_from_db()
    assert driver.latitude == 3.848
    positions.write({driver.pk: (3.85, 11.5, None, None, saved_at + timedelta(microseconds=1))})
    driver.refresh_from_db()
    assert (driver.latitude, driver.location_recorded_at) == (3.85, saved_at + timedelta(microseconds=1))


def test_a_batch_writes_a_driver_who_never_had_a_position():
    driver = DriverFactory(latitude=None, longitude=None, location_updated_at=None)
    recorded_at = timezone.now()
    positions.write({driver.pk: (3.85, 11.5, 90, 20.0, recorded_at)})
    driver.refresh_from_db()
    assert (driver.latitude, driver.heading, driver.location_recorded_at) == (3.85, 90, recorded_at)
    assert driver.location_updated_at >= recorded_at  # the server's time of the write


async def test_a_phone_whose_clock_runs_slow_stays_matchable(settings):
    """The phone's time orders positions; how fresh one is for matching is the server's time."""
    settings.DRIVER_POSITION_MAX_AGE_SECONDS = 120
    driver = await db(DriverFactory)(location_recorded_at=timezone.now() - timedelta(minutes=10))
    slow_clock = timezone.now() - timedelta(minutes=3)
    async with socket(driver.user) as comm:
        await send(comm, location(3.85, id="slow", recorded_at=slow_clock))
        await acked(comm, "slow", "location_update")
        saved = await eventually(lambda: Driver.objects.filter(pk=driver.pk, latitude=3.85).first())
        # (while the socket is open: its closing takes the driver offline)
        found = await db(lambda: list(nearby_drivers(3.85, 11.502, vehicle_type=driver.vehicle_type)))()
    assert saved.location_recorded_at == slow_clock
    assert timezone.now() - saved.location_updated_at < timedelta(seconds=30)
    assert driver.pk in {d.pk for d in found}
