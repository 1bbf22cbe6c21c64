"""The API's authentication: simplejwt's Bearer tokens, sync (DRF's views) and async
(rideshare.kernel.async_views)."""

import time

from cachetools import TLRUCache
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.utils import get_md5_hash_password

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
    """simplejwt's Bearer authentication, and the user's id in every log line of the request.
    `related`: what to load with the user in the same query (a view's subclass names it)."""

    related = ()

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

    def get_user(self, validated_token):
        """simplejwt's, loading `related` with the user."""
        if not self.related:
            return super().get_user(validated_token)
        try:
            user_id = validated_token[jwt_settings.USER_ID_CLAIM]
        except KeyError as e:
            raise InvalidToken(_("Token contained no recognizable user identification")) from e
        try:
            user = self.user_model.objects.select_related(*self.related).get(**{jwt_settings.USER_ID_FIELD: user_id})
        except self.user_model.DoesNotExist as e:
            raise AuthenticationFailed(_("User not found"), code="user_not_found") from e
        if jwt_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
        if jwt_settings.CHECK_REVOKE_TOKEN and validated_token.get(
            jwt_settings.REVOKE_TOKEN_CLAIM
        ) != get_md5_hash_password(user.password):
            raise AuthenticationFailed(_("The user's password has been changed."), code="password_changed")
        return user


class JWTWithLogContextScheme(SimpleJWTScheme):
    """OpenAPI: document the subclasses exactly as simplejwt's Bearer scheme."""

    target_class = JWTAuthenticationWithLogContext
    match_subclasses = True


@receiver(setting_changed)
def _forget_verified_tokens(**kwargs):
    """Tests change the signing key and the token settings; a server reads them once."""
    verified_tokens.clear()
