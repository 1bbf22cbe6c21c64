import copy
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from channels.layers import channel_layers

REPO_ROOT = Path(__file__).resolve().parents[2]
LIVE_STARTUP_TIMEOUT = 20


# --- in-process tests: a fresh channel layer per test ---------------------------------------------


@pytest.fixture(autouse=True)
async def fresh_channel_layer_and_fast_hasher(settings):
    """Each test gets its own channel layer instance (and, on Redis, its own key prefix), so no
    group membership or queued message survives from one test into the next; the Redis keys it
    created are deleted afterwards and its connections closed on the test's own event loop."""
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    config = layers["default"].get("CONFIG")
    if config is not None and "prefix" in config:
        config["prefix"] = f"rideshare-test-{secrets.token_hex(6)}"
    settings.CHANNEL_LAYERS = layers  # fires setting_changed: channels drops the cached layer
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # factories hash passwords
    yield
    layer = channel_layers.backends.get("default")
    if layer is not None:
        await layer.flush()


# --- live tests: a real daphne process on a free port --------------------------------------------


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _with_database(url, name):
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def _pg_connect(url):
    """An autocommit connection to the DATABASE_URL's database (or, if that one does not exist,
    the server's `postgres` database) for CREATE/DROP DATABASE."""
    import psycopg

    parts = urlsplit(url)
    # psycopg understands postgresql:// URLs; dj-database-url also accepts postgres:// and pgsql://
    url = urlunsplit(("postgresql",) + tuple(parts)[1:])
    try:
        return psycopg.connect(url, autocommit=True)
    except psycopg.OperationalError:
        return psycopg.connect(_with_database(url, "postgres"), autocommit=True)


class LiveServer:
    def __init__(self, base_url, env, stderr_path):
        self.base_url = base_url
        self.ws_url = base_url.replace("http://", "ws://", 1)
        self.env = env
        self.stderr_path = stderr_path

    def stderr(self):
        return Path(self.stderr_path).read_text(errors="replace")


@pytest.fixture(scope="session")
def daphne_server(tmp_path_factory):
    """`python -m daphne` serving rideshare.asgi:application on its own fresh database."""
    workdir = tmp_path_factory.mktemp("live")
    port = _free_port()
    run_id = secrets.token_hex(6)
    env = dict(os.environ)
    env["CHANNEL_LAYER_PREFIX"] = f"rideshare-live-{run_id}"
    env.pop("SQLITE_PATH", None)

    database_url = os.environ.get("DATABASE_URL")
    live_db_name = None
    if database_url:
        if not urlsplit(database_url).scheme.startswith(("postgres", "pgsql")):
            pytest.fail(f"live tests support SQLite or PostgreSQL, not {database_url!r}")
        live_db_name = f"rideshare_live_{run_id}"
        with _pg_connect(database_url) as conn:
            conn.execute(f'CREATE DATABASE "{live_db_name}"')
        env["DATABASE_URL"] = _with_database(database_url, live_db_name)
    else:
        env["SQLITE_PATH"] = str(workdir / "live.sqlite3")

    process = None
    stdout_file = open(workdir / "daphne.out", "wb")
    stderr_file = open(workdir / "daphne.err", "wb")
    try:
        migrate = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        if migrate.returncode != 0:
            pytest.fail(f"migrate failed for the live server:\n{migrate.stdout}\n{migrate.stderr}")

        process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "rideshare.asgi:application"],
            cwd=REPO_ROOT,
            env=env,
            stdout=stdout_file,
            stderr=stderr_file,
        )
        base_url = f"http://127.0.0.1:{port}"
        server = LiveServer(base_url, env, workdir / "daphne.err")
        deadline = time.monotonic() + LIVE_STARTUP_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"daphne exited with {process.returncode}:\n{server.stderr()}")
            try:
                urllib.request.urlopen(f"{base_url}/api/v1/ws/stats", timeout=2)
                break
            except urllib.error.HTTPError:
                break  # any HTTP answer (401 here) means it serves
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"daphne did not accept HTTP within {LIVE_STARTUP_TIMEOUT}s:\n{server.stderr()}")
                time.sleep(0.1)
        yield server
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        stdout_file.close()
        stderr_file.close()
        if live_db_name is not None:
            with _pg_connect(database_url) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{live_db_name}" WITH (FORCE)')
