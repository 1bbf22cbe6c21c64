"""Liveness (/healthz), readiness (/readyz) and Prometheus metrics (/metrics) for operators."""

import asyncio

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken

from rideshare.kernel import proxies


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
    # REMOTE_ADDR is the client as the server resolved it (realtime.server trusts X-Forwarded-For
    # only from TRUSTED_PROXIES). Resolved again here, the same way, in case the server took the
    # header's leftmost entry (plain `daphne --proxy-headers`) or ignored it (no --proxy-headers:
    # every proxied request would otherwise come from the proxy's own, allowed, address).
    client = proxies.request_client(request)
    return proxies.is_trusted(client, proxies.networks(tuple(settings.METRICS_ALLOWED_NETWORKS)))


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
