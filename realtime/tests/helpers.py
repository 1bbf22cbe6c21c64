"""Helpers for the in-process WebSocket tests (channels' WebsocketCommunicator on the real ASGI app)."""

import asyncio
import json
import re
import uuid
from contextlib import asynccontextmanager
from datetime import datetime

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from rideshare.asgi import application
from rideshare.tests.factories import access_token_for

WS_PATH = "/api/v1/ws/connect"
RECEIVE_TIMEOUT = 3  # generous upper bound; a passing receive returns as soon as the frame is there
QUIET_TIMEOUT = 0.2  # how long "nothing arrives" is watched after the ping/pong barrier

ISO_UTC_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def db(fn):
    """Run an ORM/service callable from async test code: `await db(fn)(*args)`."""
    return database_sync_to_async(fn)


def communicator(token=None, *, path=WS_PATH, origin=None, query=None, host=None):
    if query is None:
        query = "" if token is None else f"token={token}"
    url = f"{path}?{query}" if query else path
    headers = [(b"origin", origin.encode())] if origin is not None else []
    if host is not None:
        headers.append((b"host", host.encode()))
    return WebsocketCommunicator(application, url, headers=headers)


async def open_socket(user, *, path=WS_PATH, origin=None):
    """Connect as `user` and consume the `connected` event; returns the communicator."""
    token = await db(access_token_for)(user)
    comm = communicator(token, path=path, origin=origin)
    connected, _ = await comm.connect(timeout=RECEIVE_TIMEOUT)
    assert connected, "handshake refused"
    first = await receive(comm)
    assert first["type"] == "connected", first
    return comm


@asynccontextmanager
async def socket(user, **kwargs):
    comm = await open_socket(user, **kwargs)
    try:
        yield comm
    finally:
        await comm.disconnect(timeout=RECEIVE_TIMEOUT)


async def receive(comm, timeout=RECEIVE_TIMEOUT):
    """The next text frame, decoded; fails on a close or a binary frame."""
    output = await comm.receive_output(timeout)
    assert output["type"] == "websocket.send", f"expected a frame, got {output}"
    assert output.get("text") is not None, f"expected a text frame, got {output}"
    return json.loads(output["text"])


async def receive_type(comm, event_type, timeout=RECEIVE_TIMEOUT):
    message = await receive(comm, timeout)
    assert message["type"] == event_type, f"expected {event_type}, got {message}"
    return message


async def receive_types(comm, event_types, timeout=RECEIVE_TIMEOUT):
    """Exactly len(event_types) frames, in any order, whose types are `event_types`."""
    messages = [await receive(comm, timeout) for _ in event_types]
    assert sorted(m["type"] for m in messages) == sorted(event_types), messages
    return {m["type"]: m for m in messages}


async def send(comm, message):
    await comm.send_to(text_data=json.dumps(message))


async def ping(comm, timestamp=None):
    message = {"type": "ping"}
    if timestamp is not None:
        message["timestamp"] = timestamp
    await send(comm, message)


async def assert_nothing_more(comm):
    """Nothing is pending for `comm`: a ping's pong is the very next frame, then silence.

    Call this after the action that would have produced the unwanted event has returned (a
    service call returns only after its on-commit publishes were handed to the channel layer).
    """
    marker = f"barrier-{uuid.uuid4().hex}"
    await ping(comm, marker)
    message = await receive(comm)
    assert message["type"] == "pong", f"expected pong, got {message}"
    assert message["data"]["timestamp"] == marker
    assert await comm.receive_nothing(timeout=QUIET_TIMEOUT), "unexpected extra frame"


async def expect_close(comm, code, timeout=RECEIVE_TIMEOUT):
    """The next output is a close with `code` (no event frame before it)."""
    output = await comm.receive_output(timeout)
    assert output["type"] == "websocket.close", f"expected close {code}, got {output}"
    assert output.get("code") == code, output


def assert_iso_utc(value):
    assert isinstance(value, str) and ISO_UTC_Z.match(value), f"not ISO-8601 UTC with Z: {value!r}"
    datetime.fromisoformat(value.replace("Z", "+00:00"))


def assert_uuid_str(value, expected=None):
    assert isinstance(value, str), f"not a string: {value!r}"
    assert str(uuid.UUID(value)) == value
    if expected is not None:
        assert value == str(expected)


def assert_envelope(message, event_type):
    assert message["type"] == event_type, message
    assert isinstance(message["data"], dict), message
    assert_iso_utc(message["timestamp"])
    if "id" in message:  # events may gain an integer id (event log)
        assert isinstance(message["id"], int) and not isinstance(message["id"], bool)
    return message["data"]


async def eventually(probe, timeout=3.0):
    """Poll the ORM callable `probe` until it returns something truthy (batched writes land
    within LOCATION_FLUSH_SECONDS)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await db(probe)()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.05)


async def eventually_true(condition, timeout=3.0):
    """Wait (on the loop) until the plain callable `condition` is true; returns its last value."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


def counted(user=None):
    """How many sockets presence counts in this process, of one user or of everybody; in the
    Redis mode the shared entries must say the same (tests write them at once)."""
    from realtime.presence import presence, shared_presence

    if user is None:
        local = len(presence.local.open)
    else:
        local = len(presence.local.by_user.get(user.pk, {}))
    if presence.shared():
        figures = shared_presence.figures()
        if user is None:
            assert figures["total_connections"] == local, (figures, local)
        else:
            assert len(shared_presence.client().hgetall(shared_presence._user(user.pk))) == local
    return local
