"""REST throttles: one test per throttle proves its 429 at the default rate (or a lowered one)."""

import os

import pytest
from django.conf import settings
from django.core.cache import caches
from django.test import override_settings

from rideshare.tests.factories import PASSWORD, TRIP, UserFactory, api_client_for

TOKEN = "/api/v1/auth/token/"
REGISTER = "/api/v1/auth/register/"
REFRESH = "/api/v1/auth/token/refresh/"
RIDES = "/api/v1/rides/"


def rates(**overrides):
    rest = settings.REST_FRAMEWORK
    return override_settings(
        REST_FRAMEWORK={**rest, "DEFAULT_THROTTLE_RATES": {**rest["DEFAULT_THROTTLE_RATES"], **overrides}}
    )


def from_address(address):
    return {"REMOTE_ADDR": address}


def assert_throttled(response):
    assert response.status_code == 429, response.content
    assert response.data["code"] == "throttled"
    assert isinstance(response.data["detail"], str)
    assert int(response["Retry-After"]) > 0
    assert set(response.data) == {"detail", "code"}


def test_default_rates():
    assert settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] == {
        "login": "10/min",
        "login_account": "20/hour",
        "register": "20/hour",
        "token_refresh": "60/min",
        "ride_request": "10/min",
        "ride_request_address": "120/min",
    }


def test_login_is_throttled_per_address_at_10_a_minute(db):
    user = UserFactory()
    client = api_client_for(None)
    body = {"phone_number": user.phone_number, "password": PASSWORD}
    for _ in range(10):
        assert client.post(TOKEN, body, format="json", **from_address("10.0.0.1")).status_code == 200

    assert_throttled(client.post(TOKEN, body, format="json", **from_address("10.0.0.1")))
    # Wrong passwords count too, and another address is not affected.
    assert client.post(TOKEN, body, format="json", **from_address("10.0.0.2")).status_code == 200


def test_login_is_throttled_per_phone_number_whatever_the_address(db):
    UserFactory(phone_number="+237671234567")
    client = api_client_for(None)
    for n in range(20):
        body = {"phone_number": "6 71 23 45 67" if n % 2 else "+237671234567", "password": "wrong-guess"}
        assert client.post(TOKEN, body, format="json", **from_address(f"10.1.0.{n}")).status_code == 401

    right = {"phone_number": "671234567", "password": PASSWORD}
    assert_throttled(client.post(TOKEN, right, format="json", **from_address("10.1.1.1")))
    other = UserFactory()
    other_body = {"phone_number": other.phone_number, "password": PASSWORD}
    assert client.post(TOKEN, other_body, format="json", **from_address("10.1.1.1")).status_code == 200


def test_registration_is_throttled_per_address(db):
    client = api_client_for(None)
    for n in range(20):
        body = {"phone_number": f"+23767100{n:04d}", "password": "mango-tree-2026", "full_name": "Awa"}
        assert client.post(REGISTER, body, format="json", **from_address("10.2.0.1")).status_code == 201

    body = {"phone_number": "+237671009999", "password": "mango-tree-2026", "full_name": "Awa"}
    assert_throttled(client.post(REGISTER, body, format="json", **from_address("10.2.0.1")))
    assert client.post(REGISTER, body, format="json", **from_address("10.2.0.2")).status_code == 201


def test_token_refresh_is_throttled_per_address(db):
    client = api_client_for(None)
    for _ in range(60):
        assert client.post(REFRESH, {"refresh": "garbage"}, format="json", **from_address("10.3.0.1")).status_code == 401

    assert_throttled(client.post(REFRESH, {"refresh": "garbage"}, format="json", **from_address("10.3.0.1")))


def test_ride_requests_are_throttled_per_passenger(db):
    passenger = UserFactory()
    client = api_client_for(passenger)
    assert client.post(RIDES, TRIP, format="json", **from_address("10.4.0.1")).status_code == 201
    for n in range(9):  # refused (active ride), still counted
        assert client.post(RIDES, TRIP, format="json", **from_address(f"10.4.1.{n}")).status_code == 409

    assert_throttled(client.post(RIDES, TRIP, format="json", **from_address("10.4.2.1")))
    # Reading rides is not throttled, and another passenger can still request.
    assert client.get(RIDES).status_code == 200
    assert api_client_for(UserFactory()).post(RIDES, TRIP, format="json").status_code == 201


@rates(ride_request_address="3/min")
def test_ride_requests_are_throttled_per_address(db):
    for _ in range(3):
        response = api_client_for(UserFactory()).post(RIDES, TRIP, format="json", **from_address("10.5.0.1"))
        assert response.status_code == 201

    assert_throttled(api_client_for(UserFactory()).post(RIDES, TRIP, format="json", **from_address("10.5.0.1")))
    assert api_client_for(UserFactory()).post(RIDES, TRIP, format="json", **from_address("10.5.0.2")).status_code == 201


def test_behind_a_proxy_the_address_it_saw_is_counted(db):
    rest = settings.REST_FRAMEWORK
    behind_one_proxy = {
        **rest,
        "DEFAULT_THROTTLE_RATES": {**rest["DEFAULT_THROTTLE_RATES"], "login": "2/min"},
    }  # the proxy is 127.0.0.1, in the default TRUSTED_PROXIES
    user = UserFactory()
    body = {"phone_number": user.phone_number, "password": PASSWORD}
    with override_settings(REST_FRAMEWORK=behind_one_proxy):
        client = api_client_for(None)
        for spoofed in ("1.1.1.1", "2.2.2.2"):
            headers = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": f"{spoofed}, 41.202.207.5"}
            assert client.post(TOKEN, body, format="json", **headers).status_code == 200
        # The client changed the first entry, not the one the proxy appended.
        headers = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "3.3.3.3, 41.202.207.5"}
        assert_throttled(client.post(TOKEN, body, format="json", **headers))


@rates(login=None)
def test_a_rate_of_none_turns_a_throttle_off(db):
    user = UserFactory()
    body = {"phone_number": user.phone_number, "password": PASSWORD}
    for _ in range(12):
        assert api_client_for(None).post(TOKEN, body, format="json").status_code == 200


def test_counters_are_in_the_shared_cache(db):
    """With REDIS_URL the counters are in Redis, where every server process reads them."""
    user = UserFactory()
    api_client_for(None).post(TOKEN, {"phone_number": user.phone_number, "password": PASSWORD}, format="json")
    key = "throttle_login_127.0.0.1"
    cache = caches["throttles"]
    assert len(cache.get(key)) == 1
    backend = settings.CACHES["throttles"]["BACKEND"]
    if os.environ.get("REDIS_URL"):
        import redis

        assert backend == "django.core.cache.backends.redis.RedisCache"
        # Another process's view: a separate connection finds the same counter.
        other = redis.Redis.from_url(os.environ["REDIS_URL"])
        assert other.exists(cache.make_key(key)) == 1
        other.close()
    else:
        assert backend == "django.core.cache.backends.locmem.LocMemCache"


def test_a_cache_outage_lets_requests_through(db, monkeypatch):
    from redis.exceptions import ConnectionError as RedisConnectionError

    from rideshare.kernel.throttles import RateThrottle

    class DownCache:
        def get(self, *args, **kwargs):
            raise RedisConnectionError("redis is down")

        set = get

    monkeypatch.setattr(RateThrottle, "cache", DownCache())
    user = UserFactory()
    for _ in range(11):
        response = api_client_for(None).post(
            TOKEN, {"phone_number": user.phone_number, "password": PASSWORD}, format="json"
        )
        assert response.status_code == 200


@pytest.mark.parametrize("value, expected", [(None, "10/min"), ("off", None), ("None", None), ("5/s", "5/s")])
def test_rates_come_from_the_environment(monkeypatch, value, expected):
    from rideshare.settings.environment import env

    if value is None:
        monkeypatch.delenv("THROTTLE_LOGIN_RATE", raising=False)
    else:
        monkeypatch.setenv("THROTTLE_LOGIN_RATE", value)
    assert env.rate("THROTTLE_LOGIN_RATE", "10/min") == expected


def test_an_empty_rate_is_refused_not_taken_as_off(monkeypatch):
    from environs import EnvError

    from rideshare.settings.environment import env

    monkeypatch.setenv("THROTTLE_LOGIN_RATE", "")
    with pytest.raises(EnvError, match="THROTTLE_LOGIN_RATE"):
        env.rate("THROTTLE_LOGIN_RATE", "10/min")
