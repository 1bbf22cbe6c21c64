import copy
import inspect
import secrets

import pytest
from channels.layers import channel_layers

from drivers.known_users import known
from realtime.connections import fleet, positions
from realtime.delivery import dispatch
from realtime.presence import presence, shared_presence
from realtime.serving import lifecycle

from .servers import running_server

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
    # Presence rows written at once, so tests can read them right after a connect; the batched
    # path (the production default) has its own test in test_presence_stats.py.
    settings.PRESENCE_SYNC_SECONDS = 0
    # A driver whose last socket closed goes offline at once, so tests can read it right after the
    # close; the grace (the production default) has its own tests in test_presence_stats.py.
    settings.DRIVER_OFFLINE_GRACE_SECONDS = 0
    known.clear()  # no user cached by an earlier test (their rows are gone with its transaction)
    positions.rest_assignments.clear()  # nor a ride
    presence.local.__init__()
    fleet.watchers.__init__()  # no console watching from an earlier test
    yield
    if settings.REDIS_URL:
        shared_presence.forget_everything()  # this test's prefix only
    layer = channel_layers.backends.get("default")
    if layer is not None:
        await layer.flush()


@pytest.fixture(autouse=True)
async def server_loop_owns_the_sends(request, fresh_channel_layer_and_fast_hasher):
    """Async tests run as the server does: on-commit hooks hand their sends to this test's loop
    through realtime.delivery.dispatch, and socket positions are flushed by the lifecycle's job. The other
    periodic jobs (presence sweep, relay, retention) are left out: tests drive them explicitly."""
    if not inspect.iscoroutinefunction(request.function):
        yield
        return
    await lifecycle.start(only={"positions"})
    try:
        yield
    finally:
        await lifecycle.stop()
        dispatch.detach()


# --- live tests: a real daphne process on a free port --------------------------------------------


@pytest.fixture(scope="session")
def daphne_server(tmp_path_factory):
    """`python -m daphne` serving rideshare.asgi:application on its own fresh database (named
    daphne_server: pytest-django already has a `live_server`)."""
    with running_server(tmp_path_factory.mktemp("live"), "rideshare-live", module="daphne") as server:
        yield server
