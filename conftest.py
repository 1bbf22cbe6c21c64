import os
import uuid

# Live servers (other processes, which read the environment) close each request's database session,
# as before persistent connections: a session's live servers stay up until it ends, and each kept
# session would count against PostgreSQL's max_connections while both CI passes run.
# test_live_persistent_connections starts one with the production default.
os.environ.setdefault("DATABASE_CONN_MAX_AGE", "0")

import pytest
from django.conf import settings as django_settings
from django.test.utils import override_settings

from realtime.tests.clocks import FakeClock
from rideshare.tests.factories import DriverFactory, RideFactory, UserFactory, api_client_for

# Every event the consumer sends in the test run is checked against the AsyncAPI document.
pytest_plugins = ["realtime.tests.contract"]


@pytest.fixture(autouse=True, scope="session")
def fast_password_hashing():
    """Tests create many users; the production hasher costs ~0.3 s per password."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """SQLite tests use a database file, as the server does, not Django's shared-cache in-memory
    database: there a connection that touches a table another thread is writing fails at once
    ("database table is locked"), where a file waits its turn (the `timeout` in settings). The
    server's threads do write concurrently (a position's write-through runs after its relay)."""
    database = django_settings.DATABASES["default"]
    # In this process every request's connection is closed after it (Django's default): the test
    # database can then be dropped at the end. Live servers (other processes) keep theirs, as in
    # production.
    database["CONN_MAX_AGE"] = 0
    if database["ENGINE"] == "rideshare.sqlite":
        database.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("database") / "test.sqlite3")
    elif "postgresql" in database["ENGINE"]:
        # A commit does not wait for its WAL to reach the disk (~3 ms each where CI runs, thousands
        # of them a run): what a test sees is the same; only a crash of PostgreSQL itself could
        # lose the last commits, and no test crashes it. Live servers' databases get the same
        # (realtime/tests/servers.py).
        options = database.setdefault("OPTIONS", {})
        options["options"] = f"{options.get('options', '')} -c synchronous_commit=off".strip()


@pytest.fixture(autouse=True)
def isolated_throttles():
    """Each test counts its requests from zero and remembers no socket message id of another: every
    cache (throttles, acks, default; Redis in CI's second pass) gets a key prefix of the test's
    own. Rates stay the production defaults."""
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    caches = {alias: {**config, "KEY_PREFIX": prefix} for alias, config in django_settings.CACHES.items()}
    with override_settings(CACHES=caches):
        yield


class LoopClock(FakeClock):
    """The clock of rideshare.kernel.cli's loops: `sleep` records the pause and lets it pass;
    `advance(s)` makes the round in progress take `s` seconds."""

    def __init__(self):
        super().__init__()
        self.sleeps = []

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.advance(seconds)


@pytest.fixture
def loop_clock(monkeypatch):
    clock = LoopClock()
    monkeypatch.setattr("rideshare.kernel.cli.time.sleep", clock.sleep)
    monkeypatch.setattr("rideshare.kernel.cli.time.monotonic", clock)
    return clock


@pytest.fixture
def passenger(db):
    return UserFactory(full_name="Awa Passenger")


@pytest.fixture
def driver(db):
    """An online moto driver (a `Driver`; its user is `driver.user`) at Yaoundé."""
    return DriverFactory(user__full_name="Jean Moto")


@pytest.fixture
def staff_user(db):
    return UserFactory(is_staff=True)


@pytest.fixture
def client_for():
    return api_client_for


@pytest.fixture
def ride(passenger):
    return RideFactory(passenger=passenger)


def pytest_collection_modifyitems(config, items):
    from django.db import connection

    if hasattr(config, "workerinput"):
        # A pytest-xdist worker (`make test`): the modules with live tests (a few slow tests each)
        # first, the many quick ones after to even out the two workers' ends (xdist then keeps
        # this order: --no-loadscope-reorder in the Makefile). The order within each is unchanged.
        live_modules = {item.nodeid.split("::")[0] for item in items if "live" in item.keywords}
        items.sort(key=lambda item: item.nodeid.split("::")[0] not in live_modules)

    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL); runs in CI's second pass")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)
