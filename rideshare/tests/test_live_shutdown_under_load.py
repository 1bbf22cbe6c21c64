"""A server stopped (SIGTERM) while API requests are in flight exits at once. Before the API's
middleware ran on the event loop, the outermost sync middleware left threads waiting on the
stopped loop (asgiref's AsyncToSync) and the process never exited: kill -9 was the only way."""

import asyncio
import os
import signal
import subprocess
import time
import uuid

import pytest

from realtime.tests.servers import LiveDatabase, ServerProcess

pytestmark = pytest.mark.live

CLIENTS = 32


async def keep_asking(port, path, stop):
    """One keep-alive client sending GET `path` until `stop` is set or the server goes away."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: application/json\r\n\r\n".encode()
    try:
        while not stop.is_set():
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            await reader.readexactly(length)
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return
    finally:
        writer.close()


async def test_sigterm_with_api_requests_in_flight_exits_promptly(tmp_path):
    database = LiveDatabase(tmp_path)
    env = dict(os.environ, **database.env, CHANNEL_LAYER_PREFIX=f"live-{uuid.uuid4().hex[:8]}")
    server = None
    try:
        database.migrate(env)
        server = ServerProcess(env, tmp_path).start()
        stop = asyncio.Event()
        clients = [asyncio.create_task(keep_asking(server.port, "/api/v1/rides/not-a-ride/", stop))
                   for _ in range(CLIENTS)]
        await asyncio.sleep(1.5)  # requests in flight all the time from here on

        server.signal(signal.SIGTERM)
        signalled = time.monotonic()
        try:
            await asyncio.to_thread(server.process.wait, 20)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the server still runs 20 s after SIGTERM:\n{server.log()[-3000:]}")
        stop.set()
        await asyncio.gather(*clients)
        assert time.monotonic() - signalled < 10
    finally:
        if server is not None:
            server.kill()
        database.drop()
