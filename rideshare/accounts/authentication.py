"""The API's authentication: simplejwt's Bearer tokens, sync (DRF's views) and async
(rideshare.kernel.async_views)."""

import time

from cachetools import TLRUCache
from django.core.signals import setting_changed
from django.dispatch import receiver
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt.authentication import JWTAuthentication

from rideshare.kernel.db import request_call
from rideshare.kernel.logs import bind


def _good_until(raw, token, now):
    return token["exp"] + token.get_token_backend().get_leeway().total_seconds()


# Access tokens whose signature and claims passed in this process, until they expire: a driver
# sends the same token every few seconds for its lifetime, and checking the signature each time
# was a fifth of a position's work. A token that passed stays good until its `exp` (plus the
# leeway): the answer is the same. Touched only on the event loop.
verified_tokens = TLRUCache(maxsize=20_000, ttu=_good_until, timer=time.time)


class JWTAuthenticationWithLogContext(JWTAuthentication):
    """simplejwt's Bearer authentication, and the user's id in every log line of the request."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            bind(user_id=result[0].pk)
        return result

    async def authenticate_async(self, request):
        """`authenticate` for an async view: the signature checked once per token, the user
        loaded through rideshare.kernel.db.request_call."""
        header = self.get_header(request)
        if header is None:
            return None
        raw = self.get_raw_token(header)
        if raw is None:
            return None
        token = verified_tokens.get(raw)
        if token is None:
            token = verified_tokens[raw] = self.get_validated_token(raw)
        user = await self.get_user_async(token)
        bind(user_id=user.pk)
        return user, token

    async def get_user_async(self, validated_token):
        return await request_call(self.get_user)(validated_token)


class JWTWithLogContextScheme(SimpleJWTScheme):
    """OpenAPI: document the subclasses exactly as simplejwt's Bearer scheme."""

    target_class = JWTAuthenticationWithLogContext
    match_subclasses = True


@receiver(setting_changed)
def _forget_verified_tokens(**kwargs):
    """Tests change the signing key and the token settings; a server reads them once."""
    verified_tokens.clear()
