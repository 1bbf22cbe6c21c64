"""Against a real daphne process (see the `daphne_server` fixture): REST for data, the `websockets`
library exactly as the guide's Python client uses it for the socket."""

import asyncio
import json
import uuid
from contextlib import AsyncExitStack
from datetime import datetime, timedelta, timezone

import jwt
import pytest
import websockets
from django.conf import settings
from websockets.exceptions import ConnectionClosed

from .helpers import ISO_UTC_Z
from .live_client import WAIT, Api, assert_quiet, recv
from .live_client import ws_uri as client_ws_uri

pytestmark = pytest.mark.live

PICKUP = (3.848, 11.502)
DROPOFF = (3.866, 11.516)
KM_PER_DEGREE = 111.2


@pytest.fixture
def api(daphne_server):
    return Api(daphne_server.base_url)


def ws_uri(daphne_server, token):
    return client_ws_uri(daphne_server.ws_url, token)


async def open_ws(stack, daphne_server, user):
    websocket = await stack.enter_async_context(websockets.connect(ws_uri(daphne_server, user["access"])))
    message = await recv(websocket)
    assert message["type"] == "connected"
    assert message["data"]["user_id"] == user["id"]
    return websocket


def iso_z(value):
    assert isinstance(value, str) and ISO_UTC_Z.match(value), value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def uuid_str(value):
    assert isinstance(value, str) and str(uuid.UUID(value)) == value, value
    return value


def envelope(message, event_type):
    assert message["type"] == event_type, message
    iso_z(message["timestamp"])
    if "id" in message:
        assert isinstance(message["id"], int) and not isinstance(message["id"], bool)
    assert isinstance(message["data"], dict)
    return message["data"]


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --- the guide's connect snippet -----------------------------------------------------------------


async def test_live_guide_client_connects_and_gets_connected_then_pong(daphne_server, api):
    user = await api.register("Live Passenger")
    uri = f"{daphne_server.ws_url}/api/v1/ws/connect?token={user['access']}"
    async with websockets.connect(uri) as websocket:
        message = json.loads(await asyncio.wait_for(websocket.recv(), WAIT))
        data = envelope(message, "connected")
        assert data["user_id"] == user["id"]
        assert data["phone_number"] == user["phone"]
        assert data["is_driver"] is False
        await websocket.send(json.dumps({"type": "ping", "timestamp": "2025-12-19T03:00:00Z"}))
        pong = envelope(await recv(websocket), "pong")
        assert pong["timestamp"] == "2025-12-19T03:00:00Z"


# --- a full ride -----------------------------------------------------------------------------------


def north(km):
    return (PICKUP[0] + km / KM_PER_DEGREE, PICKUP[1])


async def test_live_full_ride(daphne_server, api):
    radius = settings.RIDE_OFFER_RADII_KM[-1]  # beyond the widest wave
    passenger, near, far, offline, car = await asyncio.gather(
        api.register("Awa Live"),
        api.driver("Jean Near", "moto", at=north(1.0), plate="LT-101-NE", color="Red"),
        api.driver("Paul Far", "moto", at=north(radius + 3.0)),
        api.driver("Eric Offline", "moto", at=PICKUP, online=False),
        api.driver("Marie Car", "car", at=PICKUP),
    )

    async with AsyncExitStack() as stack:
        p_ws = await open_ws(stack, daphne_server, passenger)
        near_ws = await open_ws(stack, daphne_server, near)
        others = [await open_ws(stack, daphne_server, u) for u in (far, offline, car)]

        # request
        ride = await api.call("POST", "/rides/", {
            "ride_type": "moto", "pickup_latitude": PICKUP[0], "pickup_longitude": PICKUP[1],
            "dropoff_latitude": DROPOFF[0], "dropoff_longitude": DROPOFF[1],
        }, token=passenger["access"], expect=201)
        ride_id = ride["ride_id"]

        message = await recv(near_ws)
        data = envelope(message, "ride_requested")
        assert uuid_str(data["ride_id"]) == ride_id
        assert data["passenger_id"] == passenger["id"]
        assert data["ride_type"] == "moto"
        assert (data["pickup_latitude"], data["pickup_longitude"]) == pytest.approx(PICKUP)
        assert (data["dropoff_latitude"], data["dropoff_longitude"]) == pytest.approx(DROPOFF)
        assert is_int(data["estimated_fare"]) and data["estimated_fare"] == ride["estimated_fare"]
        assert message["metadata"]["ride_id"] == ride_id
        await asyncio.gather(*(assert_quiet(websocket) for websocket in others + [p_ws]))

        # the passenger follows the ride room as the guide says
        await p_ws.send(json.dumps({"type": "join_ride", "ride_id": ride_id}))
        assert envelope(await recv(p_ws), "ride_joined")["ride_id"] == ride_id

        # accept
        await api.call("POST", f"/rides/{ride_id}/accept/", token=near["access"])
        data = envelope(await recv(p_ws), "ride_accepted")
        assert data["ride_id"] == ride_id
        assert data["driver_id"] == near["id"]
        assert data["driver_name"] == "Jean Near"
        assert data["vehicle_type"] == "moto"
        assert data["vehicle_plate"] == "LT-101-NE"
        assert data["vehicle_color"] == "Red"
        assert is_number(data["driver_rating"])
        assert is_int(data["estimated_arrival"]) and 1 <= data["estimated_arrival"] <= 10
        await assert_quiet(p_ws)

        # location over the socket, then over REST
        await near_ws.send(json.dumps({"type": "location_update", "latitude": 3.852, "longitude": 11.5025,
                                       "heading": 45, "speed": 25}))
        data = envelope(await recv(p_ws), "driver_location_update")
        assert data["driver_id"] == near["id"]
        assert data["ride_id"] == ride_id
        assert (data["latitude"], data["longitude"]) == (3.852, 11.5025)
        assert data["heading"] == 45 and is_int(data["heading"])
        assert data["speed"] == 25 and is_number(data["speed"])
        # 445 m from the pickup: the way there and the minutes (rides.eta); not yet approaching.
        assert is_number(data["distance_km"]) and 0.445 < data["distance_km"] < 1.0
        assert is_int(data["eta_minutes"]) and data["eta_minutes"] >= 1
        await assert_quiet(p_ws)

        await api.call("POST", "/drivers/me/location/", {"latitude": 3.85, "longitude": 11.502, "heading": 90,
                                                         "speed": 12.5}, token=near["access"])
        data = envelope(await recv(p_ws), "driver_location_update")
        assert data["driver_id"] == near["id"]
        assert data["ride_id"] == ride_id
        assert (data["latitude"], data["longitude"], data["heading"], data["speed"]) == (3.85, 11.502, 90, 12.5)
        # 222 m from the pickup: inside DRIVER_APPROACHING_RADIUS_M, announced once to both.
        for websocket in (p_ws, near_ws):
            message = await recv(websocket)
            data = envelope(message, "driver_approaching")
            assert (data["ride_id"], data["driver_id"]) == (ride_id, near["id"])
            assert data["distance_m"] == 222 and is_int(data["eta_minutes"])
            assert message["metadata"]["ride_id"] == ride_id
        await asyncio.gather(*(assert_quiet(websocket) for websocket in others))

        # arrived → started → completed, to both
        await api.call("POST", f"/rides/{ride_id}/arrived/", token=near["access"])
        for websocket in (p_ws, near_ws):
            data = envelope(await recv(websocket), "driver_arrived")
            assert data["ride_id"] == ride_id
            assert data["driver_id"] == near["id"]

        await api.call("POST", f"/rides/{ride_id}/start/", token=near["access"])
        for websocket in (p_ws, near_ws):
            data = envelope(await recv(websocket), "ride_started")
            assert data["ride_id"] == ride_id
            started_at = iso_z(data["started_at"])
            assert abs(started_at - datetime.now(timezone.utc)) < timedelta(minutes=1)

        completed = await api.call("POST", f"/rides/{ride_id}/complete/", token=near["access"])
        for websocket in (p_ws, near_ws):
            data = envelope(await recv(websocket), "ride_completed")
            assert data["ride_id"] == ride_id
            assert is_int(data["final_fare"]) and data["final_fare"] == completed["final_fare"] == ride["estimated_fare"]
            assert iso_z(data["completed_at"]) >= started_at

        await asyncio.gather(*(assert_quiet(websocket) for websocket in [p_ws, near_ws] + others))


async def test_live_cancel_before_acceptance_tells_the_offered_driver(daphne_server, api):
    passenger, driver = await asyncio.gather(
        api.register("Cancel Passenger"), api.driver("Cancel Driver", "car", at=north(0.5))
    )
    async with AsyncExitStack() as stack:
        p_ws = await open_ws(stack, daphne_server, passenger)
        d_ws = await open_ws(stack, daphne_server, driver)
        ride = await api.call("POST", "/rides/", {
            "ride_type": "car", "pickup_latitude": PICKUP[0], "pickup_longitude": PICKUP[1],
            "dropoff_latitude": DROPOFF[0], "dropoff_longitude": DROPOFF[1],
        }, token=passenger["access"], expect=201)
        assert envelope(await recv(d_ws), "ride_requested")["ride_id"] == ride["ride_id"]
        await api.call("POST", f"/rides/{ride['ride_id']}/cancel/", {"reason": "Changed my mind"},
                       token=passenger["access"])
        data = envelope(await recv(d_ws), "ride_unavailable")
        assert (data["ride_id"], data["reason"]) == (ride["ride_id"], "cancelled")
        data = envelope(await recv(p_ws), "ride_cancelled")
        assert (data["ride_id"], data["cancelled_by"], data["reason"]) == (ride["ride_id"], "passenger",
                                                                          "Changed my mind")


# --- auth ------------------------------------------------------------------------------------------


def _jwt(user_id, *, exp_delta, key=None, token_type="access"):
    now = datetime.now(timezone.utc)
    return jwt.encode(
        {"token_type": token_type, "user_id": user_id, "exp": now + exp_delta, "iat": now - timedelta(minutes=20),
         "jti": uuid.uuid4().hex},
        key or settings.SIMPLE_JWT["SIGNING_KEY"],
        algorithm=settings.SIMPLE_JWT["ALGORITHM"],
    )


async def _close_code(daphne_server, token):
    async with websockets.connect(ws_uri(daphne_server, token)) as websocket:
        with pytest.raises(ConnectionClosed) as closed:
            frame = await asyncio.wait_for(websocket.recv(), WAIT)
            pytest.fail(f"expected a close, got a frame: {frame}")
    assert closed.value.rcvd is not None, "the server sent no close frame"
    return closed.value.rcvd.code


async def test_live_bad_tokens_close_with_the_documented_codes(daphne_server, api):
    user = await api.register("Token Holder")
    cases = {
        "garbage": ("garbage", 4001),
        "invalid_signature": (_jwt(user["id"], exp_delta=timedelta(minutes=5), key="x" * 40), 4001),
        "refresh_token": (user["refresh"], 4001),
        "expired": (_jwt(user["id"], exp_delta=-timedelta(seconds=5)), 4002),
    }
    codes = {name: await _close_code(daphne_server, token) for name, (token, _) in cases.items()}
    assert codes == {name: code for name, (_, code) in cases.items()}

    # the crafted-token control: the same construction, unexpired, is accepted
    async with websockets.connect(ws_uri(daphne_server, _jwt(user["id"], exp_delta=timedelta(minutes=5)))) as ws:
        assert envelope(await recv(ws), "connected")["user_id"] == user["id"]


async def test_live_foreign_origin_is_refused_at_the_handshake(daphne_server, api):
    user = await api.register("Origin Tester")
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        async with websockets.connect(ws_uri(daphne_server, user["access"]), origin="http://evil.example"):
            pass
    assert refused.value.response.status_code == 403
    async with websockets.connect(ws_uri(daphne_server, user["access"]), origin="http://localhost:8000") as ws:
        assert (await recv(ws))["type"] == "connected"


# --- robustness --------------------------------------------------------------------------------------


async def test_live_bad_frames_leave_the_connection_usable_and_the_server_serving(daphne_server, api):
    alice, bob = await asyncio.gather(api.register("Alice Errors"), api.register("Bob Bystander"))
    async with AsyncExitStack() as stack:
        a_ws = await open_ws(stack, daphne_server, alice)
        b_ws = await open_ws(stack, daphne_server, bob)
        for frame, code in [
            ("{not json", "invalid_json"),
            (b"\x00\x01binary", "binary_not_supported"),
            ("", "empty_message"),
            ("[1, 2]", "invalid_message"),
            ('{"no": "type"}', "missing_type"),
            ('{"type": "warp"}', "unknown_type"),
            ('{"type": "join_ride", "ride_id": 42}', "ride_not_found"),
        ]:
            await a_ws.send(frame)
            data = envelope(await recv(a_ws), "error")
            assert data["code"] == code, (frame, data)
            await a_ws.send(json.dumps({"type": "ping", "timestamp": code}))
            assert envelope(await recv(a_ws), "pong")["timestamp"] == code
        await assert_quiet(a_ws)
        await assert_quiet(b_ws)
        # a new connection and REST still work
        async with websockets.connect(ws_uri(daphne_server, bob["access"])) as again:
            assert (await recv(again))["type"] == "connected"
        me = await api.call("GET", "/auth/me/", token=alice["access"])
        assert me["user_id"] == alice["id"]
