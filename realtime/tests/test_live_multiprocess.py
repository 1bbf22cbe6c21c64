"""Several server processes sharing PostgreSQL and Redis, as in production."""

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from .live_client import Api, assert_quiet, recv, recv_type, ws_uri
from .servers import REPO_ROOT, LiveDatabase, ServerProcess

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        not (os.environ.get("REDIS_URL") and os.environ.get("DATABASE_URL")),
        reason="needs PostgreSQL and Redis (set DATABASE_URL and REDIS_URL); runs in CI's second pass",
    ),
]

PICKUP = (3.848, 11.502)


@pytest.fixture
def two_servers(tmp_path):
    database = LiveDatabase(tmp_path)
    env = dict(
        os.environ,
        **database.env,
        CHANNEL_LAYER_PREFIX=f"multi-{uuid.uuid4().hex[:8]}",
        PRESENCE_TTL_SECONDS="6",
        PRESENCE_REFRESH_SECONDS="2",
    )
    database.migrate(env)
    servers = [ServerProcess(env, tmp_path).start(), ServerProcess(env, tmp_path).start()]
    yield servers, env
    for server in servers:
        server.stop()
    database.drop()


def make_staff(env, phone):
    code = (
        "from rideshare.accounts.models import User; "
        f"User.objects.filter(phone_number='{phone}').update(is_staff=True)"
    )
    subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=REPO_ROOT, env=env, check=True,
                   capture_output=True)


async def wait_for_stats(apis, token, predicate, timeout):
    deadline = time.monotonic() + timeout
    while True:
        figures = [await api.call("GET", "/ws/stats", token=token) for api in apis]
        if all(predicate(f) for f in figures):
            return figures
        assert time.monotonic() < deadline, figures
        await asyncio.sleep(0.5)


async def test_a_ride_driven_through_one_process_is_heard_through_the_other_and_survives_its_death(two_servers):
    (a, b), env = two_servers
    api_a, api_b = Api(a.base_url), Api(b.base_url)
    ops = await api_a.register("Ops")
    await asyncio.to_thread(make_staff, env, ops["phone"])
    passenger = await api_a.register("Two-process Passenger")
    driver = await api_b.driver("Two-process Driver", at=(PICKUP[0] + 0.002, PICKUP[1]))

    async with websockets.connect(ws_uri(a.ws_url, passenger["access"])) as on_a, \
            websockets.connect(ws_uri(b.ws_url, driver["access"])) as on_b:
        await recv_type(on_a, "connected")
        await recv_type(on_b, "connected")
        # Both processes count both sockets.
        figures = await wait_for_stats([api_a, api_b], ops["access"], lambda f: f["total_connections"] == 2, 5)
        assert figures[0] == figures[1]
        assert figures[0]["server_processes"] == 2

        ride = await api_b.request_ride(passenger)  # through the other process
        offer = await recv_type(on_b, "ride_requested")
        assert offer["data"]["ride_id"] == ride["ride_id"]
        await api_b.step(ride["ride_id"], "accept", driver)
        accepted = await recv_type(on_a, "ride_accepted")
        await api_b.step(ride["ride_id"], "arrived", driver)
        arrived = await recv_type(on_a, "driver_arrived")
        assert accepted["id"] < arrived["id"]

        # Process A dies without a word; its passenger reconnects to B and resumes.
        a.kill()
        with pytest.raises(ConnectionClosed):
            while True:
                await recv(on_a, timeout=10)
    await api_b.step(ride["ride_id"], "start", driver)
    async with websockets.connect(ws_uri(b.ws_url, passenger["access"], last_event_id=arrived["id"])) as moved:
        await recv_type(moved, "connected")
        started = await recv_type(moved, "ride_started")
        assert started["id"] > arrived["id"]
        await recv_type(moved, "driver_location_update")
        await assert_quiet(moved)
        # The dead process's sockets stop counting once its presence expires (TTL 6 s here).
        figures = await wait_for_stats(
            [api_b], ops["access"], lambda f: f["total_connections"] == 1 and f["server_processes"] == 1, 20
        )
        assert figures[0]["total_connections"] == 1


async def test_a_connection_over_the_per_user_cap_closes_the_oldest_one_held_by_the_other_process(two_servers):
    (first, second), env = two_servers
    api = Api(first.base_url)
    ops = await api.register("Cap Ops")
    await asyncio.to_thread(make_staff, env, ops["phone"])
    passenger = await api.register("Many Devices")
    sockets = []
    try:
        for _ in range(5):  # WS_MAX_CONNECTIONS_PER_USER (5) on the first process
            websocket = await websockets.connect(ws_uri(first.ws_url, passenger["access"]))
            await recv_type(websocket, "connected")
            sockets.append(websocket)
        # Passenger sockets are written to Redis in batches (PRESENCE_SYNC_SECONDS): the other
        # process sees them once they are there.
        await wait_for_stats([Api(second.base_url)], ops["access"], lambda f: f["total_connections"] == 5, 10)
        newest = await websockets.connect(ws_uri(second.ws_url, passenger["access"]))
        sockets.append(newest)
        await recv_type(newest, "connected")
        with pytest.raises(ConnectionClosed) as closed:
            await recv(sockets[0])
        assert closed.value.rcvd.code == 4010
        for websocket in sockets[1:]:
            await assert_quiet(websocket)
    finally:
        for websocket in sockets:
            await websocket.close()


async def test_a_driver_app_that_resends_its_queue_to_another_process_applies_nothing_twice(two_servers):
    """Applied message ids live in Redis (the default cache) and a position's recorded time in the
    database: a driver app that reconnects to the other process and sends its queue again is
    acknowledged for each message, and neither a message already applied nor a position older
    than the stored one is taken again."""
    (a, b), _ = two_servers
    api = Api(a.base_url)
    passenger = await api.register("Queue Passenger")
    driver = await api.driver("Queue Driver", at=(3.870, PICKUP[1]))  # 2.4 km out: no driver_approaching
    ride = await api.request_ride(passenger)
    await api.step(ride["ride_id"], "accept", driver)

    def position(latitude, request_id, recorded_at=None):
        message = {"type": "location_update", "latitude": latitude, "longitude": PICKUP[1], "id": request_id}
        return json.dumps(message if recorded_at is None else {**message, "recorded_at": recorded_at})

    async with websockets.connect(ws_uri(a.ws_url, passenger["access"])) as listening:
        await recv_type(listening, "connected")
        async with websockets.connect(ws_uri(a.ws_url, driver["access"])) as on_a:
            await recv_type(on_a, "connected")
            await on_a.send(position(3.871, "q-1"))
            assert (await recv_type(on_a, "ack"))["data"] == {"id": "q-1", "type": "location_update"}
            assert (await recv_type(listening, "driver_location_update"))["data"]["latitude"] == 3.871
        async with websockets.connect(ws_uri(b.ws_url, driver["access"])) as on_b:
            await recv_type(on_b, "connected")
            await on_b.send(position(3.875, "q-1"))  # applied on the other process already
            assert (await recv_type(on_b, "ack"))["data"] == {"id": "q-1", "type": "location_update"}
            await on_b.send(position(3.860, "q-0", recorded_at="2020-01-01T00:00:00Z"))  # older than the stored one
            assert (await recv_type(on_b, "ack"))["data"] == {"id": "q-0", "type": "location_update"}
            await assert_quiet(listening)
            me = await api.call("GET", "/drivers/me/", token=driver["access"])
            assert me["latitude"] == 3.871

            await on_b.send(position(3.872, "q-2"))  # new: taken
            assert (await recv_type(on_b, "ack"))["data"] == {"id": "q-2", "type": "location_update"}
            assert (await recv_type(listening, "driver_location_update"))["data"]["latitude"] == 3.872
