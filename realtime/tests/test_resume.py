"""Reliable events: ids, resume after reconnect, gap filling, the outbox relay (in-process)."""

import asyncio
import threading
from datetime import timedelta

import pytest
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

from drivers.services import update_location
from realtime.delivery import dispatch, eventlog, events
from realtime.delivery.dispatch import EVENT as DELIVER
from realtime.delivery.groups import user_group_name
from realtime.models import Event, EventLogState
from rides import services
from rides.matching import assignment_of
from rides.models import RideStatus
from rideshare.tests.factories import DriverFactory, UserFactory, access_token_for, ride_in_status

from .helpers import assert_nothing_more, communicator, db, receive, receive_type, send

pytestmark = pytest.mark.django_db(transaction=True)


async def connect(user, last_event_id=None):
    token = await db(access_token_for)(user)
    query = f"token={token}" + (f"&last_event_id={last_event_id}" if last_event_id is not None else "")
    comm = communicator(query=query)
    connected, _ = await comm.connect(timeout=3)
    assert connected
    first = await receive_type(comm, "connected")
    return comm, first["data"]


@pytest.fixture
def accepted_ride(db):
    passenger = UserFactory()
    driver = DriverFactory()
    ride = ride_in_status(RideStatus.ACCEPTED, passenger=passenger, driver=driver)
    return ride, passenger, driver


async def test_connected_tells_the_newest_event_id_the_user_can_see(accepted_ride):
    ride, passenger, driver = accepted_ride
    comm, data = await connect(passenger)
    assert data["last_event_id"] == 0
    await db(services.mark_arrived)(ride_id=ride.pk, user=driver.user)
    arrived = await receive_type(comm, "driver_arrived")
    await comm.disconnect()

    comm, data = await connect(passenger)
    assert data["last_event_id"] == arrived["id"]
    await assert_nothing_more(comm)
    await comm.disconnect()


async def test_reconnect_with_last_event_id_replays_exactly_the_missed_events_in_order_then_goes_live(
    accepted_ride,
):
    ride, passenger, driver = accepted_ride
    comm, _ = await connect(passenger)
    await db(services.mark_arrived)(ride_id=ride.pk, user=driver.user)
    seen = await receive_type(comm, "driver_arrived")
    await comm.disconnect()

    # While the passenger is away the ride moves on.
    await db(services.start_ride)(ride_id=ride.pk, user=driver.user)
    await db(update_location)(user=driver.user, latitude=3.85, longitude=11.51)

    comm, _ = await connect(passenger, last_event_id=seen["id"])
    started = await receive_type(comm, "ride_started")
    assert started["id"] > seen["id"]
    position = await receive_type(comm, "driver_location_update")
    assert "id" not in position  # latest-wins, never logged
    assert position["data"]["latitude"] == 3.85

    await db(services.complete_ride)(ride_id=ride.pk, user=driver.user)
    completed = await receive_type(comm, "ride_completed")
    assert completed["id"] > started["id"]
    await assert_nothing_more(comm)
    await comm.disconnect()


async def test_the_resume_snapshot_and_the_live_relay_of_one_position_reach_the_app_once(accepted_ride):
    ride, passenger, driver = accepted_ride
    await db(update_location)(user=driver.user, latitude=3.85, longitude=11.51)
    stored = await db(lambda: type(driver).objects.get(pk=driver.pk))()

    comm, _ = await connect(passenger, last_event_id=0)
    snapshot = await receive_type(comm, "driver_location_update")
    assert snapshot["data"]["latitude"] == 3.85
    # The same position relayed late (it was in flight while the socket joined), then an older one.
    position = {"latitude": 3.85, "longitude": 11.51, "heading": None, "speed": None}
    for recorded_at in (stored.location_updated_at, stored.location_updated_at - timedelta(seconds=5)):
        await dispatch.send_position(driver.pk, assignment_of(ride), recorded_at=recorded_at, **position)
    await assert_nothing_more(comm)

    newer = stored.location_updated_at + timedelta(seconds=5)
    await dispatch.send_position(driver.pk, assignment_of(ride), recorded_at=newer, **{**position, "latitude": 3.86})
    assert (await receive_type(comm, "driver_location_update"))["data"]["latitude"] == 3.86
    await comm.disconnect()


async def test_resume_message_on_an_open_socket_replays_after_the_given_id(accepted_ride):
    ride, passenger, driver = accepted_ride
    await db(services.mark_arrived)(ride_id=ride.pk, user=driver.user)
    await db(services.start_ride)(ride_id=ride.pk, user=driver.user)
    comm, data = await connect(passenger)
    await send(comm, {"type": "resume", "last_event_id": 0})
    replayed = [await receive(comm), await receive(comm)]
    assert [m["type"] for m in replayed] == ["driver_arrived", "ride_started"]
    assert replayed[1]["id"] == data["last_event_id"]
    assert (await receive(comm))["type"] == "driver_location_update"
    await assert_nothing_more(comm)
    await comm.disconnect()


@pytest.mark.parametrize("last_event_id", ["999999", "-1", "abc", "1.5"])
async def test_resume_from_an_id_the_server_never_issued_requires_a_resync(accepted_ride, last_event_id):
    _, passenger, _ = accepted_ride
    comm, _ = await connect(passenger, last_event_id=last_event_id)
    message = await receive_type(comm, "resync_required")
    assert message["data"] == {"reason": "unknown_event_id", "last_event_id": 0}
    await assert_nothing_more(comm)
    await comm.disconnect()


async def test_resume_from_before_the_retention_window_requires_a_resync(accepted_ride):
    ride, passenger, driver = accepted_ride
    await db(services.mark_arrived)(ride_id=ride.pk, user=driver.user)
    await db(services.start_ride)(ride_id=ride.pk, user=driver.user)
    first_id, last_id = await db(lambda: tuple(Event.objects.filter(ride=ride).order_by("id").values_list("id", flat=True)))()
    await db(lambda: Event.objects.filter(pk__lte=first_id).update(created_at=timezone.now() - timedelta(days=2)))()
    assert await db(eventlog.purge_expired)() >= 1
    assert not await db(Event.objects.filter(pk=first_id).exists)()
    assert await db(lambda: EventLogState.objects.get().purged_through)() == first_id

    comm, _ = await connect(passenger, last_event_id=first_id - 1)
    message = await receive_type(comm, "resync_required")
    assert message["data"] == {"reason": "too_old", "last_event_id": last_id}
    await comm.disconnect()

    comm, _ = await connect(passenger, last_event_id=first_id)  # everything after it is still kept
    assert (await receive_type(comm, "ride_started"))["id"] == last_id
    await comm.disconnect()


async def test_an_event_delivered_twice_reaches_the_app_once(accepted_ride):
    ride, passenger, driver = accepted_ride
    comm, _ = await connect(passenger)
    await db(services.mark_arrived)(ride_id=ride.pk, user=driver.user)
    arrived = await receive_type(comm, "driver_arrived")
    event = await db(Event.objects.get)(pk=arrived["id"])
    await get_channel_layer().group_send(
        user_group_name(passenger.pk), {"type": DELIVER, "text": event.text, "id": event.pk, "prev": None, "event_type": event.type}
    )
    await assert_nothing_more(comm)
    await comm.disconnect()


async def test_a_lost_live_event_is_filled_from_the_log_before_the_next_one(accepted_ride, monkeypatch):
    ride, passenger, driver = accepted_ride
    comm, _ = await connect(passenger)
    # The channel layer drops the arrival (a full channel does this silently)...
    monkeypatch.setattr(eventlog, "publish", lambda *args: False)
    await db(services.mark_arrived)(ride_id=ride.pk, user=driver.user)
    assert await comm.receive_nothing(timeout=0.2)
    monkeypatch.undo()
    # ...the next event says what came before it, and the connection fetches the gap first.
    await db(services.start_ride)(ride_id=ride.pk, user=driver.user)
    arrived = await receive_type(comm, "driver_arrived")
    started = await receive_type(comm, "ride_started")
    assert arrived["id"] < started["id"]
    await assert_nothing_more(comm)
    await comm.disconnect()


async def test_an_event_whose_publish_never_happened_is_republished_once(accepted_ride, monkeypatch):
    ride, passenger, driver = accepted_ride
    comm, _ = await connect(passenger)
    monkeypatch.setattr(eventlog, "publish", lambda *args: False)  # the process "dies" after commit
    await db(services.mark_arrived)(ride_id=ride.pk, user=driver.user)
    monkeypatch.undo()
    assert await comm.receive_nothing(timeout=0.2)

    assert await eventlog.relay_once(older_than_seconds=0) == 1
    await receive_type(comm, "driver_arrived")
    assert await eventlog.relay_once(older_than_seconds=0) == 0
    await assert_nothing_more(comm)
    await comm.disconnect()


async def test_the_relay_leaves_fresh_events_to_their_own_publish(accepted_ride, monkeypatch):
    ride, _, driver = accepted_ride
    monkeypatch.setattr(eventlog, "publish", lambda *args: False)
    await db(services.mark_arrived)(ride_id=ride.pk, user=driver.user)
    monkeypatch.undo()
    assert await eventlog.relay_once(older_than_seconds=60) == 0


async def test_a_rolled_back_change_logs_nothing(accepted_ride):
    ride, _, driver = accepted_ride

    def arrive_then_fail():
        with transaction.atomic():
            services.mark_arrived(ride_id=ride.pk, user=driver.user)
            raise RuntimeError("boom")

    before = await db(Event.objects.count)()
    with pytest.raises(RuntimeError):
        await db(arrive_then_fail)()
    assert await db(Event.objects.count)() == before


def _record_in_thread(driver, started, release, results, backend_pids):
    from django.db import connection

    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                backend_pids.append(cursor.fetchone()[0])
            started.set()
            event = eventlog.record(events.driver_availability_changed(driver), user_ids=[driver.pk])
            results.append(("recorded", event.pk))
            release.wait(10)
        results.append(("committed", event.pk))
    finally:
        connection.close()


def _waits_for_a_lock(pid):
    """Whether PostgreSQL backend `pid` is blocked waiting for a lock (advisory, row, any)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = %s AND NOT granted)", [pid])
        return cursor.fetchone()[0]


async def _until(condition, what, timeout=10):
    """Poll `condition` (sync; run in a thread with its own connection) until it is true."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await db(condition)():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.01)


@pytest.mark.postgres_only
async def test_ids_are_handed_out_in_commit_order_so_a_resuming_client_misses_nothing():
    driver = await db(DriverFactory)()
    user = driver.user
    comm, data = await connect(user)
    baseline = data["last_event_id"]

    first_started, first_release, second_started, second_release = (threading.Event() for _ in range(4))
    first_results, second_results, first_pid, second_pid = [], [], [], []
    first = threading.Thread(
        target=_record_in_thread, args=(driver, first_started, first_release, first_results, first_pid)
    )
    second = threading.Thread(
        target=_record_in_thread, args=(driver, second_started, second_release, second_results, second_pid)
    )
    first.start()
    assert await asyncio.to_thread(first_started.wait, 5)
    # The first transaction has drawn its id (so it holds the id lock) and stays open.
    await _until(lambda: first_results, "the first transaction recorded its event")
    second_release.set()  # the second would commit at once if it could draw an id
    second.start()
    assert await asyncio.to_thread(second_started.wait, 5)
    # Either the second is blocked on a lock (as it must be) or it drew an id anyway: no timing.
    await _until(lambda: second_results or _waits_for_a_lock(second_pid[0]), "the second transaction blocked or recorded")
    assert second_results == [], "the second transaction drew an id while the first was open"

    # A client resuming now, between the two, sees neither yet...
    resumer, _ = await connect(user, last_event_id=baseline)
    assert await resumer.receive_nothing(timeout=0.2)

    first_release.set()
    await asyncio.to_thread(first.join, 10)
    await asyncio.to_thread(second.join, 10)
    first_id, second_id = first_results[0][1], second_results[0][1]
    assert first_id < second_id  # the first to commit got the lower id

    # ...and then gets both, in order, live.
    for conn in (comm, resumer):
        got = [await receive(conn), await receive(conn)]
        assert [m["id"] for m in got] == [first_id, second_id]
        await assert_nothing_more(conn)
        await conn.disconnect()


async def test_a_replay_longer_than_the_bound_requires_a_resync_instead(accepted_ride, settings):
    settings.WS_MAX_REPLAY_EVENTS = 2
    ride, passenger, driver = accepted_ride
    await db(services.mark_arrived)(ride_id=ride.pk, user=driver.user)
    await db(services.start_ride)(ride_id=ride.pk, user=driver.user)
    await db(services.complete_ride)(ride_id=ride.pk, user=driver.user)
    ids = await db(lambda: list(Event.objects.filter(ride=ride).order_by("id").values_list("id", flat=True)))()
    assert len(ids) == 3

    comm, data = await connect(passenger, last_event_id=0)  # three to replay: one too many
    message = await receive_type(comm, "resync_required")
    assert message["data"] == {"reason": "too_many", "last_event_id": ids[-1]}
    await assert_nothing_more(comm)
    await send(comm, {"type": "resume", "last_event_id": 0})  # the same on an open socket
    assert (await receive_type(comm, "resync_required"))["data"] == {"reason": "too_many", "last_event_id": ids[-1]}
    await send(comm, {"type": "resume", "last_event_id": ids[0]})  # two: replayed
    assert [(await receive(comm))["id"] for _ in range(2)] == ids[1:]
    await assert_nothing_more(comm)
    await comm.disconnect()


async def test_after_a_too_many_resync_the_connection_goes_on_live_from_last_event_id(accepted_ride, settings):
    settings.WS_MAX_REPLAY_EVENTS = 1
    ride, passenger, driver = accepted_ride
    await db(services.mark_arrived)(ride_id=ride.pk, user=driver.user)
    await db(services.start_ride)(ride_id=ride.pk, user=driver.user)
    comm, _ = await connect(passenger, last_event_id=0)
    resync = await receive_type(comm, "resync_required")
    await db(services.complete_ride)(ride_id=ride.pk, user=driver.user)
    completed = await receive_type(comm, "ride_completed")  # no gap fill of what the resync covered
    assert completed["id"] > resync["data"]["last_event_id"]
    await assert_nothing_more(comm)
    await comm.disconnect()


def test_the_asyncapi_document_lists_the_too_many_resync_reason():
    from realtime.protocol import asyncapi

    reason = asyncapi.server_event_schema("resync_required")["properties"]["data"]["properties"]["reason"]
    assert set(reason["enum"]) == {"too_old", "unknown_event_id", "too_many"}
