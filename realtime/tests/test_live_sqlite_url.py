"""A server on SQLite named by DATABASE_URL=sqlite:///... (not SQLITE_PATH): simultaneous writers
wait for each other instead of failing with "database is locked"."""

import asyncio
import json
import os
import threading
import time
import uuid
from contextlib import AsyncExitStack

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from .live_client import HTTP_WAIT, Api, http, recv_type, ws_uri
from .servers import ServerProcess, migrate

pytestmark = pytest.mark.live

PICKUP = (3.848, 11.502)
DROPOFF = (3.866, 11.516)
DRIVERS = 8
PASSENGERS = 4
STATUS_WAIT = 30  # longer than any lock wait, so a slow answer fails as slow, not as missing
LOCKED = "database is locked"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("sqlite-url")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SQLITE_PATH")}
    env.update(DATABASE_URL=f"sqlite:///{workdir / 'live.sqlite3'}",  # absolute path: sqlite:////tmp/...
               CHANNEL_LAYER_PREFIX=f"sqlite-url-{uuid.uuid4().hex[:8]}")
    migrate(env)
    process = ServerProcess(env, workdir).start()
    yield process
    process.stop()


@pytest.fixture
def api(server):
    return Api(server.base_url)


class LogWatch:
    """What the server logged since the test began."""

    def __init__(self, server):
        self.server = server
        self.start = len(server.log())

    def new(self):
        return self.server.log()[self.start:]

    def assert_no_lock_errors(self):
        text = self.new()
        assert LOCKED not in text, f'the server logged "{LOCKED}":\n{text[-4000:]}'


@pytest.fixture
def log(server):
    return LogWatch(server)


async def register_one_by_one(api, count, label, **driver):
    """Set-up writes in sequence, so only the burst under test is concurrent."""
    if driver:
        return [await api.driver(f"{label} {n}", **driver) for n in range(count)]
    return [await api.register(f"{label} {n}") for n in range(count)]


def errors_logged(server):
    lines = [line for line in server.log().splitlines() if "Error" in line or LOCKED in line]
    return "\n".join(lines[-20:])


async def open_sockets(stack, server, users):
    async def one(user):
        try:
            websocket = await stack.enter_async_context(websockets.connect(ws_uri(server.ws_url, user["access"])))
            await recv_type(websocket, "connected")
        except (ConnectionClosed, OSError) as exc:
            pytest.fail(f"{user['full_name']}: the socket ended before `connected`: {exc!r}; server errors:\n"
                        f"{errors_logged(server)}")
        return websocket

    return await asyncio.gather(*(one(user) for user in users))


async def go_online(server, websocket):
    """Sends driver_online; the driver_status it answers (any error frame fails)."""
    try:
        await websocket.send(json.dumps({"type": "driver_online"}))
        deadline = time.monotonic() + STATUS_WAIT
        while True:
            message = await recv_type_any(websocket, deadline)
            assert message["type"] != "error", f"driver_online answered with {message}"
            if message["type"] == "driver_status":
                return message
    except ConnectionClosed as exc:
        pytest.fail(f"the socket ended instead of answering driver_online: {exc!r}; server errors:\n"
                    f"{errors_logged(server)}")


async def recv_type_any(websocket, deadline):
    remaining = deadline - time.monotonic()
    assert remaining > 0, f"no driver_status within {STATUS_WAIT}s"
    return json.loads(await asyncio.wait_for(websocket.recv(), remaining))


def ride_body():
    return {"ride_type": "moto", "pickup_latitude": PICKUP[0], "pickup_longitude": PICKUP[1],
            "dropoff_latitude": DROPOFF[0], "dropoff_longitude": DROPOFF[1]}


async def request_rides_at_once(server, passengers):
    """Each passenger POSTs /rides/ from its own thread, released together by a barrier."""
    barrier = threading.Barrier(len(passengers))

    def post(passenger):
        barrier.wait(timeout=HTTP_WAIT)
        return http("POST", f"{server.base_url}/api/v1/rides/", ride_body(), passenger["access"])

    return await asyncio.gather(*(asyncio.to_thread(post, passenger) for passenger in passengers))


def assert_all_created(answers):
    statuses = [status for status, _ in answers]
    assert statuses == [201] * len(answers), f"POST /rides/ answers: {answers}"
    assert len({body["ride_id"] for _, body in answers}) == len(answers)


async def test_eight_drivers_going_online_at_once_all_get_driver_status(server, api, log):
    drivers = await register_one_by_one(api, DRIVERS, "Burst Driver", at=PICKUP, online=False)
    async with AsyncExitStack() as stack:
        sockets = await open_sockets(stack, server, drivers)
        statuses = await asyncio.gather(*(go_online(server, websocket) for websocket in sockets))
        for driver, status in zip(drivers, statuses):
            assert status["data"] == {"driver_id": driver["id"], "is_online": True}, status
        for driver in drivers:  # and it was saved, as REST sees it
            assert (await api.call("GET", "/drivers/me/", token=driver["access"]))["is_online"] is True
    log.assert_no_lock_errors()


async def test_four_passengers_requesting_at_once_all_get_201(server, api, log):
    await register_one_by_one(api, 2, "Nearby Driver", at=PICKUP)  # online: every ride is offered to them
    passengers = await register_one_by_one(api, PASSENGERS, "Burst Passenger")
    assert_all_created(await request_rides_at_once(server, passengers))
    log.assert_no_lock_errors()


async def test_drivers_and_passengers_at_once_and_no_lock_error_in_the_server_log(server, api):
    drivers = await register_one_by_one(api, DRIVERS, "Mixed Driver", at=PICKUP, online=False)
    passengers = await register_one_by_one(api, PASSENGERS, "Mixed Passenger")
    async with AsyncExitStack() as stack:
        sockets = await open_sockets(stack, server, drivers)
        *statuses, answers = await asyncio.gather(*(go_online(server, websocket) for websocket in sockets),
                                                  request_rides_at_once(server, passengers))
        assert all(status["data"]["is_online"] is True for status in statuses), statuses
        assert_all_created(answers)
    # The whole log of the module's server, every earlier burst included.
    log = server.log()
    assert LOCKED not in log, f'the server logged "{LOCKED}":\n{log[-4000:]}'
