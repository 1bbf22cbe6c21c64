"""Client side of the live tests: REST over urllib, the socket with the `websockets` library
exactly as the guide's Python client uses it."""

import asyncio
import json
import random
import uuid

import pytest

from realtime.serving.client import http_json

WAIT = 5  # seconds any single awaited frame may take
HTTP_WAIT = 20  # a request: the live server hashes passwords with the production hasher
QUIET = 0.3  # silence watched after a ping/pong barrier
PASSWORD = "live-pass-2026!x"

_used_numbers = set()


def unique_phone_number():
    while True:
        number = f"+23767{random.randint(0, 9_999_999):07d}"  # MTN Cameroon range
        if number not in _used_numbers:
            _used_numbers.add(number)
            return number


def http(method, url, body=None, token=None):
    return http_json(method, url, body, token, timeout=HTTP_WAIT)


class Api:
    def __init__(self, base_url):
        self.base_url = base_url

    async def call(self, method, path, body=None, token=None, expect=200):
        status, payload = await asyncio.to_thread(http, method, f"{self.base_url}/api/v1{path}", body, token)
        assert status == expect, f"{method} {path}: {status} {payload}"
        return payload

    async def register(self, full_name, driver=None):
        phone = unique_phone_number()
        body = {"phone_number": phone, "password": PASSWORD, "full_name": full_name}
        if driver:
            body["driver"] = driver
        await self.call("POST", "/auth/register/", body, expect=201)
        tokens = await self.call("POST", "/auth/token/", {"phone_number": phone, "password": PASSWORD})
        me = await self.call("GET", "/auth/me/", token=tokens["access"])
        return {"phone": phone, "access": tokens["access"], "refresh": tokens["refresh"], "id": me["user_id"],
                "full_name": full_name}

    async def driver(self, full_name, vehicle_type="moto", *, at=None, online=True, plate=None, color="Black"):
        plate = plate or f"LT-{random.randint(100, 999)}-{vehicle_type[:2].upper()}"
        user = await self.register(full_name, {"vehicle_type": vehicle_type, "vehicle_plate": plate,
                                               "vehicle_color": color})
        user.update(vehicle_type=vehicle_type, plate=plate, color=color)
        if at is not None:
            await self.call("POST", "/drivers/me/location/", {"latitude": at[0], "longitude": at[1]},
                            token=user["access"])
        if online:
            await self.call("POST", "/drivers/me/online/", token=user["access"])
        return user

    async def request_ride(self, passenger, pickup=(3.848, 11.502), dropoff=(3.866, 11.516), ride_type="moto"):
        body = {"ride_type": ride_type, "pickup_latitude": pickup[0], "pickup_longitude": pickup[1],
                "dropoff_latitude": dropoff[0], "dropoff_longitude": dropoff[1]}
        return await self.call("POST", "/rides/", body, token=passenger["access"], expect=201)

    async def step(self, ride_id, action, user, body=None):
        return await self.call("POST", f"/rides/{ride_id}/{action}/", body, token=user["access"])


def ws_uri(ws_base_url, token, last_event_id=None):
    uri = f"{ws_base_url}/api/v1/ws/connect?token={token}"
    return uri if last_event_id is None else f"{uri}&last_event_id={last_event_id}"


async def recv(websocket, timeout=WAIT):
    return json.loads(await asyncio.wait_for(websocket.recv(), timeout))


async def recv_type(websocket, event_type, timeout=WAIT):
    message = await recv(websocket, timeout)
    assert message["type"] == event_type, f"expected {event_type}, got {message}"
    return message


async def assert_quiet(websocket):
    """Nothing pending: a ping's pong is the very next frame, and then nothing arrives."""
    marker = uuid.uuid4().hex
    await websocket.send(json.dumps({"type": "ping", "timestamp": marker}))
    message = await recv(websocket)
    assert message["type"] == "pong" and message["data"]["timestamp"] == marker, message
    with pytest.raises(asyncio.TimeoutError):
        extra = await asyncio.wait_for(websocket.recv(), QUIET)
        pytest.fail(f"unexpected frame {extra}")
