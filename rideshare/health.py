"""Liveness (/healthz), readiness (/readyz) and Prometheus metrics (/metrics) for operators."""

import asyncio
import ipaddress

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken


async def healthz(request):
    """The process is up and serving: no dependency is checked."""
    return JsonResponse({"status": "ok"})


def _database_ok():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone() == (1,)


async def _channel_layer_ok():
    layer = get_channel_layer()
    channel = await layer.new_channel("readyz.")
    await layer.send(channel, {"type": "readyz.ping"})
    return (await layer.receive(channel))["type"] == "readyz.ping"


async def _check(probe, timeout):
    try:
        return bool(await asyncio.wait_for(probe(), timeout))
    except Exception:  # a down dependency is an answer here, not an error
        return False


async def readyz(request):
    """Can this process serve traffic: a database query and a channel-layer round trip."""
    timeout = settings.READINESS_TIMEOUT_SECONDS
    database, layer = await asyncio.gather(
        _check(sync_to_async(_database_ok), timeout), _check(_channel_layer_ok, timeout)
    )
    failing = [name for name, ok in (("database", database), ("channel_layer", layer)) if not ok]
    if failing:
        return JsonResponse({"status": "unavailable", "failing": failing}, status=503)
    return JsonResponse({"status": "ok"})


def _from_allowed_network(request):
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net) for net in settings.METRICS_ALLOWED_NETWORKS)


def _is_staff(request):
    if getattr(request, "user", None) is not None and request.user.is_authenticated and request.user.is_staff:
        return True  # an admin session
    try:
        authenticated = JWTAuthentication().authenticate(request)
    except (InvalidToken, AuthenticationFailed):
        return False
    return bool(authenticated and authenticated[0].is_staff)


def metrics(request):
    """Prometheus exposition, for the configured networks or staff only."""
    if not (_from_allowed_network(request) or _is_staff(request)):
        return JsonResponse({"detail": "Metrics are for operators.", "code": "forbidden"}, status=403)
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)
