"""Start and stop the processes under test, each in its own process group with the
file-descriptor limit raised to the hard limit (set in the child before exec)."""

import os
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from bench.db import REPO_ROOT

STARTUP_TIMEOUT = 30


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _child_setup():
    os.setsid()  # own process group: stop() ends it and everything it started
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# The project's launcher; overridable only to try a launcher that is not on main yet.
SERVER_MODULE = os.environ.get("BENCH_SERVER_MODULE", "realtime.server")
BASELINE_SETTINGS = {"channels_relay": "bench.baselines.relay_settings", "bare_consumer": "bench.baselines.bare_settings"}
WORKERS_SETTLE_SECONDS = 2.0


class Unsupported(RuntimeError):
    """The server refused an option it does not have (argparse: "unrecognized arguments")."""


def command(kind, port, workers=None):
    py = sys.executable
    if kind == "daphne":  # the server as shipped; -v 0: no access log line per request
        extra = [] if workers is None else ["--workers", str(workers)]
        return [py, "-m", SERVER_MODULE, *extra, "-b", "127.0.0.1", "-p", str(port), "-v", "0",
                "rideshare.asgi:application"]
    if kind == "uvicorn":
        return [py, "-m", "uvicorn", "rideshare.asgi:application", "--host", "127.0.0.1", "--port", str(port),
                "--no-access-log", "--log-level", "warning", "--lifespan", "off"]
    if kind == "channels_relay":
        return [py, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "-v", "0",
                "bench.baselines.channels_relay:application"]
    if kind == "bare_consumer":
        return [py, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "-v", "0",
                "bench.baselines.bare_consumer:application"]
    if kind == "websockets_relay":
        return [py, "-m", "bench.baselines.websockets_relay", "--port", str(port)]
    raise ValueError(kind)


def uvicorn_available():
    try:
        import uvicorn  # noqa: F401
    except ImportError:
        return False
    return True


class Server:
    def __init__(self, kind, env, log_path, workers=None):
        self.kind = kind
        self.workers = workers
        self.env = dict(env)
        if kind in BASELINE_SETTINGS:
            self.env["DJANGO_SETTINGS_MODULE"] = BASELINE_SETTINGS[kind]
        self.port = free_port()
        self.log_path = log_path
        self.process = None
        self.ws_base = f"ws://127.0.0.1:{self.port}"
        self.http_base = f"http://127.0.0.1:{self.port}"

    @property
    def pid(self):
        return self.process.pid

    def start(self):
        cmd = command(self.kind, self.port, self.workers)
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== {self.kind} {' '.join(cmd)}\n".encode())
            log.flush()
            log_start = log.tell()
            self.process = subprocess.Popen(cmd, cwd=REPO_ROOT, env=self.env,
                                            stdout=log, stderr=subprocess.STDOUT, preexec_fn=_child_setup)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if self.process.poll() is not None:
                with open(self.log_path, "rb") as log:
                    log.seek(log_start)
                    output = log.read().decode(errors="replace")
                if "unrecognized arguments" in output:
                    raise Unsupported(output.strip().splitlines()[-1])
                raise RuntimeError(f"{self.kind} exited with {self.process.returncode}; see {self.log_path}")
            if self._answers():
                if self.workers and self.workers > 1:
                    time.sleep(WORKERS_SETTLE_SECONDS)  # the first worker answers; give the others time
                return self
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.kind} did not start within {STARTUP_TIMEOUT}s; see {self.log_path}")
            time.sleep(0.1)

    def _answers(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                pass
        except OSError:
            return False
        if self.kind in ("daphne", "uvicorn"):
            try:
                urllib.request.urlopen(f"{self.http_base}/api/v1/ws/stats", timeout=5)
            except urllib.error.HTTPError:
                return True  # 401: it serves
            except OSError:
                return False
        return True

    def stop(self):
        """SIGTERM the group, SIGKILL what is left after 10 s. Returns the exit code."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=6)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        except ProcessLookupError:
            pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # anything the server left in its group
        except ProcessLookupError:
            pass
        return self.process.returncode


class Dispatcher:
    """`manage.py dispatch`, as production runs it beside the servers (Redis mode)."""

    def __init__(self, env, log_path):
        self.env = dict(env)
        self.log_path = log_path
        self.process = None

    def start(self):
        with open(self.log_path, "ab") as log:
            log.write(b"\n=== manage.py dispatch\n")
            log.flush()
            self.process = subprocess.Popen([sys.executable, "manage.py", "dispatch"], cwd=REPO_ROOT, env=self.env,
                                            stdout=log, stderr=subprocess.STDOUT, preexec_fn=_child_setup)
        return self

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGINT)  # Ctrl-C: how the loop is meant to stop
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
