"""`python -m realtime.server --proxy-headers` behind nginx on the same host: a client-written
X-Forwarded-For is not believed, in the access log or for /metrics; a peer that is not a trusted
proxy is taken at its own address."""

import os
import urllib.error
import urllib.request
import uuid

import pytest

from .servers import LiveDatabase, ServerProcess

pytestmark = pytest.mark.live


def get(server, path, headers):
    request = urllib.request.Request(f"{server.base_url}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    database = LiveDatabase(tmp_path_factory.mktemp("proxy"))
    yield database
    database.drop()


def start(database, workdir, **extra):
    env = dict(os.environ, **database.env, CHANNEL_LAYER_PREFIX=f"live-{uuid.uuid4().hex[:8]}", **extra)
    database.migrate(env)
    return ServerProcess(env, workdir, extra_args=["--proxy-headers"]).start()


def access_lines(server, path):
    return [line for line in server.log().splitlines() if "rideshare.access" in line and path in line]


def test_a_forged_forwarded_for_is_neither_logged_nor_trusted_for_metrics(database, tmp_path):
    server = start(database, tmp_path)
    try:
        # What nginx sends for a client at 198.51.100.4 that wrote `X-Forwarded-For: 127.0.0.1`.
        assert get(server, "/metrics?forged", {"X-Forwarded-For": "127.0.0.1, 198.51.100.4"}) == 403
        # A scraper on the proxy's host, through nginx: allowed.
        assert get(server, "/metrics?scraper", {"X-Forwarded-For": "127.0.0.1"}) == 200
    finally:
        server.stop()
    forged = access_lines(server, "/metrics?forged")
    assert forged and all("198.51.100.4" in line and " 127.0.0.1" not in line for line in forged), server.log()[-2000:]


def test_forwarded_headers_from_a_peer_that_is_not_a_trusted_proxy_are_ignored(database, tmp_path):
    server = start(database, tmp_path, TRUSTED_PROXIES="10.0.0.0/8")
    try:
        assert get(server, "/metrics?direct", {"X-Forwarded-For": "198.51.100.4"}) == 200  # from loopback itself
    finally:
        server.stop()
    direct = access_lines(server, "/metrics?direct")
    assert direct and all("198.51.100.4" not in line for line in direct), server.log()[-2000:]
