"""The bench's server processes: the bare consumer baseline accepts the project's tokens and only
those, and a launcher that refuses --workers is reported as unsupported, not as a crash."""

import asyncio
import json
import os
import time

import pytest
from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from bench import servers

pytestmark = pytest.mark.live


def server_env():
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SQLITE_PATH")}
    # The same signing key as this test process: the baseline reads it through rideshare.settings.
    env.update({"SECRET_KEY": settings.SECRET_KEY, "JWT_SIGNING_KEY": settings.SIMPLE_JWT["SIGNING_KEY"],
                "DEBUG": "true"})
    return env


@pytest.fixture
def bare_consumer(tmp_path):
    server = servers.Server("bare_consumer", server_env(), tmp_path / "servers.log").start()
    yield server
    server.stop()


def token_for(user_id):
    token = AccessToken()
    token["user_id"] = user_id
    return str(token)


async def first_frame(url):
    async with connect(url, open_timeout=20) as ws:
        return json.loads(await asyncio.wait_for(ws.recv(), 20))


async def test_the_bare_consumer_decodes_the_token_and_echoes_last_event_id(bare_consumer):
    base = f"{bare_consumer.ws_base}/api/v1/ws/connect?token={token_for(42)}"
    assert await first_frame(base) == {"type": "connected", "data": {"user_id": 42, "last_event_id": 0}}
    resumed = await first_frame(base + "&last_event_id=17")
    assert resumed["data"]["last_event_id"] == 17


async def test_the_bare_consumer_refuses_a_bad_token(bare_consumer):
    async with connect(f"{bare_consumer.ws_base}/api/v1/ws/connect?token=not-a-jwt", open_timeout=20) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 20)
    assert closed.value.rcvd.code == 4001


def test_a_launcher_without_workers_is_unsupported(tmp_path, monkeypatch):
    monkeypatch.setattr(servers, "SERVER_MODULE", "daphne")  # plain daphne has no --workers
    server = servers.Server("daphne", server_env(), tmp_path / "servers.log", workers=2)
    with pytest.raises(servers.Unsupported, match="unrecognized arguments"):
        server.start()
    server.stop()


def test_the_dispatcher_beside_a_redis_mode_server_runs_until_stopped_with_ctrl_c(tmp_path):
    log = tmp_path / "servers.log"
    env = dict(server_env(), SQLITE_PATH=str(tmp_path / "bench.sqlite3"), RIDE_DISPATCH_INTERVAL_SECONDS="0.2")
    dispatcher = servers.Dispatcher(env, log).start()
    try:
        deadline = time.monotonic() + 30
        while "Dispatching as waves fall due" not in log.read_text():
            assert dispatcher.process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
    finally:
        dispatcher.stop()
    assert dispatcher.process.returncode == 0, log.read_text()  # stopped as an operator stops it
