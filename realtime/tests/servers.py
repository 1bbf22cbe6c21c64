"""Real server processes for live tests: the ASGI server on a free port with its own database,
and (for Redis failure tests) a private redis-server."""

import atexit
import contextlib
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 20
# Live tests register and log in many users from 127.0.0.1 within a minute (and, with Redis, share
# the counters across processes and runs): the REST throttles' own tests are in rideshare/tests.
RELAXED_THROTTLES = {
    name: "100000/min"
    for name in (
        "THROTTLE_LOGIN_RATE",
        "THROTTLE_LOGIN_ACCOUNT_RATE",
        "THROTTLE_REGISTER_RATE",
        "THROTTLE_TOKEN_REFRESH_RATE",
        "THROTTLE_RIDE_REQUEST_RATE",
        "THROTTLE_RIDE_REQUEST_ADDRESS_RATE",
    )
}


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pg_connect(url):
    import psycopg

    parts = urlsplit(url)
    return psycopg.connect(urlunsplit(("postgresql",) + tuple(parts)[1:]), autocommit=True)


def migrate(env):
    """`manage.py migrate` with the environment a server process will get."""
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    if result.returncode != 0:
        raise RuntimeError(f"migrate failed:\n{result.stdout}\n{result.stderr}")


class LiveDatabase:
    """A fresh database for server processes: a temp SQLite file, or a new PostgreSQL database
    beside the one in DATABASE_URL. `env` holds what a process needs to use it."""

    def __init__(self, workdir):
        self.base_url = os.environ.get("DATABASE_URL")
        self.name = None
        if self.base_url:
            self.name = f"rideshare_live_{secrets.token_hex(6)}"
            with _pg_connect(self.base_url) as conn:
                _create_pg_database(conn, self.name)
            parts = urlsplit(self.base_url)
            self.env = {"DATABASE_URL": urlunsplit((parts.scheme, parts.netloc, f"/{self.name}", parts.query, ""))}
        else:
            self.env = {"SQLITE_PATH": str(Path(workdir) / "live.sqlite3")}

    def migrate(self, env):
        """The schema `manage.py migrate` makes, with `env` (this database's settings among them):
        migrated once per test process into a template database, copied from it after that (a
        migration is a Django start and a few seconds of CPU; dozens of live databases a run)."""
        template = _template(self.base_url, env)
        if self.name:
            with _pg_connect(self.base_url) as conn:
                conn.execute(f'DROP DATABASE "{self.name}"')
                _create_pg_database(conn, self.name, template=template)
        else:
            with contextlib.closing(sqlite3.connect(template)) as source, \
                    contextlib.closing(sqlite3.connect(self.env["SQLITE_PATH"])) as copy:
                source.backup(copy)

    def query(self, sql, params=()):
        """The rows of `sql` (placeholders `%s`) on this database, read from the test process
        (e.g. the outbox state the server processes leave in it)."""
        return query(self.env, sql, params)

    def drop(self):
        if self.name:
            with _pg_connect(self.base_url) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


_templates = {}  # base DATABASE_URL (None: SQLite) -> a migrated database of this process to copy


def _template(base_url, env):
    """This process's migrated template: a PostgreSQL database beside `base_url`'s (dropped at
    exit; nothing connects to it but its migration), or a SQLite file."""
    if base_url not in _templates:
        if base_url:
            name = f"rideshare_live_template_{secrets.token_hex(6)}"
            with _pg_connect(base_url) as conn:
                _create_pg_database(conn, name)
            atexit.register(_drop_template, base_url, name)
            parts = urlsplit(base_url)
            migrate({**env, "DATABASE_URL": urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))})
            _templates[base_url] = name
        else:
            path = Path(tempfile.mkdtemp(prefix="live-template-")) / "template.sqlite3"
            migrate({**env, "SQLITE_PATH": str(path)})
            _templates[base_url] = str(path)
    return _templates[base_url]


def _create_pg_database(conn, name, template=None):
    """A database for live servers whose commits do not wait for the WAL's flush to disk (as the
    tests' own, see conftest.py): nothing a test sees changes, PostgreSQL is never crashed."""
    conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')


def _drop_template(base_url, name):
    with contextlib.suppress(Exception), _pg_connect(base_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def query(env, sql, params=()):
    """The rows of `sql` (placeholders `%s`) on the database a live server's `env` names."""
    if env.get("DATABASE_URL", "").startswith("postgres"):
        with _pg_connect(env["DATABASE_URL"]) as conn:
            return conn.execute(sql, params).fetchall()
    with sqlite3.connect(env["SQLITE_PATH"], timeout=10) as conn:
        return conn.execute(sql.replace("%s", "?"), params).fetchall()


class ServerProcess:
    """`python -m realtime.server` (daphne with graceful shutdown and slow-reader limits), or with
    `module="daphne"` plain daphne, as the guide's deployments run it."""

    def __init__(self, env, workdir, *, port=None, extra_args=(), module="realtime.server"):
        self.module = module
        self.env = {**RELAXED_THROTTLES, **env}
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self.extra_args = list(extra_args)
        self.process = None
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self.log_path = self.workdir / f"server-{self.port}.log"

    def start(self):
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module, "-b", "127.0.0.1", "-p", str(self.port), *self.extra_args,
             "rideshare.asgi:application"],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                urllib.request.urlopen(f"{self.base_url}/api/v1/ws/stats", timeout=2)
                return self
            except urllib.error.HTTPError:
                return self  # any HTTP answer means it serves
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server did not answer within {STARTUP_TIMEOUT}s:\n{self.log()}") from None
                time.sleep(0.1)

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def signal(self, signum):
        self.process.send_signal(signum)

    def kill(self):
        """SIGKILL: no disconnect handlers, no close frames, nothing published after this."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@contextlib.contextmanager
def running_server(workdir, prefix, *, module="realtime.server", prepare=None, **settings):
    """A server process on its own fresh database, its channel layer under a prefix of its own,
    the environment's other settings plus `settings`; `prepare(env)` runs after the migration
    (e.g. a seed). Stopped and its database dropped on leaving."""
    database = LiveDatabase(workdir)
    env = dict(os.environ, **database.env, CHANNEL_LAYER_PREFIX=f"{prefix}-{secrets.token_hex(6)}", **settings)
    server = None
    try:
        database.migrate(env)
        if prepare is not None:
            prepare(env)
        server = ServerProcess(env, workdir, module=module).start()
        server.database = database
        yield server
    finally:
        if server is not None:
            server.stop()
        database.drop()


class RedisProcess:
    """A private redis-server on a free port, so a test can stop and restart it."""

    def __init__(self):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="redis-")
        self.process = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    @staticmethod
    def available():
        return shutil.which("redis-server") is not None

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def child_pids(pid):
    """The pids of `pid`'s direct children (Linux /proc)."""
    children = set()
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            children.update(int(child) for child in task.read_text().split())
        except OSError:
            pass  # the task ended meanwhile
    return sorted(children)


def is_running(pid):
    """True while `pid` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _tcp_endpoint(text):
    address, port = text.split(":")
    if len(address) == 8:  # IPv4, a host-order 32-bit word
        address = socket.inet_ntoa(int(address, 16).to_bytes(4, "little"))
    return address, int(port, 16)


def socket_owner(server_port, client_address, pids):
    """Which of `pids` holds the server side of the TCP connection from `client_address`
    (host, port) to local port `server_port`, or None: the connection's socket inode from
    /proc/net/tcp, then the process with a descriptor on that inode (/proc/<pid>/fd)."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = _tcp_endpoint(fields[1]), _tcp_endpoint(fields[2])
        if local[1] == server_port and remote == tuple(client_address):
            inode = fields[9]
            break
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").glob("*"):
            try:
                if os.readlink(fd) == target:
                    return pid
            except OSError:
                continue
    return None
