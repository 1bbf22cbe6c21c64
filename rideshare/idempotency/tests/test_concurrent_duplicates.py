"""Duplicates of one keyed request arriving together (PostgreSQL, each on its own connection): the
first does the work, the others wait for it on the key's unique index and replay its answer; if it
fails, a waiting duplicate does the work itself."""

import threading
import time
import uuid

import pytest
from django.db import connection, connections

from rides import services
from rides.models import Ride
from rides.tests.test_concurrency import race
from rideshare.idempotency.models import IdempotencyKey
from rideshare.kernel.errors import Conflict
from rideshare.tests.factories import TRIP, UserFactory, api_client_for

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

RIDES = "/api/v1/rides/"


def keyed_ride_request(passenger, key):
    return lambda: api_client_for(passenger).post(RIDES, TRIP, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_ten_identical_ride_requests_at_once_make_one_ride_and_ten_identical_answers():
    passenger, key = UserFactory(), str(uuid.uuid4())
    assert connection.vendor == "postgresql"

    responses = [response for _, response in race(*[keyed_ride_request(passenger, key) for _ in range(10)])]

    assert [r.status_code for r in responses] == [201] * 10, [r.content for r in responses]
    assert {r.content for r in responses} == {responses[0].content}
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 9
    assert Ride.objects.filter(passenger=passenger).count() == 1
    assert IdempotencyKey.objects.filter(user=passenger, key=key).count() == 1


def waiting_on_a_lock():
    """Backends of this database blocked on a lock (the duplicate's insert waits on the key)."""
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def wait_until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_a_duplicate_waits_for_the_first_and_runs_itself_when_the_first_fails(monkeypatch):
    passenger, key = UserFactory(), str(uuid.uuid4())
    real_request_ride = services.request_ride
    first_is_running, release_first = threading.Event(), threading.Event()
    calls = []

    def request_ride(**kwargs):
        calls.append(threading.current_thread().name)
        if len(calls) == 1:  # the first: holds its claim until told, then fails
            first_is_running.set()
            assert release_first.wait(10)
            raise Conflict("made to fail", code="made_to_fail")
        return real_request_ride(**kwargs)

    monkeypatch.setattr(services, "request_ride", request_ride)
    results = {}

    def send(name):
        try:
            results[name] = keyed_ride_request(passenger, key)()
        finally:
            connection.close()

    first = threading.Thread(target=send, args=("first",), name="first")
    first.start()
    assert first_is_running.wait(10)
    duplicate = threading.Thread(target=send, args=("duplicate",), name="duplicate")
    duplicate.start()
    wait_until(lambda: waiting_on_a_lock() >= 1)  # the duplicate waits on the first's key
    assert calls == ["first"]
    release_first.set()
    first.join(10)
    duplicate.join(10)

    assert (results["first"].status_code, results["first"].json()["code"]) == (409, "made_to_fail")
    assert results["duplicate"].status_code == 201
    assert results["duplicate"].headers.get("Idempotent-Replayed") is None
    assert calls == ["first", "duplicate"]
    assert Ride.objects.filter(passenger=passenger).count() == 1
