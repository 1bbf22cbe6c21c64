"""Web Push (RFC 8030) for browsers and PWAs, through pywebpush: the payload, encrypted to the
subscription's keys (RFC 8291, aes128gcm), is the event's envelope exactly as the socket sends it;
the request is signed with the server's VAPID key (RFC 8292, WEBPUSH_VAPID_*).

Keys: `manage.py generate_vapid_keys` prints a pair. The private key is the raw P-256 scalar and the
public key the uncompressed point, both base64url: the public one is what browsers subscribe with
(`applicationServerKey`, served at GET /api/v1/devices/vapid-public-key/).
"""

import functools
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from django.core import checks
from py_vapid import Vapid
from py_vapid.utils import b64urlencode
from pywebpush import WebPushException, webpush

from . import outcomes


def configured():
    return bool(settings.WEBPUSH_VAPID_PRIVATE_KEY)


@functools.lru_cache(maxsize=4)
def _vapid(private_key):
    return Vapid.from_string(private_key)


def public_key_of(private_key):
    point = _vapid(private_key).public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return b64urlencode(point)


def public_key():
    """The applicationServerKey browsers subscribe with (None when Web Push is not configured)."""
    if not configured():
        return None
    return settings.WEBPUSH_VAPID_PUBLIC_KEY or public_key_of(settings.WEBPUSH_VAPID_PRIVATE_KEY)


def send(push, session):
    """Send one push (realtime.push.outbox.Push); returns its outcomes.Outcome."""
    if not configured():
        return outcomes.retry("Web Push is not configured (WEBPUSH_VAPID_PRIVATE_KEY)")
    subscription = {"endpoint": push.address, "keys": {"p256dh": push.p256dh, "auth": push.auth}}
    try:
        webpush(
            subscription,
            data=push.text,
            vapid_private_key=_vapid(settings.WEBPUSH_VAPID_PRIVATE_KEY),
            # A fresh dict each time: pywebpush writes `aud` (the endpoint's origin) and `exp` into it.
            vapid_claims={"sub": settings.WEBPUSH_VAPID_SUBJECT},
            ttl=push.ttl,
            # Ride events are what the user waits for: delivered even to a phone saving battery.
            headers={"Urgency": "high"},
            timeout=settings.PUSH_TIMEOUT_SECONDS,
            requests_session=session,
        )
    except WebPushException as exc:
        response = exc.response
        if response is None:  # refused before any request: keys that are not a P-256 point
            return outcomes.rejected(exc.message)
        return outcomes.from_status(response.status_code, response.text[:100], response.headers.get("Retry-After"))
    except requests.RequestException as exc:
        return outcomes.retry(f"{type(exc).__name__}: {exc}")
    return outcomes.sent()


@checks.register()
def check_vapid_settings(app_configs=None, **kwargs):
    """`manage.py check` (and every server start) says what is wrong with the WEBPUSH_VAPID_* settings."""
    if not configured():
        return []
    try:
        derived = public_key_of(settings.WEBPUSH_VAPID_PRIVATE_KEY)
    except Exception as exc:
        return [checks.Error(f"WEBPUSH_VAPID_PRIVATE_KEY is not a base64url P-256 private key: {exc}",
                             hint="manage.py generate_vapid_keys prints a pair", id="push.E001")]
    problems = []
    if settings.WEBPUSH_VAPID_PUBLIC_KEY and settings.WEBPUSH_VAPID_PUBLIC_KEY != derived:
        problems.append(checks.Error("WEBPUSH_VAPID_PUBLIC_KEY is not the public key of WEBPUSH_VAPID_PRIVATE_KEY",
                                     hint=f"it is {derived}", id="push.E002"))
    if not settings.WEBPUSH_VAPID_SUBJECT.startswith(("mailto:", "https://")):
        problems.append(checks.Error(
            "WEBPUSH_VAPID_SUBJECT must be a mailto: or https: URL (push services contact the sender there)",
            hint="e.g. mailto:ops@example.cm", id="push.E003"))
    return problems


LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost"}


def endpoint_allowed(url):
    """Whether a subscription's endpoint is one the server may POST to: https to a host of
    WEBPUSH_ENDPOINT_HOSTS (`.example.com`: any subdomain; `*`: any), or plain http to a loopback
    host listed by name (a push service on the same machine: tests, development)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    hosts = [h.lower() for h in settings.WEBPUSH_ENDPOINT_HOSTS]
    if parts.scheme == "http":
        return host in LOOPBACK_HOSTS and host in hosts
    listed = "*" in hosts or any(host == h or (h.startswith(".") and host.endswith(h)) for h in hosts)
    return parts.scheme == "https" and listed
