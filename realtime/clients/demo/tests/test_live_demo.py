"""`make run`'s demo city against a real server: the demo fleet inside it (DEMO_FLEET, as the
Makefile starts it), sped up (fast driving, quick answers, positions stale after 3 s instead of
2 minutes), and the README's own curl walk-through run as written."""

import asyncio
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import websockets

from realtime.serving.client import http_json
from realtime.tests.live_client import recv, recv_type, ws_uri
from realtime.tests.servers import REPO_ROOT, LiveDatabase, ServerProcess, free_port

pytestmark = pytest.mark.live

PASSWORD = "demo-pass-2026"
STALE_AFTER = 3  # DRIVER_POSITION_MAX_AGE_SECONDS here


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("demo")
    database = LiveDatabase(workdir)
    port = free_port()
    env = dict(
        os.environ, **database.env, CHANNEL_LAYER_PREFIX=f"demo-{uuid.uuid4().hex[:8]}",
        DEMO_FLEET="1", DEMO_AUTO_ACCEPT="1", DEMO_FLEET_URL=f"http://127.0.0.1:{port}",
        DEMO_FLEET_ACCEPT_SHARE="1", DEMO_FLEET_SECOND_WAVE_SHARE="0", DEMO_FLEET_ANSWER_SECONDS="0.2,0.5", DEMO_FLEET_TICK_SECONDS="0.3",
        DEMO_FLEET_SPEED_KMH="2000", DRIVER_POSITION_MAX_AGE_SECONDS=str(STALE_AFTER),
        RIDE_DISPATCH_IN_SERVER="true", LOCATION_FLUSH_SECONDS="0.2",
    )
    server = None
    try:
        database.migrate(env)
        subprocess.run([sys.executable, "manage.py", "seed_demo", "--reset"], cwd=REPO_ROOT, env=env,
                       check=True, capture_output=True, timeout=120)
        server = ServerProcess(env, workdir, port=port).start()
        yield server
    finally:
        if server is not None:
            server.stop()
        database.drop()


def _token(server, phone):
    status, body = http_json("POST", f"{server.base_url}/api/v1/auth/token/", {"phone_number": phone, "password": PASSWORD})
    assert status == 200, body
    return body["access"]


def _nearby(server, token):
    status, body = http_json(
        "GET", f"{server.base_url}/api/v1/drivers/nearby/?latitude=3.848&longitude=11.502&ride_type=moto", token=token
    )
    assert status == 200, body
    return {(d["latitude"], d["longitude"]) for d in body}  # positions only: no identities on that map


async def _next(app, event_type, timeout):
    """The next `event_type`, past the driver's positions (and anything else) before it."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (message := await recv(app, deadline - asyncio.get_running_loop().time()))["type"] != event_type:
        pass
    return message


async def _until(probe, timeout=20.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not (value := await asyncio.to_thread(probe)):
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.2)
    return value


async def test_the_fleet_keeps_drivers_online_moving_and_matchable_past_the_staleness_window(demo_server):
    token = _token(demo_server, "+237670000002")
    first = await _until(lambda: (found := _nearby(demo_server, token)) and len(found) >= 5 and found)
    await asyncio.sleep(STALE_AFTER + 1)  # every position seeded at start is stale by now
    later = _nearby(demo_server, token)
    assert len(later) >= 5
    assert later - first, "nobody moved"


async def test_a_passengers_ride_is_accepted_and_driven_to_the_end_by_the_fleet(demo_server):
    token = _token(demo_server, "+237670000002")
    async with websockets.connect(ws_uri(demo_server.ws_url, token)) as app:
        await recv_type(app, "connected")
        status, ride = http_json("POST", f"{demo_server.base_url}/api/v1/rides/", {
            "ride_type": "moto", "pickup_latitude": 3.848, "pickup_longitude": 11.502,
            "dropoff_latitude": 3.856, "dropoff_longitude": 11.510,
        }, token=token)
        assert status == 201, ride
        accepted = await _next(app, "ride_accepted", timeout=20)
        assert accepted["data"]["ride_id"] == ride["ride_id"]
        moving = await _next(app, "driver_location_update", timeout=20)
        assert moving["data"]["driver_id"] == accepted["data"]["driver_id"]
        for event in ("driver_arrived", "ride_started", "ride_completed"):
            message = await _next(app, event, timeout=30)
            assert message["data"]["ride_id"] == ride["ride_id"]


def _walk_through():
    """The README's "A ride with curl" block, as written, pointed at `$API`."""
    readme = (Path(REPO_ROOT) / "README.md").read_text()
    block = re.search(r"## A ride with curl\n+```bash\n(.*?)```", readme, re.S).group(1)
    assert block.startswith("API=http://127.0.0.1:8000/api/v1\n")
    return block.replace("API=http://127.0.0.1:8000/api/v1", 'API="$TEST_API"', 1)


def test_the_readme_walk_through_succeeds_three_times_in_a_row(demo_server):
    script = _walk_through()
    for attempt in range(3):
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script], env=dict(os.environ, TEST_API=f"{demo_server.base_url}/api/v1"),
            capture_output=True, text=True, timeout=60,
        )
        assert result.returncode == 0, (attempt, result.stdout, result.stderr)
        last = result.stdout.strip().splitlines()[-1]
        assert '"status":"completed"' in last, (attempt, result.stdout)
        assert '"code"' not in result.stdout, (attempt, result.stdout)  # no step answered with an error
