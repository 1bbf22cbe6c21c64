from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from rideshare.idempotency.decorators import idempotent
from rideshare.kernel.throttles import LoginThrottle, RegisterThrottle, TokenRefreshThrottle

from .serializers import (
    PhoneTokenObtainPairSerializer,
    RefreshSerializer,
    RegisterSerializer,
    TokenPairSerializer,
    UserSerializer,
)
from .throttles import LoginAccountThrottle


class RegisterView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [RegisterThrottle]

    @extend_schema(
        summary="Register",
        description="A passenger account, or a driver account with `driver` (the vehicle). Local phone "
        "formats are accepted and normalised (`6 71 23 45 67` → `+237671234567`).",
        request=RegisterSerializer,
        responses={201: UserSerializer},
    )
    @idempotent
    def post(self, request):
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = serializer.save()
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)


class MeView(APIView):
    @extend_schema(summary="Me", description="The user, with `is_driver` and the driver profile.", responses=UserSerializer)
    def get(self, request):
        return Response(UserSerializer(request.user).data)


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
