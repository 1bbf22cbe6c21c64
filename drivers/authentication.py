"""Bearer authentication for the drivers' hot async views: the user with their driver profile."""

from django.utils.translation import gettext_lazy as _
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from rideshare.accounts.authentication import JWTAuthenticationWithLogContext

from .known_users import known


class DriverJWTAuthentication(JWTAuthenticationWithLogContext):
    """The user and their driver profile in one query, or none: a user seen in the last
    WS_USER_CACHE_SECONDS comes from drivers.known_users, which every server process empties of a
    user whose account or profile changed. Only active users are kept there, so a deactivated or
    deleted user is refused as simplejwt refuses them."""

    related = ("driver",)

    async def get_user_async(self, validated_token):
        try:
            user_id = validated_token[jwt_settings.USER_ID_CLAIM]
        except KeyError as e:
            raise InvalidToken(_("Token contained no recognizable user identification")) from e
        user = known.get(user_id)
        if user is None:
            user = await super().get_user_async(validated_token)
            known.put(user)
        return user
