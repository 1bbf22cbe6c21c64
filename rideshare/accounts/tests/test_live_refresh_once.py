"""Against a real server: one refresh token sent by ten clients at once is used once (issue 20,
item 4: 8 of 10 were answered with new, valid refresh tokens)."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from realtime.tests.live_client import PASSWORD, http, unique_phone_number
from realtime.tests.servers import running_server

pytestmark = pytest.mark.live

CONCURRENT = 10


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("refresh"), "refresh") as server:
        yield server


def call(server, method, path, body=None, token=None):
    return http(method, f"{server.base_url}/api/v1{path}", body, token)


def login(server):
    phone = unique_phone_number()
    status, body = call(server, "POST", "/auth/register/", {"phone_number": phone, "password": PASSWORD, "full_name": "Awa"})
    assert status == 201, body
    status, tokens = call(server, "POST", "/auth/token/", {"phone_number": phone, "password": PASSWORD})
    assert status == 200, tokens
    return tokens


def refresh_at_once(server, refresh_token, count):
    """`count` refreshes with the same token, each from its own thread, released together."""
    barrier = threading.Barrier(count)

    def post(_):
        barrier.wait(timeout=10)
        return call(server, "POST", "/auth/token/refresh/", {"refresh": refresh_token})

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(post, range(count)))


def test_live_one_refresh_token_sent_ten_times_at_once_is_used_once(server):
    tokens = login(server)

    answers = refresh_at_once(server, tokens["refresh"], CONCURRENT)

    winners = [body for status, body in answers if status == 200]
    refused = [(status, body) for status, body in answers if status != 200]
    assert len(winners) == 1, answers
    assert all(status == 401 and body["code"] == "token_not_valid" for status, body in refused), refused
    # The winner's tokens work: its access token authenticates, its refresh token rotates once more.
    status, me = call(server, "GET", "/auth/me/", token=winners[0]["access"])
    assert status == 200, me
    status, rotated = call(server, "POST", "/auth/token/refresh/", {"refresh": winners[0]["refresh"]})
    assert status == 200, rotated
