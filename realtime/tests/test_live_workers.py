"""`python -m realtime.server --workers N`: N server processes on one port under one parent.

Which child serves a connection is read from the kernel (the accepted socket's inode in
/proc/net/tcp, then the child holding a descriptor on it), so no endpoint exists just for tests."""

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from .live_client import Api, assert_quiet, recv_type, ws_uri
from .live_ride import PICKUP, drive_ride
from .servers import REPO_ROOT, LiveDatabase, ServerProcess, child_pids, free_port, is_running, socket_owner

pytestmark = pytest.mark.live

needs_shared_backends = pytest.mark.skipif(
    not (os.environ.get("REDIS_URL") and os.environ.get("DATABASE_URL")),
    reason="several workers need PostgreSQL and Redis (set DATABASE_URL and REDIS_URL); runs in CI's second pass",
)
EXIT_WAIT = 15  # seconds the parent may take to stop its children and exit after SIGTERM
CONNECT_WAIT = 20  # seconds of opening sockets until the wanted child has accepted one (a restarted one listens ~2 s later)


def launcher(args, env, timeout=60):
    """`python -m realtime.server ARGS` to its end: the CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "realtime.server", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def embedded_env():
    return {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}


def test_several_workers_without_redis_and_postgresql_are_refused_in_one_line(tmp_path):
    env = dict(embedded_env(), SQLITE_PATH=str(tmp_path / "refused.sqlite3"))
    result = launcher(["--workers", "2", "-p", str(free_port()), "rideshare.asgi:application"], env)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "REDIS_URL" in lines[0] and "DATABASE_URL" in lines[0], result.stderr


def test_workers_that_cannot_start_make_the_parent_exit_non_zero():
    # Settings that name PostgreSQL and Redis are enough to pass the check (nothing connects
    # before the application loads); the application path does not exist.
    env = dict(embedded_env(), DATABASE_URL="postgres://nobody@127.0.0.1:9/none", REDIS_URL="redis://127.0.0.1:9/0")
    result = launcher(["--workers", "2", "-p", str(free_port()), "realtime.tests.no_such_module:application"], env)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "before it listened" in result.stderr, result.stderr[-2000:]


def test_a_port_in_use_is_refused_in_one_line():
    env = dict(embedded_env(), DATABASE_URL="postgres://nobody@127.0.0.1:9/none", REDIS_URL="redis://127.0.0.1:9/0")
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = launcher(["--workers", "2", "-p", str(port), "rideshare.asgi:application"], env)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0], result.stderr


@pytest.fixture
def database(tmp_path):
    database = LiveDatabase(tmp_path)
    yield database
    database.drop()


@pytest.fixture
def workers(database, tmp_path):
    """`--workers 2` on one free port; SIGKILLed with its children if a test leaves it running."""
    env = dict(os.environ, **database.env, CHANNEL_LAYER_PREFIX=f"workers-{uuid.uuid4().hex[:8]}",
               WS_MAX_CONNECTIONS_PER_USER="0")  # the tests open many sockets for the same user
    database.migrate(env)
    server = ServerProcess(env, tmp_path, extra_args=["--workers", "2"]).start()
    children = wait_for_children(server, 2)
    yield server, children
    leftovers = child_pids(server.process.pid) if server.process.poll() is None else []
    server.kill()
    for pid in leftovers:
        if is_running(pid):
            os.kill(pid, signal.SIGKILL)


def wait_for_children(server, count, without=(), timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        children = [pid for pid in child_pids(server.process.pid) if pid not in without]
        if len(children) == count:
            return children
        assert time.monotonic() < deadline, f"children {children}, wanted {count}:\n{server.log()[-3000:]}"
        time.sleep(0.05)


async def connect_served_by(server, user, children, wanted):
    """A live socket of `user` accepted by a child in `wanted`; sockets another child took are closed."""
    deadline = time.monotonic() + CONNECT_WAIT
    while time.monotonic() < deadline:
        websocket = await websockets.connect(ws_uri(server.ws_url, user["access"]))
        await recv_type(websocket, "connected")
        owner = socket_owner(server.port, websocket.local_address, children)
        if owner in wanted:
            return websocket, owner
        await websocket.close()
    pytest.fail(f"no socket accepted by {wanted} within {CONNECT_WAIT}s (children {children})")


async def closed_by_server(websocket, timeout):
    try:
        while True:
            await asyncio.wait_for(websocket.recv(), timeout)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    except asyncio.TimeoutError:
        pytest.fail(f"the socket was not closed within {timeout}s of SIGTERM")


@needs_shared_backends
async def test_two_workers_on_one_port_serve_a_ride_across_them_and_stop_together(workers):
    server, children = workers
    api = Api(server.base_url)
    passenger = await api.register("Workers Passenger")
    driver = await api.driver("Workers Driver", at=(PICKUP[0] + 0.002, PICKUP[1]))

    driver_ws, driver_child = await connect_served_by(server, driver, children, set(children))
    passenger_ws, passenger_child = await connect_served_by(server, passenger, children,
                                                            set(children) - {driver_child})
    try:
        assert {driver_child, passenger_child} == set(children)  # both children accept connections
        await drive_ride(api, passenger, driver, passenger_ws, driver_ws)
        await assert_quiet(passenger_ws)

        server.signal(signal.SIGTERM)
        codes = await asyncio.gather(closed_by_server(driver_ws, EXIT_WAIT), closed_by_server(passenger_ws, EXIT_WAIT))
        assert codes == [1001, 1001], f"close codes driver, passenger: {codes}"
        returncode = await asyncio.to_thread(server.process.wait, EXIT_WAIT)
        assert returncode == 0, server.log()[-3000:]
        assert not [pid for pid in children if is_running(pid)], "children left running after the parent exited"
    finally:
        await asyncio.gather(driver_ws.close(), passenger_ws.close())


@needs_shared_backends
async def test_a_worker_that_dies_is_restarted_and_serves_again(workers):
    server, children = workers
    api = Api(server.base_url)
    passenger = await api.register("Restart Passenger")

    os.kill(children[0], signal.SIGKILL)
    survivor = children[1]
    replacement = next(pid for pid in wait_for_children(server, 2, without=children[:1]) if pid != survivor)
    assert re.search(rf"worker \d \(pid {children[0]}\) exited unexpectedly", server.log()), server.log()[-3000:]

    websocket, owner = await connect_served_by(server, passenger, [survivor, replacement], {replacement})
    try:
        await assert_quiet(websocket)
    finally:
        await websocket.close()
    assert server.process.poll() is None


@needs_shared_backends
async def test_a_parent_killed_outright_takes_its_children_with_it(workers):
    server, children = workers
    server.kill()  # SIGKILL: no forwarding; each child was told to get SIGTERM when its parent dies
    deadline = time.monotonic() + EXIT_WAIT
    while running := [pid for pid in children if is_running(pid)]:
        assert time.monotonic() < deadline, f"children {running} still running {EXIT_WAIT}s after the parent died"
        await asyncio.sleep(0.05)


async def test_one_worker_is_the_server_process_itself(database, tmp_path):
    env = dict(os.environ, **database.env, CHANNEL_LAYER_PREFIX=f"workers-{uuid.uuid4().hex[:8]}")
    database.migrate(env)
    server = ServerProcess(env, tmp_path, extra_args=["--workers", "1"]).start()
    try:
        passenger = await Api(server.base_url).register("One Worker Passenger")
        async with websockets.connect(ws_uri(server.ws_url, passenger["access"])) as websocket:
            await recv_type(websocket, "connected")
            assert socket_owner(server.port, websocket.local_address, [server.process.pid]) == server.process.pid
        assert child_pids(server.process.pid) == []
    finally:
        server.stop()
