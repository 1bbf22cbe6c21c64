"""Every client message and error path of the consumer, over the real ASGI application."""

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from drivers.models import Driver
from rides.models import RideStatus
from rideshare.tests.factories import YAOUNDE, DriverFactory, RideFactory, UserFactory, access_token_for, ride_in_status

from .helpers import (
    assert_envelope,
    assert_iso_utc,
    assert_nothing_more,
    assert_uuid_str,
    communicator,
    db,
    eventually,
    ping,
    receive,
    receive_type,
    receive_types,
    send,
    socket,
)

pytestmark = pytest.mark.django_db(transaction=True)


# --- connected ---------------------------------------------------------------------------------


async def test_connected_is_the_first_message_and_describes_the_passenger():
    user = await db(UserFactory)(full_name="Awa Passenger")
    comm = communicator(await db(access_token_for)(user))
    connected, _ = await comm.connect()
    assert connected
    message = await receive(comm)
    data = assert_envelope(message, "connected")
    assert_uuid_str(data["user_id"], user.pk)
    assert data["phone_number"] == user.phone_number
    assert data["is_driver"] is False
    await assert_nothing_more(comm)
    await comm.disconnect()


async def test_connected_says_is_driver_for_a_driver():
    driver = await db(DriverFactory)()
    comm = communicator(await db(access_token_for)(driver.user))
    assert (await comm.connect())[0]
    data = assert_envelope(await receive(comm), "connected")
    assert data["user_id"] == str(driver.user.pk)
    assert data["phone_number"] == driver.user.phone_number
    assert data["is_driver"] is True
    await comm.disconnect()


# --- ping ----------------------------------------------------------------------------------------


async def test_ping_is_answered_with_pong_echoing_the_client_timestamp():
    user = await db(UserFactory)()
    async with socket(user) as comm:
        await ping(comm, "2025-12-19T03:00:00Z")
        data = assert_envelope(await receive(comm), "pong")
        assert data["timestamp"] == "2025-12-19T03:00:00Z"


async def test_ping_without_timestamp_gets_the_server_time():
    user = await db(UserFactory)()
    async with socket(user) as comm:
        before = datetime.now(timezone.utc) - timedelta(seconds=1)
        await send(comm, {"type": "ping"})
        data = assert_envelope(await receive(comm), "pong")
        after = datetime.now(timezone.utc) + timedelta(seconds=1)
        assert_iso_utc(data["timestamp"])
        assert before <= datetime.fromisoformat(data["timestamp"].replace("Z", "+00:00")) <= after


async def test_ping_with_a_non_string_timestamp_gets_the_server_time():
    user = await db(UserFactory)()
    async with socket(user) as comm:
        await send(comm, {"type": "ping", "timestamp": 12345})
        data = assert_envelope(await receive(comm), "pong")
        assert_iso_utc(data["timestamp"])


# --- join_ride / leave_ride ----------------------------------------------------------------------


def _ride_with_roles():
    """An accepted ride, and who is who: passenger, assigned driver's user, a staff member."""
    ride = ride_in_status(RideStatus.ACCEPTED)
    staff = UserFactory(is_staff=True)
    return ride, {"passenger": ride.passenger, "driver": ride.driver.user, "staff": staff}


@pytest.mark.parametrize("role", ["passenger", "driver", "staff"])
async def test_join_and_leave_ride_are_acknowledged_for_those_who_may_follow_it(role):
    ride, users = await db(_ride_with_roles)()
    async with socket(users[role]) as comm:
        await send(comm, {"type": "join_ride", "ride_id": str(ride.pk)})
        data = assert_envelope(await receive(comm), "ride_joined")
        assert data["ride_id"] == str(ride.pk)

        await send(comm, {"type": "leave_ride", "ride_id": str(ride.pk)})
        data = assert_envelope(await receive(comm), "ride_left")
        assert data["ride_id"] == str(ride.pk)
        await assert_nothing_more(comm)


async def test_join_ride_accepts_the_uuid_in_upper_case():
    ride, users = await db(_ride_with_roles)()
    async with socket(users["passenger"]) as comm:
        await send(comm, {"type": "join_ride", "ride_id": str(ride.pk).upper()})
        data = assert_envelope(await receive(comm), "ride_joined")
        assert data["ride_id"] == str(ride.pk)


NOT_JOINABLE = {
    "another_users_ride": None,  # filled in with a real ride of somebody else
    "unknown_uuid": str(uuid.uuid4()),
    "malformed_id": "not-a-uuid",
    "empty_string": "",
    "integer_id": 12345,
    "list_id": ["x"],
    "object_id": {"id": "x"},
    "null_id": None,
    "boolean_id": True,
}


@pytest.mark.parametrize("message_type", ["join_ride", "leave_ride"])
async def test_rides_one_may_not_follow_all_get_the_same_ride_not_found_error(message_type):
    """No existence oracle: another user's ride, an unknown id and garbage read the same."""
    other_ride = await db(RideFactory)()
    outsider = await db(UserFactory)()
    errors = {}
    async with socket(outsider) as comm:
        for case, ride_id in NOT_JOINABLE.items():
            if case == "another_users_ride":
                ride_id = str(other_ride.pk)
            await send(comm, {"type": message_type, "ride_id": ride_id})
            data = assert_envelope(await receive(comm), "error")
            errors[case] = data
        await assert_nothing_more(comm)
    for case, data in errors.items():
        assert data["code"] == "ride_not_found", (case, data)
        assert isinstance(data["message"], str) and data["message"]
    assert all(data == errors["unknown_uuid"] for data in errors.values()), errors


async def test_a_driver_cannot_join_a_ride_offered_to_but_not_accepted_by_them():
    ride = await db(RideFactory)()
    driver = await db(DriverFactory)()
    async with socket(driver.user) as comm:
        await send(comm, {"type": "join_ride", "ride_id": str(ride.pk)})
        data = assert_envelope(await receive(comm), "error")
        assert data["code"] == "ride_not_found"


@pytest.mark.parametrize("message_type", ["join_ride", "leave_ride"])
async def test_join_or_leave_without_ride_id_is_a_missing_field_error(message_type):
    user = await db(UserFactory)()
    async with socket(user) as comm:
        await send(comm, {"type": message_type})
        data = assert_envelope(await receive(comm), "error")
        assert data["code"] == "missing_field"
        assert "ride_id" in data["message"]
        assert data.get("request_type") == message_type
        await assert_nothing_more(comm)


async def test_missing_field_error_names_the_field_like_the_rest_api_does():
    user = await db(UserFactory)()
    async with socket(user) as comm:
        await send(comm, {"type": "join_ride"})
        data = assert_envelope(await receive(comm), "error")
        assert data["code"] == "missing_field"
        assert data.get("field") == "ride_id"


# --- driver_online / driver_offline --------------------------------------------------------------


async def _is_online(driver):
    return await db(lambda: Driver.objects.get(pk=driver.pk).is_online)()


async def test_driver_online_and_offline_are_acknowledged_and_change_the_database():
    driver = await db(DriverFactory)(is_online=False)
    async with socket(driver.user) as comm:
        await send(comm, {"type": "driver_online"})
        # The ack, and the availability broadcast that reaches this connection too.
        messages = await receive_types(comm, ["driver_status", "driver_availability_changed"])
        data = assert_envelope(messages["driver_status"], "driver_status")
        assert data["driver_id"] == str(driver.user.pk)
        assert data["is_online"] is True
        assert await _is_online(driver) is True

        await send(comm, {"type": "driver_offline"})
        messages = await receive_types(comm, ["driver_status", "driver_availability_changed"])
        data = assert_envelope(messages["driver_status"], "driver_status")
        assert data["driver_id"] == str(driver.user.pk)
        assert data["is_online"] is False
        assert await _is_online(driver) is False
        await assert_nothing_more(comm)


async def test_driver_online_when_already_online_is_acknowledged_without_a_change_event():
    driver = await db(DriverFactory)(is_online=True)
    async with socket(driver.user) as comm:
        await send(comm, {"type": "driver_online"})
        data = assert_envelope(await receive(comm), "driver_status")
        assert data["is_online"] is True
        await assert_nothing_more(comm)
    # the socket closed: presence took the driver offline
    assert await _is_online(driver) is False


@pytest.mark.parametrize("message", [{"type": "driver_online"}, {"type": "driver_offline"},
                                     {"type": "location_update", "latitude": YAOUNDE[0], "longitude": YAOUNDE[1]}])
async def test_driver_messages_from_a_passenger_are_not_a_driver_errors(message):
    user = await db(UserFactory)()
    async with socket(user) as comm:
        await send(comm, message)
        data = assert_envelope(await receive(comm), "error")
        assert data["code"] == "not_a_driver"
        await assert_nothing_more(comm)


# --- location_update -----------------------------------------------------------------------------


async def test_location_update_from_a_driver_reaches_the_passenger_at_once_and_the_database_soon():
    ride = await db(ride_in_status)(RideStatus.ACCEPTED)
    driver = ride.driver
    async with socket(ride.passenger) as passenger_comm, socket(driver.user) as driver_comm:
        await send(driver_comm, {"type": "location_update", "latitude": 3.85, "longitude": 11.505,
                                 "heading": 90, "speed": 30.5})
        data = assert_envelope(await receive(passenger_comm), "driver_location_update")
        assert data["driver_id"] == str(driver.user.pk)
        assert data["ride_id"] == str(ride.pk)
        assert (data["latitude"], data["longitude"], data["heading"], data["speed"]) == (3.85, 11.505, 90, 30.5)
        await assert_nothing_more(driver_comm)  # no ack, no echo to the driver
        await assert_nothing_more(passenger_comm)

    stored = await eventually(lambda: Driver.objects.filter(pk=driver.pk, latitude=3.85).first())
    assert (stored.latitude, stored.longitude, stored.heading, stored.speed) == (3.85, 11.505, 90, 30.5)
    assert stored.location_updated_at is not None


async def test_location_update_without_an_active_ride_updates_the_database_only():
    driver = await db(DriverFactory)(latitude=None, longitude=None, location_updated_at=None)
    async with socket(driver.user) as comm:
        await send(comm, {"type": "location_update", "latitude": 3.9, "longitude": 11.6})
        await assert_nothing_more(comm)
        stored = await eventually(lambda: Driver.objects.filter(pk=driver.pk, latitude=3.9).first())
    assert (stored.latitude, stored.longitude) == (3.9, 11.6)


INVALID_LOCATIONS = [
    ("latitude", '{"type":"location_update","latitude":91,"longitude":11.5}'),
    ("latitude", '{"type":"location_update","latitude":-90.5,"longitude":11.5}'),
    ("latitude", '{"type":"location_update","latitude":"north","longitude":11.5}'),
    ("latitude", '{"type":"location_update","latitude":NaN,"longitude":11.5}'),
    ("latitude", '{"type":"location_update","latitude":"NaN","longitude":11.5}'),
    ("latitude", '{"type":"location_update","latitude":true,"longitude":11.5}'),
    ("latitude", '{"type":"location_update","latitude":null,"longitude":11.5}'),
    ("latitude", '{"type":"location_update","longitude":11.5}'),
    ("longitude", '{"type":"location_update","latitude":3.8,"longitude":181}'),
    ("longitude", '{"type":"location_update","latitude":3.8,"longitude":-180.01}'),
    ("longitude", '{"type":"location_update","latitude":3.8,"longitude":Infinity}'),
    ("longitude", '{"type":"location_update","latitude":3.8,"longitude":NaN}'),
    ("longitude", '{"type":"location_update","latitude":3.8}'),
    ("heading", '{"type":"location_update","latitude":3.8,"longitude":11.5,"heading":NaN}'),
    ("speed", '{"type":"location_update","latitude":3.8,"longitude":11.5,"speed":-1}'),
]


@pytest.mark.parametrize("field,frame", INVALID_LOCATIONS)
async def test_invalid_location_update_is_a_validation_error_naming_the_field(field, frame):
    driver = await db(DriverFactory)(latitude=3.0, longitude=11.0)
    async with socket(driver.user) as comm:
        await comm.send_to(text_data=frame)
        data = assert_envelope(await receive(comm), "error")
        assert data["code"] == "validation_error"
        assert field in data["errors"], data
        assert data["message"].startswith(f"{field}: "), data
        await assert_nothing_more(comm)
    stored = await db(Driver.objects.get)(pk=driver.pk)
    assert (stored.latitude, stored.longitude) == (3.0, 11.0)


# --- malformed frames ----------------------------------------------------------------------------

BAD_FRAMES = [
    ("invalid_json", {"type": "websocket.receive", "text": "{not json"}),
    ("invalid_json", {"type": "websocket.receive", "text": '{"type": "ping"'}),
    ("invalid_message", {"type": "websocket.receive", "text": "[1, 2, 3]"}),
    ("invalid_message", {"type": "websocket.receive", "text": '"ping"'}),
    ("invalid_message", {"type": "websocket.receive", "text": "42"}),
    ("invalid_message", {"type": "websocket.receive", "text": "null"}),
    ("binary_not_supported", {"type": "websocket.receive", "bytes": b'{"type": "ping"}'}),
    ("binary_not_supported", {"type": "websocket.receive", "bytes": b"\x00\xff"}),
    ("empty_message", {"type": "websocket.receive", "text": ""}),
    ("empty_message", {"type": "websocket.receive", "text": "   \n"}),
    ("missing_type", {"type": "websocket.receive", "text": "{}"}),
    ("missing_type", {"type": "websocket.receive", "text": '{"type": ""}'}),
    ("missing_type", {"type": "websocket.receive", "text": '{"type": 5}'}),
    ("missing_type", {"type": "websocket.receive", "text": '{"ride_id": "x"}'}),
    ("unknown_type", {"type": "websocket.receive", "text": '{"type": "teleport"}'}),
    ("unknown_type", {"type": "websocket.receive", "text": '{"type": "PING"}'}),
]


@pytest.mark.parametrize("code,frame", BAD_FRAMES, ids=[f"{c}-{i}" for i, (c, _) in enumerate(BAD_FRAMES)])
async def test_a_bad_frame_gets_an_error_and_the_connection_keeps_working(code, frame):
    user = await db(UserFactory)()
    async with socket(user) as comm:
        await comm.send_input(frame)
        data = assert_envelope(await receive(comm), "error")
        assert data["code"] == code
        assert isinstance(data["message"], str) and data["message"]
        await ping(comm, "still-there")
        pong = assert_envelope(await receive(comm), "pong")
        assert pong["timestamp"] == "still-there"
        await assert_nothing_more(comm)


async def test_errors_are_answered_one_for_one_in_order():
    user = await db(UserFactory)()
    async with socket(user) as comm:
        for text in ["{bad", "[]", '{"type": "nope"}', json.dumps({"type": "ping", "timestamp": "t"})]:
            await comm.send_to(text_data=text)
        codes = [(await receive(comm))["data"].get("code") for _ in range(3)]
        assert codes == ["invalid_json", "invalid_message", "unknown_type"]
        assert (await receive_type(comm, "pong"))["data"]["timestamp"] == "t"
