"""Against a real server: ordinary socket traffic does not flush the login throttle's counters
or the ids of applied socket messages (issue 20, item 3: on the embedded default, 15 drivers'
675 messages with ids let 27 password checks through in 41 s and applied a resent
`driver_offline` twice)."""

import asyncio
import json
import secrets
import uuid
from contextlib import AsyncExitStack
from urllib import error as urlerror
from urllib import request as urlrequest

import pytest
import websockets

from realtime.tests.live_client import HTTP_WAIT, PASSWORD, http, recv, unique_phone_number, ws_uri
from realtime.tests.servers import running_server

pytestmark = pytest.mark.live

# 600 positions with ids from 4 drivers, each on 15 sockets (few accounts: each costs a password
# hash) and none rate limited (location_update's burst is 10 per socket).
DRIVERS = 4
SOCKETS_PER_DRIVER = 15
POSITIONS_PER_SOCKET = 10
LOGIN_RATE = 10  # a minute, per address: the production default


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(
        tmp_path_factory.mktemp("caches"), "caches",
        CACHE_KEY_PREFIX=f"caches-{secrets.token_hex(6)}",  # on Redis: no counter from another run
        THROTTLE_LOGIN_RATE=f"{LOGIN_RATE}/min", WS_MAX_CONNECTIONS_PER_USER=str(SOCKETS_PER_DRIVER + 1),
    ) as server:
        yield server


def random_address():
    return f"41.202.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


def post_from(server, address, path, body):
    """POST as a client at `address`, as the trusted proxy in front of the server (127.0.0.1)
    reports it: every throttle counts per address."""
    request = urlrequest.Request(
        f"{server.base_url}/api/v1{path}", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "X-Forwarded-For": address},
    )
    try:
        with urlrequest.urlopen(request, timeout=HTTP_WAIT) as response:
            return response.status, json.loads(response.read())
    except urlerror.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def register(server, driver=True):
    """A new account, logged in from an address of its own; its phone number and access token."""
    phone, address = unique_phone_number(), random_address()
    body = {"phone_number": phone, "password": PASSWORD, "full_name": "Flood Driver"}
    if driver:
        body["driver"] = {"vehicle_type": "moto", "vehicle_plate": f"LT-{secrets.randbelow(900) + 100}-FD",
                          "vehicle_color": "Black"}
    status, answer = post_from(server, address, "/auth/register/", body)
    assert status == 201, answer
    status, tokens = post_from(server, address, "/auth/token/", {"phone_number": phone, "password": PASSWORD})
    assert status == 200, tokens
    return {"phone": phone, "access": tokens["access"]}


async def call(server, method, path, body=None, token=None):
    status, answer = await asyncio.to_thread(http, method, f"{server.base_url}/api/v1{path}", body, token)
    assert status == 200, f"{method} {path}: {status} {answer}"
    return answer


async def open_socket(stack, server, user):
    websocket = await stack.enter_async_context(websockets.connect(ws_uri(server.ws_url, user["access"])))
    assert (await recv(websocket))["type"] == "connected"
    return websocket


async def until_acked(websocket, request_ids):
    """The frames up to the `ack` of each of `request_ids` (any `error` fails)."""
    waiting, frames = set(request_ids), []
    while waiting:
        message = await recv(websocket)
        assert message["type"] != "error", message
        frames.append(message)
        if message["type"] == "ack":
            waiting.discard(message["data"]["id"])
    return frames


async def send_positions(websocket, count):
    request_ids = [f"pos-{uuid.uuid4().hex}" for _ in range(count)]
    for n, request_id in enumerate(request_ids):
        message = {"type": "location_update", "id": request_id, "latitude": 3.85 + n / 10_000, "longitude": 11.5}
        await websocket.send(json.dumps(message))
    await until_acked(websocket, request_ids)


async def flood(server, drivers):
    """Every driver's sockets send a burst of positions with ids, all acknowledged."""
    async with AsyncExitStack() as stack:
        sockets = [await open_socket(stack, server, driver) for driver in drivers for _ in range(SOCKETS_PER_DRIVER)]
        await asyncio.gather(*(send_positions(websocket, POSITIONS_PER_SOCKET) for websocket in sockets))


async def test_live_socket_traffic_neither_resets_the_login_throttle_nor_forgets_applied_ids(server):
    victim, watched, *drivers = await asyncio.gather(
        asyncio.to_thread(register, server, False), *(asyncio.to_thread(register, server) for _ in range(DRIVERS + 1))
    )
    attacker = random_address()

    def wrong_password():
        return post_from(server, attacker, "/auth/token/", {"phone_number": victim["phone"], "password": "guess-2026"})

    for _ in range(LOGIN_RATE // 2):
        assert (await asyncio.to_thread(wrong_password))[0] == 401
    async with websockets.connect(ws_uri(server.ws_url, watched["access"])) as websocket:
        assert (await recv(websocket))["type"] == "connected"
        offline = {"type": "driver_offline", "id": "off-1"}
        await websocket.send(json.dumps(offline))
        await until_acked(websocket, ["off-1"])
        await call(server, "POST", "/drivers/me/online/", token=watched["access"])

        await flood(server, drivers)

        # The resend is acknowledged and not applied again: the driver stays online.
        await websocket.send(json.dumps(offline))
        frames = await until_acked(websocket, ["off-1"])
        assert [frame["type"] for frame in frames if frame["type"] == "driver_status"] == [], frames
        assert (await call(server, "GET", "/drivers/me/", token=watched["access"]))["is_online"] is True

    # The attacker's first attempts still count: the rest of the minute's, then 429.
    for _ in range(LOGIN_RATE - LOGIN_RATE // 2):
        assert (await asyncio.to_thread(wrong_password))[0] == 401
    status, answer = await asyncio.to_thread(wrong_password)
    assert status == 429, answer
    assert answer["code"] == "throttled"
