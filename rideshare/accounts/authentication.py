from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt.authentication import JWTAuthentication

from rideshare.kernel.logs import bind


class JWTAuthenticationWithLogContext(JWTAuthentication):
    """simplejwt's Bearer authentication, and the user's id in every log line of the request."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            bind(user_id=result[0].pk)
        return result


class JWTWithLogContextScheme(SimpleJWTScheme):
    """OpenAPI: document the subclass exactly as simplejwt's Bearer scheme."""

    target_class = JWTAuthenticationWithLogContext
