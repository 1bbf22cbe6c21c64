"""What lives in a cache is not pushed out by other traffic (issue 20, item 3): the REST
throttles' counters and the socket's applied message ids each have a cache of their own, sized
for their job on the embedded default (Redis with REDIS_URL)."""

import os
import uuid

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.cache import caches

from realtime.connections import acks
from rideshare.tests.factories import UserFactory, api_client_for

TOKEN = "/api/v1/auth/token/"
FLOOD = 5_000
ADDRESS = "10.20.0.1"


def wrong_password(user):
    body = {"phone_number": user.phone_number, "password": "not-the-password"}
    return api_client_for(None).post(TOKEN, body, format="json", REMOTE_ADDR=ADDRESS)


async def apply_once(user_id, message_type, request_id):
    """What realtime.connections.acks does for a message with an id: claim it, apply, mark it done."""
    key = acks.applied_ids.key(user_id, message_type, request_id)
    assert await acks.applied_ids.claim(key) is None
    await acks.applied_ids.done(key)
    return key


@async_to_sync
async def flood(count):
    """Ordinary traffic: other drivers' positions with ids, and other keys in the default cache."""
    default = caches["default"]
    for n in range(count):
        await apply_once(uuid.uuid4(), "location_update", f"pos-{n}")
        await default.aset(f"other-{n}", n)


def test_a_throttle_counter_survives_a_flood_of_other_keys(db):
    victim = UserFactory()
    for _ in range(5):
        assert wrong_password(victim).status_code == 401

    flood(FLOOD)

    # The address's first five attempts still count: five more, then 429.
    for _ in range(5):
        assert wrong_password(victim).status_code == 401
    answer = wrong_password(victim)
    assert answer.status_code == 429, answer.content
    assert answer.data["code"] == "throttled"


def test_an_applied_message_id_survives_a_flood_of_other_keys():
    offline = async_to_sync(apply_once)(uuid.uuid4(), "driver_offline", "off-1")

    flood(FLOOD)

    # A resend is recognised: acknowledged, not applied again.
    assert async_to_sync(acks.applied_ids.claim)(offline) == acks.DONE


def test_throttles_and_applied_ids_each_have_their_own_cache():
    aliases = {"default", "throttles", "acks"}
    assert aliases <= set(settings.CACHES)
    backends = {settings.CACHES[alias]["BACKEND"] for alias in aliases}
    if os.environ.get("REDIS_URL"):
        assert backends == {"django.core.cache.backends.redis.RedisCache"}  # shared by every process
    else:
        assert backends == {"django.core.cache.backends.locmem.LocMemCache"}
        locations = {settings.CACHES[alias]["LOCATION"] for alias in aliases}
        assert len(locations) == 3  # LocMemCache shares the memory of caches with one LOCATION
        for alias in ("throttles", "acks"):
            assert settings.CACHES[alias]["OPTIONS"]["MAX_ENTRIES"] >= 100_000
