"""The nginx configuration of docs/production.md, run for real in front of `--workers 2`: the
WebSocket upgrade, a ride over HTTPS and WSS, an idle socket outliving nginx's read timeout thanks to
the server's pings, and the app's own address in the server's access log (X-Forwarded-For,
TRUSTED_PROXIES).

The configuration is read from docs/production.md (between the nginx-config markers); only what
cannot run here is substituted: ports, certificate and static paths, and the socket timeouts made
small (together with the server's ping interval) so the heartbeat is seen within seconds."""

import asyncio
import http.client
import json
import os
import re
import shutil
import ssl
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import websockets

from .live_client import HTTP_WAIT, Api, assert_quiet, recv_type
from .live_ride import drive_ride
from .servers import REPO_ROOT, LiveDatabase, ServerProcess, free_port

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        not (os.environ.get("REDIS_URL") and os.environ.get("DATABASE_URL")),
        reason="nginx in front of two workers needs PostgreSQL and Redis; runs in CI's second pass",
    ),
]

DOCUMENTED_BLOCK = re.compile(r"<!-- nginx-config:begin -->\s*```nginx\n(.*?)```\s*<!-- nginx-config:end -->", re.S)
# The app's address: another loopback address than nginx's (127.0.0.1, a trusted proxy), so an
# access-log line showing it can only come from X-Forwarded-For.
APP_ADDRESS = "127.0.0.2"
PROXY_TIMEOUT_SECONDS = 4  # in place of the documented 75 s
SERVER_PING_SECONDS = 1  # daphne checks every 2 s, so a ping leaves every ~2 s: well within 4 s
IDLE_SECONDS = 3 * PROXY_TIMEOUT_SECONDS


def nginx_binary():
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)
    if found is None:
        pytest.fail("nginx is not installed (.ci/run installs Debian's package: apt-get install -y nginx)")
    return found


def substituted(text, old, new):
    assert old in text, f"docs/production.md's nginx configuration no longer contains {old!r}: update this test with it"
    return text.replace(old, new)


def documented_configuration(upstream_port, listen_port, prefix):
    block = DOCUMENTED_BLOCK.search((REPO_ROOT / "docs" / "production.md").read_text())
    assert block, "docs/production.md has no ```nginx block between <!-- nginx-config:begin --> and <!-- nginx-config:end -->"
    text = block.group(1)
    for old, new in (
        ("server 127.0.0.1:8001;", f"server 127.0.0.1:{upstream_port};"),
        ("listen 443 ssl;", f"listen 127.0.0.1:{listen_port} ssl;"),
        ("/etc/ssl/rideshare/fullchain.pem", str(prefix / "cert.pem")),
        ("/etc/ssl/rideshare/privkey.pem", str(prefix / "key.pem")),
        ("/srv/rideshare/staticfiles/", f"{prefix / 'static'}/"),
        ("/var/log/nginx/rideshare.access.log", str(prefix / "logs" / "rideshare.access.log")),
        ("proxy_read_timeout 75s;", f"proxy_read_timeout {PROXY_TIMEOUT_SECONDS}s;"),
        ("proxy_send_timeout 75s;", f"proxy_send_timeout {PROXY_TIMEOUT_SECONDS}s;"),
    ):
        text = substituted(text, old, new)
    return text


def main_configuration(prefix, http_block):
    """A whole nginx.conf around docs/production.md's `http`-context block, every path under `prefix`."""
    temp = prefix / "temp"
    # As root nginx's workers would run as `nobody`, who cannot enter pytest's private temp dirs.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (
        f"{user}worker_processes 1;\n"
        f"error_log {prefix / 'logs' / 'error.log'} info;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        f"    access_log {prefix / 'logs' / 'access.log'};\n"
        f"    client_body_temp_path {temp / 'body'};\n    proxy_temp_path {temp / 'proxy'};\n"
        f"    fastcgi_temp_path {temp / 'fastcgi'};\n    uwsgi_temp_path {temp / 'uwsgi'};\n"
        f"    scgi_temp_path {temp / 'scgi'};\n"
        f"{http_block}"
        "}\n"
    )


def self_signed_certificate(prefix):
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(prefix / "key.pem"), "-out", str(prefix / "cert.pem")],
        check=True, capture_output=True, timeout=60,
    )
    return ssl.create_default_context(cafile=str(prefix / "cert.pem"))


class Nginx:
    def __init__(self, prefix, upstream_port):
        self.prefix = prefix
        self.port = free_port()
        for directory in ("logs", "temp", "static", "conf"):
            (prefix / directory).mkdir(parents=True, exist_ok=True)
        self.tls = self_signed_certificate(prefix)
        self.conf = prefix / "conf" / "nginx.conf"
        self.conf.write_text(main_configuration(prefix, documented_configuration(upstream_port, self.port, prefix)))
        self.process = None

    def start(self):
        command = [nginx_binary(), "-p", str(self.prefix), "-c", str(self.conf),
                   "-g", f"daemon off; pid {self.prefix / 'nginx.pid'};"]
        checked = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
        assert checked.returncode == 0, f"nginx -t refused docs/production.md's configuration:\n{checked.stderr}"
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            assert self.process.poll() is None, f"nginx exited with {self.process.returncode}:\n{self.error_log()}"
            try:
                if https_json(self, "GET", "/healthz")[0] == 200:
                    return self
            except OSError:
                pass
            assert time.monotonic() < deadline, f"nginx did not proxy /healthz within 20s:\n{self.error_log()}"
            time.sleep(0.1)

    def error_log(self):
        path = self.prefix / "logs" / "error.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def https_json(nginx, method, path, body=None, token=None):
    """(status, JSON body) of one request to nginx over TLS, sent from APP_ADDRESS."""
    connection = http.client.HTTPSConnection("127.0.0.1", nginx.port, context=nginx.tls, timeout=HTTP_WAIT,
                                             source_address=(APP_ADDRESS, 0))
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        connection.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = connection.getresponse()
        payload = response.read()
    finally:
        connection.close()
    try:
        return response.status, json.loads(payload or b"null")
    except ValueError:
        return response.status, {"detail": payload.decode(errors="replace")[:300]}


class ProxiedApi(Api):
    """live_client.Api through nginx: HTTPS, from the app's address."""

    def __init__(self, nginx):
        super().__init__(f"https://127.0.0.1:{nginx.port}")
        self.nginx = nginx

    async def call(self, method, path, body=None, token=None, expect=200):
        status, payload = await asyncio.to_thread(https_json, self.nginx, method, f"/api/v1{path}", body, token)
        assert status == expect, f"{method} {path}: {status} {payload}"
        return payload


def connect(nginx, user):
    return websockets.connect(f"wss://127.0.0.1:{nginx.port}/api/v1/ws/connect?token={user['access']}",
                              ssl=nginx.tls, local_addr=(APP_ADDRESS, 0),
                              ping_interval=None)  # the app sends no pings: only the server's keep it alive


@pytest.fixture
def start_stack(tmp_path):
    """Starts `--workers 2` (pinging silent sockets every `ping_seconds`) behind nginx; stops both."""
    started = []
    database = LiveDatabase(tmp_path)

    def start(ping_seconds):
        env = dict(os.environ, **database.env, CHANNEL_LAYER_PREFIX=f"nginx-{uuid.uuid4().hex[:8]}")
        database.migrate(env)
        server = ServerProcess(env, tmp_path, extra_args=[
            "--workers", "2", "--proxy-headers",
            "--ping-interval", str(ping_seconds), "--ping-timeout", str(PROXY_TIMEOUT_SECONDS * 2),
        ])
        started.append(server)
        server.start()
        nginx = Nginx(Path(tmp_path) / "nginx", server.port)
        started.append(nginx)
        return server, nginx.start()

    yield start
    for process in reversed(started):
        process.stop()
    database.drop()


async def test_a_ride_through_the_documented_nginx_configuration_in_front_of_two_workers(start_stack):
    server, nginx = start_stack(SERVER_PING_SECONDS)
    api = ProxiedApi(nginx)
    passenger = await api.register("Proxied Passenger")
    driver = await api.driver("Proxied Driver", at=(3.850, 11.502))

    async with connect(nginx, passenger) as passenger_ws, connect(nginx, driver) as driver_ws:
        await recv_type(passenger_ws, "connected")
        await recv_type(driver_ws, "connected")

        # Both sockets stay silent for three of nginx's read timeouts: the server's pings (answered
        # by the client library) are what crosses the proxy, and the sockets stay open.
        await asyncio.sleep(IDLE_SECONDS)
        await asyncio.gather(assert_quiet(passenger_ws), assert_quiet(driver_ws))

        await drive_ride(api, passenger, driver, passenger_ws, driver_ws)

    access = [line for line in server.log().splitlines() if "rideshare.access" in line]
    socket_lines = [line for line in access if "WSCONNECT /api/v1/ws/connect" in line]
    ride_lines = [line for line in access if '"POST /api/v1/rides/' in line]
    assert len(socket_lines) >= 2 and ride_lines, "\n".join(access[-20:])
    assert all(f" {APP_ADDRESS}:" in line for line in socket_lines + ride_lines), "\n".join(access[-20:])
    assert "upstream timed out" not in nginx.error_log(), nginx.error_log()
    proxy_access = (nginx.prefix / "logs" / "rideshare.access.log").read_text()
    assert f"{APP_ADDRESS} " in proxy_access and '"GET /api/v1/ws/connect HTTP/1.1" 101' in proxy_access, proxy_access
    assert passenger["access"] not in proxy_access and driver["access"] not in proxy_access, "a token in nginx's log"


async def test_without_the_server_pings_nginx_cuts_a_silent_socket_at_its_read_timeout(start_stack):
    """The control for the heartbeat above: the same set-up with the server's ping later than
    nginx's timeout loses the idle socket, so the survival above is the pings' doing."""
    server, nginx = start_stack(PROXY_TIMEOUT_SECONDS * 10)
    passenger = await ProxiedApi(nginx).register("Silent Passenger")
    async with connect(nginx, passenger) as passenger_ws:
        await recv_type(passenger_ws, "connected")
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(passenger_ws.recv(), IDLE_SECONDS)
    assert "upstream timed out" in nginx.error_log(), nginx.error_log()
