"""FCM's OAuth2 access tokens: minted from the service account, kept until a minute before they
expire (an injected clock), minted again after the service refused one (401)."""

import aiohttp

from realtime.push import fcm
from realtime.tests.clocks import FakeClock


async def test_an_access_token_is_kept_until_a_minute_before_it_expires(push_services):
    clock = FakeClock(start=1_000_000)
    tokens = fcm.AccessTokens(clock=clock)
    async with aiohttp.ClientSession() as session:
        assert await tokens.get(session) == "fake-access-token-1"
        clock.advance(3600 - fcm.RENEW_BEFORE_SECONDS - 1)
        assert await tokens.get(session) == "fake-access-token-1"
        clock.advance(1)
        assert await tokens.get(session) == "fake-access-token-2"
        tokens.forget()
        assert await tokens.get(session) == "fake-access-token-3"
    assert len(push_services.tokens_issued) == 3
