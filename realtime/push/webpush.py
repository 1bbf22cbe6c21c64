"""Web Push (RFC 8030) for browsers and PWAs, through pywebpush: the payload, encrypted to the
subscription's keys (RFC 8291, aes128gcm), is the event's envelope exactly as the socket sends it;
the request is signed with the server's VAPID key (RFC 8292, WEBPUSH_VAPID_*).

Keys: `manage.py generate_vapid_keys` prints a pair. The private key is the raw P-256 scalar and the
public key the uncompressed point, both base64url: the public one is what browsers subscribe with
(`applicationServerKey`, served at GET /api/v1/devices/vapid-public-key/).
"""

import functools
import time

import aiohttp
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from django.core import checks
from py_vapid import Vapid
from py_vapid.utils import b64urlencode
from pywebpush import WebPusher

from . import endpoints, outcomes

# pywebpush's lifetime for the VAPID token: push services refuse one valid for over 24 hours.
VAPID_TOKEN_SECONDS = 12 * 3600
ANSWER_BYTES = 200  # of a push service's answer, kept for the logs


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


def request_for(push, url):
    """(body, headers) of the POST for one push: the envelope encrypted to the subscription's keys
    (pywebpush's aes128gcm), signed with the server's VAPID key for the endpoint's origin."""
    subscription = {"endpoint": str(url), "keys": {"p256dh": push.p256dh, "auth": push.auth}}
    body = WebPusher(subscription).encode(push.text.encode(), "aes128gcm")["body"]
    claims = {"sub": settings.WEBPUSH_VAPID_SUBJECT, "aud": str(url.origin()),
              "exp": int(time.time()) + VAPID_TOKEN_SECONDS}
    headers = {
        **_vapid(settings.WEBPUSH_VAPID_PRIVATE_KEY).sign(claims),
        "Content-Encoding": "aes128gcm",
        "Content-Type": "application/octet-stream",
        "TTL": str(push.ttl),
        # Ride events are what the user waits for: delivered even to a phone saving battery.
        "Urgency": "high",
    }
    return body, headers


async def send(push, session):
    """Send one push (realtime.push.outbox.Push) through `session` (realtime.push.sessions: its
    resolver refuses internal addresses); returns its outcomes.Outcome. The endpoint is parsed
    again by the parser registration used, and a redirect is an answer, never followed."""
    if not configured():
        return outcomes.retry("Web Push is not configured (WEBPUSH_VAPID_PRIVATE_KEY)")
    try:
        url = endpoints.parse(push.address)
    except endpoints.EndpointRefused as exc:  # registered before the rules that refuse it: never sendable
        return outcomes.gone(f"endpoint refused: {exc}")
    try:
        body, headers = request_for(push, url)
    except Exception as exc:  # keys that are not a P-256 point and a 16-byte secret
        return outcomes.rejected(f"cannot encrypt to this subscription: {type(exc).__name__}: {exc}")
    try:
        async with session.post(url, data=body, headers=headers, allow_redirects=False) as response:
            answer = (await response.content.read(ANSWER_BYTES)).decode("utf-8", "replace")
            return outcomes.from_status(response.status, answer[:100], response.headers.get("Retry-After"))
    except aiohttp.ClientConnectorError as exc:
        if isinstance(exc.os_error, endpoints.EndpointAddressRefused):
            return outcomes.rejected(str(exc.os_error))
        return outcomes.retry(f"{type(exc).__name__}: {exc}")
    except (aiohttp.ClientError, OSError) as exc:
        return outcomes.retry(f"{type(exc).__name__}: {exc}")


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


def endpoint_allowed(url):
    """Whether a subscription's endpoint is one the server may POST to (realtime.push.endpoints)."""
    return endpoints.allowed(url)
