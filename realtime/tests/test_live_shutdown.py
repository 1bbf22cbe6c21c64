"""SIGTERM against real server processes, plain `daphne` and the launcher `python -m realtime.server`:
the process exits within seconds whether the apps have just left or are still connected."""

import asyncio
import json
import os
import signal
import time
import uuid

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from .live_client import Api, recv, recv_type, ws_uri
from .servers import LiveDatabase, ServerProcess

pytestmark = pytest.mark.live

EXIT_WAIT = 10  # seconds a SIGTERMed process may take to exit
REPETITIONS = 5
# The window: the sockets have just closed and their disconnect handlers are running. Spread
# over 5-20 ms because where the window falls depends on the machine's speed (on the machine this
# was written on, 5 ms hit the shutdown hang nearly every time, 15 ms seldom).
SIGTERM_DELAYS_MS = [5, 7, 10, 14, 20]
KINDS = {"daphne": "daphne", "launcher": "realtime.server"}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("shutdown")


@pytest.fixture(scope="module")
def database(workdir):
    database = LiveDatabase(workdir)
    database.migrate(server_env(database))
    yield database
    database.drop()


def server_env(database):
    return dict(os.environ, **database.env, CHANNEL_LAYER_PREFIX=f"shutdown-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")
def accounts(database, workdir):
    """A driver and a passenger, registered once through a server that is stopped again: every
    repetition then only starts its own process, whose tokens are valid (same secret)."""
    server = ServerProcess(server_env(database), workdir, module="daphne").start()
    try:
        api = Api(server.base_url)

        async def register():
            driver = await api.register("Shutdown Driver", {"vehicle_type": "moto", "vehicle_plate": "SD-101-MO",
                                                            "vehicle_color": "Blue"})
            return driver, await api.register("Shutdown Passenger")

        driver, passenger = asyncio.run(register())
    finally:
        server.stop()
    return {"driver": driver, "passenger": passenger}


@pytest.fixture
def start_server(database, workdir):
    """Starts fresh server processes; any still running at teardown is SIGKILLed."""
    started = []

    def start(kind):
        server = ServerProcess(server_env(database), workdir, module=KINDS[kind])
        server.log_path = workdir / f"server-{kind}-{uuid.uuid4().hex[:8]}.log"  # one log per process
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.kill()


async def wait_for_exit(server, timeout=EXIT_WAIT):
    """The process's exit code, or None if it is still running after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while server.process.poll() is None:
        if time.monotonic() > deadline:
            return None
        await asyncio.sleep(0.02)
    return server.process.returncode


def hang_message(server, what):
    tail = "\n".join(server.log().splitlines()[-30:])
    return (f"{server.module} (pid {server.process.pid}) did not exit within {EXIT_WAIT}s of SIGTERM {what}; "
            f"it will be SIGKILLed. Last server log lines:\n{tail}")


async def connect_driver_online(server, driver):
    websocket = await websockets.connect(ws_uri(server.ws_url, driver["access"]))
    await recv_type(websocket, "connected")
    await websocket.send(json.dumps({"type": "driver_online"}))
    while True:  # driver_availability_changed may come first
        message = await recv(websocket)
        assert message["type"] != "error", message
        if message["type"] == "driver_status":
            assert message["data"]["is_online"] is True, message
            return websocket


async def connect_passenger(server, passenger):
    websocket = await websockets.connect(ws_uri(server.ws_url, passenger["access"]))
    await recv_type(websocket, "connected")
    return websocket


@pytest.mark.parametrize("attempt", range(REPETITIONS))
@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_sigterm_just_after_the_sockets_closed_exits(kind, attempt, accounts, start_server):
    server = start_server(kind)
    driver_ws = await connect_driver_online(server, accounts["driver"])
    passenger_ws = await connect_passenger(server, accounts["passenger"])

    await asyncio.gather(driver_ws.close(), passenger_ws.close())
    delay_ms = SIGTERM_DELAYS_MS[attempt % len(SIGTERM_DELAYS_MS)]
    await asyncio.sleep(delay_ms / 1000)  # the few milliseconds that are the scenario
    server.signal(signal.SIGTERM)

    returncode = await wait_for_exit(server)
    assert returncode is not None, hang_message(server, f"sent {delay_ms} ms after both sockets closed")


async def closed_by_server(websocket, deadline):
    """Reads until the server ends the connection; the ConnectionClosed it ended with."""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            pytest.fail("the server did not close the socket after SIGTERM")
        try:
            await asyncio.wait_for(websocket.recv(), remaining)
        except ConnectionClosed as closed:
            return closed
        except asyncio.TimeoutError:
            pytest.fail(f"the server did not close the socket within {EXIT_WAIT}s of SIGTERM")


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_sigterm_with_sockets_open_closes_them_and_exits(kind, accounts, start_server):
    server = start_server(kind)
    driver_ws = await connect_driver_online(server, accounts["driver"])
    passenger_ws = await connect_passenger(server, accounts["passenger"])
    try:
        server.signal(signal.SIGTERM)
        deadline = time.monotonic() + EXIT_WAIT
        closes = await asyncio.gather(closed_by_server(driver_ws, deadline), closed_by_server(passenger_ws, deadline))
        if kind == "launcher":
            codes = [closed.rcvd.code if closed.rcvd else None for closed in closes]
            assert codes == [1001, 1001], f"close frames received by driver, passenger: {codes}"
        returncode = await wait_for_exit(server, max(0.0, deadline - time.monotonic()))
        assert returncode is not None, hang_message(server, "with a driver and a passenger connected")
    finally:
        await asyncio.gather(driver_ws.close(), passenger_ws.close())
