"""Two deployments sharing one Redis, told apart by the database number, never hear each other:
Redis pub/sub ignores database numbers, so the number goes into the channel layer's prefix."""

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.core.exceptions import ImproperlyConfigured

from rideshare.settings import channel_layer_prefix

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("url, prefix", [
    ("redis://127.0.0.1:6379/0", "rideshare"),
    ("redis://127.0.0.1:6379", "rideshare"),
    ("redis://127.0.0.1:6379/1", "rideshare.db1"),
    ("rediss://:secret@redis.internal:6380/12", "rideshare.db12"),
    ("unix:///run/redis.sock?db=3", "rideshare.db3"),
])
def test_the_prefix_carries_the_database_number(url, prefix):
    assert channel_layer_prefix(url, "rideshare") == prefix


def test_a_database_number_that_is_not_a_number_is_refused():
    with pytest.raises(ImproperlyConfigured):
        channel_layer_prefix("redis://h:6379/?db=two", "rideshare")


def layer_prefix_under(**env):
    result = subprocess.run(
        [sys.executable, "-c",
         "import django; django.setup(); from django.conf import settings; "
         "print(settings.CHANNEL_LAYERS['default']['CONFIG']['prefix'])"],
        cwd=BASE_DIR, env={**os.environ, "DJANGO_SETTINGS_MODULE": "rideshare.settings", **env},
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_settings_derive_the_prefix_from_redis_url_and_channel_layer_prefix():
    assert layer_prefix_under(REDIS_URL="redis://127.0.0.1:6379/0", CHANNEL_LAYER_PREFIX="rideshare") == "rideshare"
    assert layer_prefix_under(REDIS_URL="redis://127.0.0.1:6379/2", CHANNEL_LAYER_PREFIX="rideshare") == "rideshare.db2"
    assert layer_prefix_under(REDIS_URL="redis://127.0.0.1:6379/2", CHANNEL_LAYER_PREFIX="staging") == "staging.db2"


def on_database(url, number):
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{number}", parts.query, ""))


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (set REDIS_URL); runs in CI's second pass")
async def test_two_deployments_on_two_databases_of_one_redis_do_not_cross_deliver():
    from channels_redis.pubsub import RedisPubSubChannelLayer

    def layer(number):
        url = on_database(os.environ["REDIS_URL"], number)
        return RedisPubSubChannelLayer(hosts=[url], prefix=channel_layer_prefix(url, "crosstest"))

    first, second, first_again = layer(0), layer(1), layer(0)
    try:
        channel = await first.new_channel()
        await first.group_add("user.same-id", channel)
        # One receive, never cancelled (a cancelled pub/sub receive unsubscribes its channel).
        received = asyncio.ensure_future(first.receive(channel))
        await second.group_send("user.same-id", {"type": "realtime.event", "text": "from the other deployment"})
        await asyncio.sleep(0.5)
        assert not received.done(), received.result()
        # The same deployment's other process (same database, same prefix) is heard.
        await first_again.group_send("user.same-id", {"type": "realtime.event", "text": "ours"})
        assert (await asyncio.wait_for(received, 5))["text"] == "ours"
    finally:
        for each in (first, second, first_again):
            await each.flush()
