"""simulate_ride against a real server process, run as the operator would run it."""

import os
import subprocess
import sys
import uuid

import pytest

from .servers import REPO_ROOT, LiveDatabase, ServerProcess, free_port

COMPLETE_RIDE = ["ride_requested", "ride_accepted", "driver_location_update", "driver_arrived", "ride_started",
                 "ride_completed"]


def manage(*args, env=None, timeout=120):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO_ROOT, env=env or dict(os.environ),
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.live
def test_a_complete_ride_with_fresh_then_demo_accounts(tmp_path):
    database = LiveDatabase(tmp_path)
    env = dict(os.environ, **database.env, CHANNEL_LAYER_PREFIX=f"live-{uuid.uuid4().hex[:8]}")
    server = None
    try:
        database.migrate(env)
        server = ServerProcess(env, tmp_path).start()
        for expected_accounts in ("registered account", "seed_demo account"):
            result = manage("simulate_ride", server.base_url, "--steps", "2", "--step-delay", "0.1", env=env)
            assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{server.log()}"
            assert result.stdout.count(expected_accounts) == 2, result.stdout
            printed = {line.split()[2] for line in result.stdout.splitlines()
                       if len(line.split()) > 2 and line.split()[1] in ("driver", "passenger")}
            assert set(COMPLETE_RIDE) <= printed, result.stdout
            assert "completed: 700 XAF" in result.stdout
            assert manage("seed_demo", env=env).returncode == 0
    finally:
        if server is not None:
            server.stop()
        database.drop()


def test_unreachable_server_fails_with_a_clear_message():
    result = manage("simulate_ride", f"http://127.0.0.1:{free_port()}", "--timeout", "2")
    assert result.returncode == 1
    assert "CommandError: cannot reach http://127.0.0.1:" in result.stderr and "Traceback" not in result.stderr


def test_a_url_that_is_not_http_is_refused():
    result = manage("simulate_ride", "ws://127.0.0.1:8000")
    assert result.returncode == 1 and "URL must look like http://HOST:PORT" in result.stderr


async def test_an_event_that_does_not_come_fails_the_step():
    from django.core.management import CommandError

    from realtime.management.commands.simulate_ride import Inbox

    inbox = Inbox("passenger", lambda *args: None)
    inbox.messages.append({"type": "ride_started", "data": {}})
    with pytest.raises(CommandError, match="ride_completed did not reach the passenger's socket within 0.05s after"):
        await inbox.expect("ride_completed", since=0, timeout=0.05, what="POST complete (driver)")
    inbox.messages.append({"type": "error", "data": {"code": "rate_limited"}})
    with pytest.raises(CommandError, match="rate_limited"):
        await inbox.expect("ride_completed", since=1, timeout=1, what="POST complete (driver)")
