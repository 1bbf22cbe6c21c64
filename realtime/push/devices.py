"""Registering and removing a user's devices: the only code that changes them."""

import uuid

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import status

from rideshare.kernel.errors import DomainError, NotFound

from . import fcm, webpush
from .models import Device, DeviceKind, PushDelivery

SERVICES = {DeviceKind.WEBPUSH: webpush, DeviceKind.FCM: fcm}


class DeviceNotFound(NotFound):
    """Unknown, malformed and other users' device ids alike."""

    code = "device_not_found"

    def __init__(self):
        super().__init__(_("Device not found."))


class PushNotConfigured(DomainError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "push_not_configured"


NOT_CONFIGURED = {
    DeviceKind.WEBPUSH: _("This server sends no Web Push notifications."),
    DeviceKind.FCM: _("This server sends no FCM notifications."),
}


def require_configured(kind):
    if not SERVICES[kind].configured():
        raise PushNotConfigured(NOT_CONFIGURED[kind])


@transaction.atomic
def register_device(*, user, kind, address, p256dh="", auth=""):
    """The device with this endpoint or token, for `user` from now on: created, or updated (new
    keys; moved to `user` when the app logged in as someone else, the previous user's pending
    pushes dropped). Keeps the user's PUSH_MAX_DEVICES_PER_USER most recently registered.
    Returns (device, created)."""
    require_configured(kind)
    _take_turns_with_registrations_of(user)
    now = timezone.now()  # after the turn: a later turn stamps a later time, and keeps its device
    device, created = Device.objects.select_for_update().get_or_create(
        kind=kind, address=address,
        defaults={"user": user, "p256dh": p256dh, "auth": auth, "created_at": now, "updated_at": now},
    )
    if not created:
        if device.user_id != user.pk:
            PushDelivery.objects.filter(device=device).delete()
        device.user, device.p256dh, device.auth, device.updated_at = user, p256dh, auth, now
        device.save(update_fields=["user", "p256dh", "auth", "updated_at"])
    older = Device.objects.filter(user=user).order_by("-updated_at", "-created_at").values_list("pk", flat=True)
    stale = list(older[settings.PUSH_MAX_DEVICES_PER_USER:])
    if stale:
        Device.objects.filter(pk__in=stale).delete()
    return device, created


def _take_turns_with_registrations_of(user):
    """Lock the user's row until the transaction ends: registrations of one user run one at a time,
    so each counts the devices the ones before it kept (concurrent ones, each seeing room under the
    cap, kept 16 of 20). On SQLite, where writers already take turns, it is a plain read."""
    list(get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True))


def remove_device(*, user, device_id):
    try:
        device_id = uuid.UUID(str(device_id))
    except ValueError:
        raise DeviceNotFound() from None
    deleted, _ = Device.objects.filter(pk=device_id, user=user).delete()
    if not deleted:
        raise DeviceNotFound()
    return device_id


def devices_of(user):
    return Device.objects.filter(user=user)
