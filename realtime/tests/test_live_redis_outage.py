"""Redis away under a real server (REDIS_URL mode): what the apps and the operator see while it is.

Open sockets and the REST API carry on (test_live_reliability: nothing is lost across a restart).
Here: the staff figures answer 503 `presence_unavailable`, a new socket is accepted and closed with
1011 (reconnect with backoff: nothing could reach it without the channel layer), and the log says
so in two lines (unreachable, answers again), not a traceback per request, per handshake and per
background round.
"""

import asyncio
import os
import time
import urllib.request
import uuid

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from .live_client import Api, recv, recv_type, ws_uri
from .servers import LiveDatabase, RedisProcess, ServerProcess

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (set REDIS_URL); runs in CI's second pass"),
]

OUTAGE_WAIT = 20  # seconds for the background rounds to have met the outage (they run every 1-2 s)


@pytest.fixture
def redis_and_server(tmp_path):
    if not RedisProcess.available():
        pytest.fail("redis-server is not installed")
    database = LiveDatabase(tmp_path)
    redis = RedisProcess().start()
    env = dict(os.environ, **database.env, REDIS_URL=redis.url, CHANNEL_LAYER_PREFIX=f"outage-{uuid.uuid4().hex[:8]}",
               PRESENCE_REFRESH_SECONDS="1")
    server = None
    try:
        database.migrate(env)
        server = ServerProcess(env, tmp_path).start()
        yield redis, server, database
    finally:
        if server is not None:
            server.stop()
        redis.stop()
        database.drop()


def make_staff(database, user_id):
    stored_id = user_id if database.name else user_id.replace("-", "")  # SQLite keeps UUIDs as 32 hex digits
    assert database.query("UPDATE accounts_user SET is_staff = %s WHERE id = %s RETURNING id", (True, stored_id))


def redis_failures(server):
    """The server's count of Redis calls that found it unreachable (/metrics, from loopback)."""
    with urllib.request.urlopen(f"{server.base_url}/metrics", timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith("rideshare_redis_unreachable_total "):
                return float(line.split()[1])
    return 0.0


async def wait_for_failures(server, count):
    """Until the server's background rounds (presence sync and heartbeat, channels_redis's receive
    loop, each about every second) have met the outage again and again."""
    deadline = time.monotonic() + OUTAGE_WAIT
    while (failures := await asyncio.to_thread(redis_failures, server)) < count:
        assert time.monotonic() < deadline, f"{failures} failures:\n{server.log()[-4000:]}"
        await asyncio.sleep(0.2)


async def refused_with(uri):
    """The close code of a handshake the server accepts and closes before any event."""
    async with websockets.connect(uri) as websocket:
        with pytest.raises(ConnectionClosed) as closed:
            await recv(websocket)
    return closed.value.rcvd.code


async def test_redis_down_stats_answer_503_new_sockets_close_1011_and_the_log_has_no_traceback(redis_and_server):
    redis, server, database = redis_and_server
    api = Api(server.base_url)
    staff = await api.register("Ops")
    make_staff(database, staff["id"])
    driver = await api.driver("Still Connected", at=(3.848, 11.502))
    async with websockets.connect(ws_uri(server.ws_url, driver["access"])) as open_socket:
        await recv_type(open_socket, "connected")
        assert (await api.call("GET", "/ws/stats", token=staff["access"]))["total_connections"] == 1
        logged_before = len(server.log())

        redis.stop()
        body = await api.call("GET", "/ws/stats", token=staff["access"], expect=503)
        assert body["code"] == "presence_unavailable" and body["detail"]
        assert await refused_with(ws_uri(server.ws_url, staff["access"])) == 1011
        # The rest carries on: the open socket answers, REST changes state (its event's publish fails).
        await open_socket.send('{"type": "ping", "timestamp": "still here"}')
        assert (await recv_type(open_socket, "pong"))["data"]["timestamp"] == "still here"
        await api.call("POST", "/drivers/me/offline/", token=driver["access"])
        await wait_for_failures(server, 15)

        outage_log = server.log()[logged_before:]
        assert "Traceback" not in outage_log, outage_log[-6000:]
        assert outage_log.count("Redis unreachable") == 1, outage_log

    redis.start()
    deadline = time.monotonic() + OUTAGE_WAIT
    while True:  # the app's reconnect with backoff gets through once Redis is back
        try:
            async with websockets.connect(ws_uri(server.ws_url, staff["access"])) as websocket:
                await recv_type(websocket, "connected")
                # Counted again once the next presence rounds rewrote this process's entries.
                while (await api.call("GET", "/ws/stats", token=staff["access"]))["total_connections"] != 1:
                    assert time.monotonic() < deadline, server.log()[-4000:]
                    await asyncio.sleep(0.2)
                break
        except (ConnectionClosed, OSError, asyncio.TimeoutError):
            assert time.monotonic() < deadline, server.log()[-4000:]
            await asyncio.sleep(0.5)
    assert "Redis answers again" in server.log()[logged_before:]
