"""Bearer authentication for the drivers' hot async views: the user with their driver profile."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.drainage import set_override
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from rideshare.accounts.authentication import JWTAuthenticationWithLogContext
from rideshare.kernel.db import request_call

from .known_users import known
from .models import Driver


class DriverJWTAuthentication(JWTAuthenticationWithLogContext):
    """The user with their driver profile loaded (the async view reads it on the event loop): a
    user seen in the last WS_USER_CACHE_SECONDS comes from drivers.known_users, which every server
    process empties of a user whose account or profile changed; the others are checked by
    simplejwt's `get_user`. Only active users are kept there, so a deactivated or deleted user is
    refused as simplejwt refuses them."""

    async def get_user_async(self, validated_token):
        try:
            user_id = validated_token[jwt_settings.USER_ID_CLAIM]
        except KeyError as e:
            raise InvalidToken(_("Token contained no recognizable user identification")) from e
        user = known.get(user_id)
        if user is None:
            user = await request_call(self._user_with_profile)(validated_token)
            known.put(user)
        return user

    def _user_with_profile(self, validated_token):
        user = self.get_user(validated_token)
        try:
            user.driver  # noqa: B018 - loaded here, in the database thread, not on the loop
        except Driver.DoesNotExist:
            pass  # a passenger: cached as such (the view answers 403 not_a_driver)
        return user


# OpenAPI: the same Bearer scheme (`jwtAuth`) as the project's other views, not a second one.
set_override(DriverJWTAuthentication, "suppress_collision_warning", True)
