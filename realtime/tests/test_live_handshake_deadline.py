"""A handshake has `--websocket_connect_timeout` (30 s) to arrive, however slowly it is sent.

Raw sockets against a real `python -m realtime.server` with the deadline lowered to 2 s: a
connection that sends nothing, half a handshake, or half a handshake one byte at a time (each byte
restarts Twisted's own 60 s idle timeout) is dropped once the deadline passes. What completed its
request in time is not: an open socket, an idle keep-alive HTTP connection.
"""

import asyncio
import json
import os
import socket
import time

import pytest
import websockets

from realtime.serving.server import FleetCommandLineInterface

from .live_client import Api, recv_type, ws_uri
from .servers import LiveDatabase, ServerProcess

pytestmark = pytest.mark.live

DEADLINE = 2  # seconds, the lowered --websocket_connect_timeout
CHECK_SLACK = 2.5  # dropped by this long after the deadline at the latest
HALF_HANDSHAKE = (
    b"GET /api/v1/ws/connect?token=x HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("handshake-deadline")
    database = LiveDatabase(workdir)
    env = dict(os.environ, **database.env)
    process = None
    try:
        database.migrate(env)
        process = ServerProcess(env, workdir, extra_args=["--websocket_connect_timeout", str(DEADLINE)]).start()
        yield process
    finally:
        if process is not None:
            process.stop()
        database.drop()


def seconds_until_dropped(connection, opened_at, trickle=b""):
    """How long after `opened_at` the server closed `connection`, sending it `trickle` a byte at a
    time meanwhile (one whenever half a second passes without the server closing)."""
    give_up = opened_at + 60
    while time.monotonic() < give_up:
        connection.settimeout(0.5)
        try:
            if connection.recv(1024) == b"":
                return time.monotonic() - opened_at
        except TimeoutError:
            if trickle:
                try:
                    connection.sendall(trickle[:1])
                except (ConnectionResetError, BrokenPipeError):  # dropped as this byte went out
                    return time.monotonic() - opened_at
                trickle = trickle[1:]
        except ConnectionResetError:
            return time.monotonic() - opened_at
    return None


def half_open(server, first_bytes):
    connection = socket.create_connection(("127.0.0.1", server.port))
    if first_bytes:
        connection.sendall(first_bytes)
    return connection, time.monotonic()


def http_get(connection, path):
    connection.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    connection.settimeout(10)
    return connection.recv(65536).split(b"\r\n", 1)[0]


async def test_a_handshake_not_all_there_by_the_deadline_is_dropped_and_the_rest_is_not(server):
    assert FleetCommandLineInterface().parser.parse_args(["app"]).websocket_connect_timeout == 30  # the default
    api = Api(server.base_url)
    user = await api.register("On Time")
    keep_alive = socket.create_connection(("127.0.0.1", server.port))
    assert http_get(keep_alive, "/healthz") == b"HTTP/1.1 200 OK"
    async with websockets.connect(ws_uri(server.ws_url, user["access"])) as open_socket:
        await recv_type(open_socket, "connected")

        silent = half_open(server, b"")
        half = half_open(server, HALF_HANDSHAKE)
        trickling = half_open(server, HALF_HANDSHAKE[:20])
        dropped_after = await asyncio.gather(
            asyncio.to_thread(seconds_until_dropped, *silent),
            asyncio.to_thread(seconds_until_dropped, *half),
            asyncio.to_thread(seconds_until_dropped, *trickling, trickle=HALF_HANDSHAKE[20:]),
        )
        for seconds in dropped_after:
            assert seconds is not None and DEADLINE - 0.5 <= seconds <= DEADLINE + CHECK_SLACK, dropped_after

        # Past the deadline, what completed its request in time carries on.
        await open_socket.send(json.dumps({"type": "ping", "timestamp": "after the deadline"}))
        assert (await recv_type(open_socket, "pong"))["data"]["timestamp"] == "after the deadline"
    assert http_get(keep_alive, "/healthz") == b"HTTP/1.1 200 OK"
    keep_alive.close()
    for connection, _ in (silent, half, trickling):
        connection.close()
