"""Never miss an event, against real server processes (`python -m realtime.server`): reconnects,
a killed server, a process that died before publishing, token expiry, dead and slow clients."""

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from base64 import b64encode
from contextlib import AsyncExitStack

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from .live_client import Api, assert_quiet, recv, recv_type, ws_uri
from .servers import REPO_ROOT, LiveDatabase, RedisProcess, ServerProcess

pytestmark = pytest.mark.live

PICKUP = (3.848, 11.502)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("reliability")


@pytest.fixture(scope="module")
def database(workdir):
    database = LiveDatabase(workdir)
    database.migrate(server_env(database))
    yield database
    database.drop()


def server_env(database, **extra):
    env = dict(os.environ, **database.env, CHANNEL_LAYER_PREFIX=f"live-{uuid.uuid4().hex[:8]}")
    env.update({k: str(v) for k, v in extra.items()})
    return env


@pytest.fixture(scope="module")
def server(database, workdir):
    # Short pings so a vanished client is noticed within seconds instead of 50, and a driver it
    # dropped goes offline a second later instead of after the default grace (5 s).
    env = server_env(database, DRIVER_OFFLINE_GRACE_SECONDS=1)
    process = ServerProcess(env, workdir, extra_args=["--ping-interval", "1", "--ping-timeout", "2"]).start()
    yield process
    process.stop()


@pytest.fixture
def api(server):
    return Api(server.base_url)


async def ride_in_progress(api):
    """A passenger and a driver with an accepted moto ride; returns (passenger, driver, ride_id)."""
    passenger = await api.register("Reliable Passenger")
    driver = await api.driver("Reliable Driver", at=(PICKUP[0] + 0.002, PICKUP[1]))
    ride = await api.request_ride(passenger)
    await api.step(ride["ride_id"], "accept", driver)
    return passenger, driver, ride["ride_id"]


def run_in_a_process_that_dies_before_publishing(server, code):
    """Run `code` in a separate Django process whose publish step never happens (as if it was
    killed right after its transaction committed); returns what it printed."""
    prelude = "from realtime.delivery import eventlog; eventlog.publish = lambda *args: False; "
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", prelude + code],
        cwd=REPO_ROOT, env=server.env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


RELAY_WAIT = 20  # seconds the relay may take to publish an orphaned event (rounds of ~2 s + grace)


async def wait_until_published(database, *event_ids, timeout=RELAY_WAIT):
    """Until the outbox says each of `event_ids` was handed to the channel layer (`published_at`
    set, which happens after the send): the relay's own progress, however slow its rounds."""
    ids = sorted({int(event_id) for event_id in event_ids})
    sql = f"SELECT id FROM realtime_event WHERE published_at IS NULL AND id IN ({', '.join(map(str, ids))})"
    deadline = time.monotonic() + timeout
    while unpublished := await asyncio.to_thread(database.query, sql):
        assert time.monotonic() < deadline, f"events {sorted(row[0] for row in unpublished)} never published"
        await asyncio.sleep(0.1)


def orphaned_probe_code(driver_user_id):
    """A reliable event for the (unconnected) driver, committed and never published, dated before
    the relay's grace so that its next round takes it; prints its id."""
    return (
        "from datetime import timedelta; from django.utils import timezone; from realtime.delivery import events; "
        "from realtime.models import Event; from drivers.models import Driver; "
        f"driver = Driver.objects.get(user_id='{driver_user_id}'); "
        "event = eventlog.record(events.driver_availability_changed(driver), user_ids=[driver.user_id]); "
        "Event.objects.filter(pk=event.pk).update(created_at=timezone.now() - timedelta(minutes=1)); "
        "print(event.pk)"
    )


async def wait_for_a_later_relay_round(server, database, driver_user_id):
    """Until a relay round that started after everything published so far has run: an orphaned
    probe event committed now is published only by such a round, which would also have re-sent
    anything the relay wrongly sends twice."""
    output = await asyncio.to_thread(run_in_a_process_that_dies_before_publishing, server, orphaned_probe_code(driver_user_id))
    await wait_until_published(database, output.split()[-1])


def arrive_code(ride_id, driver_id):
    return (
        "from rides import services; from rideshare.accounts.models import User; "
        f"services.mark_arrived(ride_id='{ride_id}', user=User.objects.get(pk='{driver_id}'))"
    )


async def test_a_passenger_away_mid_ride_gets_exactly_the_missed_events_in_order_then_live(server, api):
    passenger, driver, ride_id = await ride_in_progress(api)
    async with websockets.connect(ws_uri(server.ws_url, passenger["access"])) as websocket:
        connected = await recv_type(websocket, "connected")
        last_seen = connected["data"]["last_event_id"]  # ride_accepted
        assert last_seen > 0

    # Away (tunnel): the driver arrives and starts the ride.
    await api.step(ride_id, "arrived", driver)
    await api.step(ride_id, "start", driver)

    async with websockets.connect(ws_uri(server.ws_url, passenger["access"], last_event_id=last_seen)) as websocket:
        await recv_type(websocket, "connected")
        arrived = await recv_type(websocket, "driver_arrived")
        started = await recv_type(websocket, "ride_started")
        assert last_seen < arrived["id"] < started["id"]
        position = await recv_type(websocket, "driver_location_update")  # where the driver is now
        assert "id" not in position and position["data"]["ride_id"] == ride_id
        await api.step(ride_id, "complete", driver)
        completed = await recv_type(websocket, "ride_completed")
        assert completed["id"] > started["id"]
        await assert_quiet(websocket)


async def test_an_event_whose_process_died_before_publishing_reaches_connected_clients_within_seconds(
    server, database, api
):
    passenger, driver, ride_id = await ride_in_progress(api)
    async with websockets.connect(ws_uri(server.ws_url, passenger["access"])) as websocket:
        await recv_type(websocket, "connected")
        began = time.monotonic()
        await asyncio.to_thread(run_in_a_process_that_dies_before_publishing, server, arrive_code(ride_id, driver["id"]))
        arrived = await recv_type(websocket, "driver_arrived", timeout=10)
        assert time.monotonic() - began < 8
        assert arrived["data"]["ride_id"] == ride_id
        await wait_until_published(database, arrived["id"])
        await wait_for_a_later_relay_round(server, database, driver["id"])  # it must not come twice
        await assert_quiet(websocket)


async def test_a_killed_server_restarts_and_resuming_apps_lose_nothing(database, workdir):
    env = server_env(database)
    first = ServerProcess(env, workdir).start()
    api = Api(first.base_url)
    try:
        passenger, driver, ride_id = await ride_in_progress(api)
        async with AsyncExitStack() as stack:
            websocket = await stack.enter_async_context(websockets.connect(ws_uri(first.ws_url, passenger["access"])))
            last_seen = (await recv_type(websocket, "connected"))["data"]["last_event_id"]
            # Committed, then the process dies before it hands the event on; then the server dies.
            await asyncio.to_thread(run_in_a_process_that_dies_before_publishing, first, arrive_code(ride_id, driver["id"]))
            first.kill()
            with pytest.raises(ConnectionClosed):
                while True:
                    await recv(websocket, timeout=10)
    finally:
        first.kill()

    second = ServerProcess(env, workdir, port=first.port).start()
    try:
        await Api(second.base_url).step(ride_id, "start", driver)
        async with websockets.connect(ws_uri(second.ws_url, passenger["access"], last_event_id=last_seen)) as websocket:
            await recv_type(websocket, "connected")
            arrived = await recv_type(websocket, "driver_arrived")
            started = await recv_type(websocket, "ride_started")
            assert last_seen < arrived["id"] < started["id"]
            await recv_type(websocket, "driver_location_update")
            # The relay publishes the orphaned arrival (replayed above from the log): not twice.
            await wait_until_published(database, arrived["id"])
            await assert_quiet(websocket)
    finally:
        second.stop()


def access_token_expiring_in(user_id, seconds):
    import jwt
    from django.conf import settings

    now = int(time.time())
    claims = {"token_type": "access", "user_id": user_id, "jti": uuid.uuid4().hex, "iat": now, "exp": now + seconds}
    return jwt.encode(claims, settings.SECRET_KEY, algorithm="HS256")


async def test_token_expiry_closes_with_4002_and_refresh_then_resume_loses_nothing(server, api):
    passenger, driver, ride_id = await ride_in_progress(api)
    short = access_token_expiring_in(passenger["id"], 3)
    async with websockets.connect(ws_uri(server.ws_url, short)) as websocket:
        last_seen = (await recv_type(websocket, "connected"))["data"]["last_event_id"]
        error = await recv_type(websocket, "error", timeout=6)
        assert error["data"]["code"] == "token_expired"
        with pytest.raises(ConnectionClosed) as closed:
            await recv(websocket)
        assert closed.value.rcvd.code == 4002

    await api.step(ride_id, "arrived", driver)  # while the app refreshes its token
    tokens = await api.call("POST", "/auth/token/refresh/", {"refresh": passenger["refresh"]})
    async with websockets.connect(ws_uri(server.ws_url, tokens["access"], last_event_id=last_seen)) as websocket:
        await recv_type(websocket, "connected")
        assert (await recv_type(websocket, "driver_arrived"))["id"] > last_seen


CLIENT_THAT_FREEZES = """
import asyncio, json, sys, websockets
async def main():
    async with websockets.connect(sys.argv[1], ping_interval=None) as ws:
        await ws.recv()
        print("connected", flush=True)
        await asyncio.sleep(3600)
asyncio.run(main())
"""


async def test_a_vanished_phone_is_dropped_and_its_driver_goes_offline(server, api):
    driver = await api.driver("Tunnel Driver", at=PICKUP)
    client = subprocess.Popen(
        [sys.executable, "-c", CLIENT_THAT_FREEZES, ws_uri(server.ws_url, driver["access"])],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert (await asyncio.to_thread(client.stdout.readline)).strip() == "connected"
        await api.call("POST", "/drivers/me/online/", token=driver["access"])
        client.send_signal(signal.SIGSTOP)  # the phone is gone: no close, no pong
        deadline = time.monotonic() + 15
        while (await api.call("GET", "/drivers/me/", token=driver["access"]))["is_online"]:
            assert time.monotonic() < deadline, "the dead connection was never noticed"
            await asyncio.sleep(0.25)
    finally:
        client.kill()
        client.wait()


async def test_sigterm_closes_every_socket_with_1001(database, workdir):
    process = ServerProcess(server_env(database), workdir).start()
    try:
        api = Api(process.base_url)
        user = await api.register("Deploy Watcher")
        async with websockets.connect(ws_uri(process.ws_url, user["access"])) as websocket:
            await recv_type(websocket, "connected")
            process.signal(signal.SIGTERM)
            with pytest.raises(ConnectionClosed) as closed:
                await recv(websocket)
            assert closed.value.rcvd.code == 1001
        assert process.process.wait(timeout=10) is not None
    finally:
        process.stop()


def raw_socket_that_never_reads(port, token):
    """A WebSocket handshake on a socket with a tiny receive buffer, after which nothing is read."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = b64encode(os.urandom(16)).decode()
    sock.sendall(
        (f"GET /api/v1/ws/connect?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
         f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(1)
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


async def test_a_client_that_stops_reading_is_closed_with_4009_and_others_are_not_slowed(database, workdir):
    env = server_env(
        database, WS_MAX_BUFFERED_BYTES=8 * 1024, WS_LATEST_WINS_BUFFER_BYTES=2 * 1024, WS_SOCKET_SEND_BUFFER_BYTES=4096,
        DRIVER_OFFLINE_GRACE_SECONDS=0.5,  # the offers it counts are those before the clean-up, not the grace's
    )
    process = ServerProcess(env, workdir).start()
    try:
        api = Api(process.base_url)
        driver = await api.driver("Flooded Driver", at=PICKUP)
        bystander = await api.register("Bystander")
        sock = await asyncio.to_thread(raw_socket_that_never_reads, process.port, driver["access"])
        try:
            async with websockets.connect(ws_uri(process.ws_url, bystander["access"])) as websocket:
                await recv_type(websocket, "connected")
                # Each availability change is a reliable event (~200 bytes) for the driver's socket,
                # which reads nothing: ~300 of them are far more than its buffers may hold.
                for i in range(300):
                    await api.call("POST", f"/drivers/me/{'offline' if i % 2 == 0 else 'online'}/", token=driver["access"])
                began = time.monotonic()
                await websocket.send(json.dumps({"type": "ping"}))
                await recv_type(websocket, "pong")
                assert time.monotonic() - began < 0.5
            # Reading now, the stalled client finds its stream ended by the server.
            ended_with = await asyncio.to_thread(read_until_closed, sock)
            assert ended_with in ("close 4009", "reset")
        finally:
            sock.close()
    finally:
        process.stop()


def read_until_closed(sock):
    """Read everything the server left for the socket: how did the stream end?"""
    sock.settimeout(5)
    tail = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return "close 4009" if b"\x88" in tail and b"\x0f\xa9" in tail else "eof"
            tail = (tail + chunk)[-512:]
    except ConnectionResetError:
        return "reset"
    except (TimeoutError, socket.timeout):
        return "still open"


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (set REDIS_URL); runs in CI's second pass")
async def test_redis_restarting_mid_ride_loses_no_event(database, workdir):
    if not RedisProcess.available():
        pytest.fail("redis-server is not installed")
    redis = RedisProcess().start()
    process = ServerProcess(server_env(database, REDIS_URL=redis.url), workdir).start()
    try:
        api = Api(process.base_url)
        passenger, driver, ride_id = await ride_in_progress(api)
        async with AsyncExitStack() as stack:
            websocket = await stack.enter_async_context(websockets.connect(ws_uri(process.ws_url, passenger["access"])))
            last_seen = (await recv_type(websocket, "connected"))["data"]["last_event_id"]
            redis.stop()
            await api.step(ride_id, "arrived", driver)  # committed while Redis is down
            redis.start()
        # The app reconnects (with backoff) and resumes; the server recovered on its own.
        deadline = time.monotonic() + 20
        while True:
            try:
                async with websockets.connect(ws_uri(process.ws_url, passenger["access"], last_event_id=last_seen)) as ws:
                    await recv_type(ws, "connected")
                    arrived = await recv_type(ws, "driver_arrived")
                    assert arrived["id"] > last_seen
                    await api.step(ride_id, "start", driver)
                    await recv_type(ws, "driver_location_update")
                    await recv_type(ws, "ride_started")
                    break
            except (ConnectionClosed, OSError, asyncio.TimeoutError):
                assert time.monotonic() < deadline, process.log()[-3000:]
                await asyncio.sleep(0.5)
    finally:
        process.stop()
        redis.stop()


async def test_no_access_token_appears_in_any_server_log_line(database, workdir):
    """JSON logs from a real server that saw tokens in query strings, headers and failures."""
    process = ServerProcess(server_env(database, LOG_FORMAT="json", LOG_LEVEL="DEBUG"), workdir).start()
    try:
        api = Api(process.base_url)
        user = await api.register("Log Watcher")
        tokens = [user["access"], user["refresh"]]
        async with websockets.connect(ws_uri(process.ws_url, user["access"], last_event_id=0)) as websocket:
            await recv_type(websocket, "connected")
            await websocket.send("not json")
            await recv_type(websocket, "error")
        for bad in (user["refresh"], user["access"][:-4] + "abcd"):  # refused: 4001
            async with websockets.connect(ws_uri(process.ws_url, bad)) as websocket:
                with pytest.raises(ConnectionClosed):
                    await recv(websocket)
        await api.call("GET", "/rides/00000000-0000-0000-0000-000000000000/", token=user["access"], expect=404)
        await api.call("GET", f"/rides/?token={user['access']}", token=user["access"])
        await api.call("POST", "/auth/token/refresh/", {"refresh": user["refresh"]})
    finally:
        process.stop()
    log = process.log()
    lines = [line for line in log.splitlines() if line.startswith("{")]
    assert any('"rideshare.access"' in line and "/api/v1/ws/connect" in line for line in lines), log[-2000:]
    for token in tokens:
        for part in token.split("."):
            assert part not in log, "an access or refresh token reached the log"
    assert "[redacted]" in log


async def metric(api, name):
    """A gauge of the server process, read from /metrics (open to 127.0.0.1)."""
    status, text = await asyncio.to_thread(http_text, f"{api.base_url}/metrics")
    assert status == 200, text[:300]
    for line in text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def http_text(url):
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode()


async def test_after_a_4009_close_the_next_send_ends_in_the_clean_up_and_leaves_no_ghost_driver(database, workdir):
    """After the slow-reader close the consumer's next send raises ("Attempt to send on a closed
    protocol"): the connection's clean-up still runs, so the driver is not left online for offers."""
    env = server_env(
        database, WS_MAX_BUFFERED_BYTES=8 * 1024, WS_LATEST_WINS_BUFFER_BYTES=2 * 1024, WS_SOCKET_SEND_BUFFER_BYTES=4096,
        DRIVER_OFFLINE_GRACE_SECONDS=0.5,  # the offers it counts are those before the clean-up, not the grace's
    )
    process = ServerProcess(env, workdir).start()
    try:
        api = Api(process.base_url)
        # Away from the other tests' drivers (this module shares one database): a wave goes to the
        # nearest few, and among drivers standing on the same spot which ones is arbitrary.
        alone = (PICKUP[0] + 0.03, PICKUP[1])
        driver = await api.driver("Ghost Driver", at=alone)
        passenger = await api.register("Flooding Passenger")
        sock = await asyncio.to_thread(raw_socket_that_never_reads, process.port, driver["access"])
        try:
            assert await metric(api, "rideshare_ws_open_connections") == 1
            # Each request and cancellation is an offer to the driver's socket, which reads nothing.
            offered = 0
            while (await api.call("GET", "/drivers/me/", token=driver["access"]))["is_online"]:
                assert offered < 300, "the driver stayed online: the dead connection was never cleaned up"
                ride = await api.request_ride(passenger, pickup=alone)
                await api.step(ride["ride_id"], "cancel", passenger)
                offered += 1
            assert offered > 20  # it went offline because its socket was closed, not before
            deadline = time.monotonic() + 10
            while await metric(api, "rideshare_ws_open_connections") != 0:
                assert time.monotonic() < deadline, "the socket is still counted"
                await asyncio.sleep(0.2)
        finally:
            sock.close()
    finally:
        process.stop()
    log = process.log()
    assert "Exception inside application" not in log, log[-3000:]
