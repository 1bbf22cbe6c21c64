import binascii

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from py_vapid.utils import b64urldecode
from rest_framework import serializers

from . import endpoints
from .models import Device, DeviceKind


def _base64url(value, length, message):
    try:
        raw = b64urldecode(value.encode())
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != length:
        raise serializers.ValidationError(message)
    return raw


NOT_A_PUBLIC_KEY = _("Not an uncompressed P-256 public key (base64url, 65 bytes).")
NOT_AN_AUTH_SECRET = _("Not an auth secret (base64url, 16 bytes).")
NOT_A_PUSH_SERVICE = _("Not the https URL of a known push service.")
REQUIRED_FOR_KIND = _("This field is required for kind %(kind)s.")


class WebPushKeysSerializer(serializers.Serializer):
    p256dh = serializers.CharField(max_length=128, help_text="the subscription's P-256 public key, base64url")
    auth = serializers.CharField(max_length=64, help_text="the subscription's auth secret, base64url")

    def validate_p256dh(self, value):
        if _base64url(value, 65, NOT_A_PUBLIC_KEY)[0] != 4:
            raise serializers.ValidationError(NOT_A_PUBLIC_KEY)
        return value

    def validate_auth(self, value):
        _base64url(value, 16, NOT_AN_AUTH_SECRET)
        return value


class WebPushSubscriptionSerializer(serializers.Serializer):
    """What the browser's `PushSubscription.toJSON()` gives (`expirationTime` is ignored)."""

    endpoint = serializers.URLField(max_length=1024)
    keys = WebPushKeysSerializer()

    def validate_endpoint(self, value):
        """Stored in its normal form, as realtime.push.endpoints reads it (and will send to it)."""
        try:
            return str(endpoints.parse(value))
        except endpoints.EndpointRefused:
            raise serializers.ValidationError(NOT_A_PUSH_SERVICE) from None


class DeviceRegistrationSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=DeviceKind.choices)
    subscription = WebPushSubscriptionSerializer(required=False, help_text="`webpush`: the push subscription")
    token = serializers.RegexField(r"^[\x21-\x7e]+$", max_length=1024, required=False,
                                   help_text="`fcm`: the app's FCM registration token")

    def validate(self, attrs):
        needed = "subscription" if attrs["kind"] == DeviceKind.WEBPUSH else "token"
        if needed not in attrs:
            raise serializers.ValidationError({needed: [REQUIRED_FOR_KIND % {"kind": attrs["kind"]}]})
        return attrs

    def device_fields(self):
        """The keyword arguments of realtime.push.devices.register_device."""
        data = self.validated_data
        if data["kind"] == DeviceKind.WEBPUSH:
            subscription = data["subscription"]
            return {"kind": data["kind"], "address": subscription["endpoint"], **subscription["keys"]}
        return {"kind": data["kind"], "address": data["token"]}


class DeviceSerializer(serializers.ModelSerializer):
    endpoint = serializers.SerializerMethodField(help_text="`webpush`: the subscription's endpoint")
    token = serializers.SerializerMethodField(help_text="`fcm`: the registration token")

    class Meta:
        model = Device
        fields = ["id", "kind", "endpoint", "token", "created_at", "updated_at"]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_endpoint(self, device):
        return device.address if device.kind == DeviceKind.WEBPUSH else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_token(self, device):
        return device.address if device.kind == DeviceKind.FCM else None


class DeviceRemovedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    deleted = serializers.BooleanField()


class VapidPublicKeySerializer(serializers.Serializer):
    public_key = serializers.CharField(help_text="`applicationServerKey` for `pushManager.subscribe()`, base64url")
