from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from rideshare.kernel.throttles import LoginThrottle, TokenRefreshThrottle

from .serializers import PhoneTokenObtainPairSerializer, RefreshSerializer, TokenPairSerializer
from .throttles import LoginAccountThrottle


@extend_schema_view(post=extend_schema(
    summary="Log in",
    description="An access token (`Authorization: Bearer`, the WebSocket's `?token=`) and a refresh token.",
    responses=TokenPairSerializer,
))
class PhoneTokenObtainPairView(TokenObtainPairView):
    serializer_class = PhoneTokenObtainPairSerializer
    throttle_classes = [LoginThrottle, LoginAccountThrottle]
    schema_errors = ("no_active_account",)


@extend_schema_view(post=extend_schema(
    summary="Refresh the tokens",
    description="A new access and refresh token; the refresh token sent is blacklisted (a second use is "
    "401 `token_not_valid`).",
))
class RefreshView(TokenRefreshView):
    serializer_class = RefreshSerializer
    throttle_classes = [TokenRefreshThrottle]
    schema_errors = ("token_not_valid",)
