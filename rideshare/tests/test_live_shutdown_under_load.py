"""A server stopped (SIGTERM) while API requests are in flight exits at once. Before the API's
middleware ran on the event loop, the outermost sync middleware left threads waiting on the
stopped loop (asgiref's AsyncToSync) and the process never exited: kill -9 was the only way."""

import asyncio
import signal
import subprocess
import time

import pytest

from realtime.tests.servers import running_server

pytestmark = pytest.mark.live

CLIENTS = 32
WAIT = 20


async def keep_asking(port, path, stop, answered):
    """One keep-alive client sending GET `path` until `stop` is set or the server goes away;
    `answered` counts the answers of all clients (a one-element list)."""
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
            answered[0] += 1
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return
    finally:
        writer.close()


async def test_sigterm_with_api_requests_in_flight_exits_promptly(tmp_path):
    with running_server(tmp_path, "shutdown") as server:
        stop, answered = asyncio.Event(), [0]
        clients = [asyncio.create_task(keep_asking(server.port, "/api/v1/rides/not-a-ride/", stop, answered))
                   for _ in range(CLIENTS)]
        deadline = time.monotonic() + WAIT
        while answered[0] < 5 * CLIENTS:  # every client busy: requests in flight from here on
            assert time.monotonic() < deadline, f"{answered[0]} answers:\n{server.log()[-3000:]}"
            await asyncio.sleep(0.05)

        server.signal(signal.SIGTERM)
        signalled = time.monotonic()
        try:
            await asyncio.to_thread(server.process.wait, WAIT)
        except subprocess.TimeoutExpired:
            server.kill()
            pytest.fail(f"the server still runs {WAIT} s after SIGTERM:\n{server.log()[-3000:]}")
        stop.set()
        await asyncio.gather(*clients)
        assert time.monotonic() - signalled < 10
