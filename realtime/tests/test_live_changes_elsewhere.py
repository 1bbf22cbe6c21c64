"""Changes made by another process against a real server's database reach its live sockets: on
the embedded default (SQLite + in-process layer) through the outbox relay and the presence job,
with Redis at once. A `manage.py expire_rides` or `manage.py shell` run while a socket is open."""

import asyncio
import os
import subprocess
import sys
import uuid

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from .live_client import Api, recv, recv_type, ws_uri
from .servers import REPO_ROOT, LiveDatabase, ServerProcess

pytestmark = pytest.mark.live

# The relay's round plus its grace, or the presence job's heartbeat, with room for a slow machine.
WITHIN = 15


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("elsewhere")


@pytest.fixture(scope="module")
def server(workdir):
    database = LiveDatabase(workdir)
    env = dict(os.environ, **database.env, CHANNEL_LAYER_PREFIX=f"live-{uuid.uuid4().hex[:8]}",
               PRESENCE_REFRESH_SECONDS="1", EVENT_RELAY_INTERVAL_SECONDS="0.5", EVENT_RELAY_GRACE_SECONDS="1")
    database.migrate(env)
    process = ServerProcess(env, workdir).start()
    yield process
    process.stop()
    database.drop()


@pytest.fixture
def api(server):
    return Api(server.base_url)


def manage(server, *args):
    """`manage.py ARGS` in its own process, against the server's database and settings."""
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO_ROOT, env=server.env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


async def test_a_request_expired_by_the_command_reaches_the_passengers_socket(server, api):
    passenger = await api.register("Waiting Passenger")
    ride = await api.request_ride(passenger)
    async with websockets.connect(ws_uri(server.ws_url, passenger["access"])) as websocket:
        await recv_type(websocket, "connected")
        await asyncio.sleep(1.1)  # the scenario: the request must be older than --older-than 1s
        output = await asyncio.to_thread(manage, server, "expire_rides", "--older-than", "1s")
        assert f"Cancelled ride {ride['ride_id']}" in output
        cancelled = await recv_type(websocket, "ride_cancelled", timeout=WITHIN)
        assert cancelled["data"]["ride_id"] == ride["ride_id"]
        assert (cancelled["data"]["cancelled_by"], cancelled["data"]["reason"]) == ("system", "no_driver_found")


@pytest.mark.parametrize("how, reason", [("deactivated", "account_disabled"), ("deleted", "account_deleted")])
async def test_an_account_removed_from_the_shell_loses_its_socket(server, api, how, reason):
    user = await api.register("Removed User")
    change = "user.is_active = False; user.save()" if how == "deactivated" else "user.delete()"
    code = f"from rideshare.accounts.models import User; user = User.objects.get(pk='{user['id']}'); {change}"
    async with websockets.connect(ws_uri(server.ws_url, user["access"])) as websocket:
        await recv_type(websocket, "connected")
        await asyncio.to_thread(manage, server, "shell", "-c", code)
        error = await recv_type(websocket, "error", timeout=WITHIN)
        assert error["data"]["code"] == reason
        with pytest.raises(ConnectionClosed) as closed:
            await recv(websocket)
        assert closed.value.rcvd.code == 4003
    # An absence is watched over a window: two more heartbeats (PRESENCE_REFRESH_SECONDS=1 here)
    # with the removed user's socket gone must not fail.
    await asyncio.sleep(2)
    assert "background job presence failed" not in server.log(), server.log()[-3000:]


async def test_a_driver_deactivated_from_the_shell_mid_trip_frees_the_passenger(server, api):
    passenger = await api.register("Stranded Passenger")
    driver = await api.driver("Deactivated Driver", at=(3.850, 11.502))
    ride = await api.request_ride(passenger)
    for step in ("accept", "arrived", "start"):
        await api.step(ride["ride_id"], step, driver)
    code = ("from rideshare.accounts.models import User; "
            f"user = User.objects.get(pk='{driver['id']}'); user.is_active = False; user.save()")
    async with websockets.connect(ws_uri(server.ws_url, passenger["access"])) as websocket:
        await recv_type(websocket, "connected")
        await asyncio.to_thread(manage, server, "shell", "-c", code)
        while (message := await recv(websocket, timeout=WITHIN))["type"] == "driver_location_update":
            pass
        assert message["type"] == "ride_cancelled", message
        assert (message["data"]["cancelled_by"], message["data"]["reason"]) == ("admin", "account_disabled")
    await api.request_ride(passenger)  # 201: not locked out
