import functools

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from rideshare.idempotency.decorators import idempotent
from rideshare.kernel.async_views import AsyncAPIView
from rideshare.kernel.throttles import RegisterThrottle

from . import services
from .authentication import DriverJWTAuthentication
from .serializers import DriverSerializer, LocationSerializer, RegisterSerializer, UserSerializer


class RegisterView(APIView):
    """auth/register/: an account, a driver's with its vehicle (drivers.serializers.RegisterSerializer)."""

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


class DriverMeView(APIView):
    schema_errors = ("not_a_driver",)

    @extend_schema(summary="My driver profile", responses=DriverSerializer)
    def get(self, request):
        return Response(DriverSerializer(services.get_driver_profile(request.user)).data)

    @extend_schema(
        summary="Change my vehicle",
        description="Vehicle fields only; availability and position change through their own endpoints.",
        request=DriverSerializer,
        responses=DriverSerializer,
    )
    def patch(self, request):
        driver = services.get_driver_profile(request.user)
        serializer = DriverSerializer(driver, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(serializer.data)


@extend_schema_view(post=extend_schema(
    summary="Go online",
    description="Available for offers (`driver_availability_changed` to all the driver's connections).",
))
class DriverOnlineView(APIView):
    schema_errors = ("not_a_driver",)
    online = True

    @extend_schema(request=None, responses=DriverSerializer)
    @idempotent
    def post(self, request):
        driver = services.set_online(user=request.user, online=self.online)
        return Response(DriverSerializer(driver).data)


@extend_schema_view(post=extend_schema(
    summary="Go offline",
    description="No more offers (`driver_availability_changed` to all the driver's connections).",
))
class DriverOfflineView(DriverOnlineView):
    online = False


class DriverLocationView(AsyncAPIView):
    """Served on the event loop (rideshare.kernel.async_views): a driver reports every 10-30 s;
    the user and the driver profile come from drivers.known_users (or two queries, in a database thread)."""

    authentication_classes = [DriverJWTAuthentication]
    schema_errors = ("not_a_driver",)

    @extend_schema(
        summary="Report my position",
        description="Every 10-30 s while online; relayed to the passenger of the driver's active ride "
        "(`driver_location_update`). Positions older than 2 min are not matched.",
        request=LocationSerializer,
        responses=DriverSerializer,
    )
    async def post(self, request):
        driver = services.get_driver_profile(request.user)  # loaded with the user: no query
        location = _location_serializer().run_validation(request.data)  # as is_valid(raise_exception=True)
        driver = await services.report_position(driver, **location)
        return Response(_driver_serializer().to_representation(driver))


# The location view's serializers, their fields built once: DRF builds (a ModelSerializer: from the
# model's options) and deep-copies them for every instance, a tenth of a position's work. Shared
# safely: used on the event loop only, with no await while one is in use.
@functools.cache
def _location_serializer():
    return LocationSerializer()


@functools.cache
def _driver_serializer():
    return DriverSerializer()
