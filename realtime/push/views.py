from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from rideshare.idempotency.decorators import idempotent

from . import devices, webpush
from .models import DeviceKind
from .serializers import (
    DeviceRegistrationSerializer,
    DeviceRemovedSerializer,
    DeviceSerializer,
    VapidPublicKeySerializer,
)


class DeviceListView(APIView):
    schema_errors = {"post": ("push_not_configured",)}

    @extend_schema(summary="My devices", description="The devices registered for push, most recent first.",
                   responses=DeviceSerializer(many=True))
    def get(self, request):
        return Response(DeviceSerializer(devices.devices_of(request.user), many=True).data)

    @extend_schema(
        summary="Register a device for push",
        description="Where to push ride events while the app has no open socket (an offer, accepted, "
        "approaching, arrived, started, completed, cancelled): the same envelope as on the socket. "
        '`{"kind": "webpush", "subscription": <PushSubscription.toJSON()>}` from a browser or PWA '
        '(subscribed with the key of `GET devices/vapid-public-key/`), `{"kind": "fcm", "token": ...}` '
        "from a native app. One device per endpoint or token: registering it again (each app start, "
        "after a token refresh or another login) updates it, 200 instead of 201. 503 "
        "`push_not_configured` when the server has no credentials for that kind.",
        request=DeviceRegistrationSerializer,
        responses={201: DeviceSerializer, 200: DeviceSerializer},
    )
    @idempotent
    def post(self, request):
        registration = DeviceRegistrationSerializer(data=request.data)
        registration.is_valid(raise_exception=True)
        device, created = devices.register_device(user=request.user, **registration.device_fields())
        return Response(DeviceSerializer(device).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class DeviceView(APIView):
    schema_errors = ("device_not_found",)

    @extend_schema(summary="Remove a device",
                   description="No more pushes to it (log out, notifications turned off). By the `id` "
                   "registering it answered.",
                   responses={200: DeviceRemovedSerializer})
    def delete(self, request, device_id):
        removed = devices.remove_device(user=request.user, device_id=device_id)
        return Response({"id": str(removed), "deleted": True})


class VapidPublicKeyView(APIView):
    schema_errors = ("push_not_configured",)

    @extend_schema(summary="Web Push key", description="The server's VAPID public key: the "
                   "`applicationServerKey` a browser subscribes with, once the user is logged in. 503 `push_not_configured` "
                   "without one.", responses=VapidPublicKeySerializer)
    def get(self, request):
        devices.require_configured(DeviceKind.WEBPUSH)
        return Response({"public_key": webpush.public_key()})
