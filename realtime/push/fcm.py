"""FCM HTTP v1 for native apps: `POST {FCM_ENDPOINT}/v1/projects/{project}/messages:send` with an
OAuth2 access token minted from a service account's JSON key (FCM_CREDENTIALS_FILE): a JWT signed
with its private key (PyJWT, RS256) traded at the token URI the key names (RFC 7523), kept until a
minute before it expires.

The message is a data message: `data` holds `type`, `id` and `envelope`, the event's envelope
exactly as the socket sends it (FCM data values are strings), so the app reads pushes and socket
events with one parser. High priority on Android; on iOS a background notification
(`content-available`) that wakes the app to read it.
"""

import asyncio
import functools
import json
import time

import aiohttp
import jwt
from django.conf import settings

from . import outcomes

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_SECONDS = 3600  # the longest Google accepts
RENEW_BEFORE_SECONDS = 60


def configured():
    return bool(settings.FCM_CREDENTIALS_FILE)


@functools.lru_cache(maxsize=4)
def service_account(path):
    """The service account's key file: client_email, private_key, token_uri, project_id."""
    with open(path) as f:
        account = json.load(f)
    missing = {"client_email", "private_key", "token_uri"} - set(account)
    if missing:
        raise ValueError(f"{path}: not a service account key (no {', '.join(sorted(missing))})")
    return account


def project_id():
    return settings.FCM_PROJECT_ID or service_account(settings.FCM_CREDENTIALS_FILE).get("project_id", "")


class AccessTokens:
    """OAuth2 access tokens, one per key file, minted one at a time (sends wanting one wait for
    the mint in progress) and kept until RENEW_BEFORE_SECONDS before they expire. `clock` is
    injectable (tests)."""

    def __init__(self, clock=time.time):
        self.clock = clock
        self.locks = {}  # event loop -> its asyncio.Lock (`manage.py send_push` runs a loop per round)
        self.tokens = {}  # key file -> (access token, expires at)

    def _lock(self):
        loop = asyncio.get_running_loop()
        if loop not in self.locks:
            self.locks = {loop: asyncio.Lock()}
        return self.locks[loop]

    async def get(self, session):
        path = settings.FCM_CREDENTIALS_FILE
        async with self._lock():
            token, expires_at = self.tokens.get(path, (None, 0.0))
            if token is None or self.clock() >= expires_at - RENEW_BEFORE_SECONDS:
                token, expires_at = await self._mint(service_account(path), session)
                self.tokens[path] = (token, expires_at)
            return token

    def forget(self):
        """The service answered 401: the next send mints a new token."""
        self.tokens.pop(settings.FCM_CREDENTIALS_FILE, None)

    async def _mint(self, account, session):
        now = int(self.clock())
        claims = {"iss": account["client_email"], "scope": SCOPE, "aud": account["token_uri"],
                  "iat": now, "exp": now + ASSERTION_SECONDS}
        headers = {"kid": account["private_key_id"]} if account.get("private_key_id") else None
        assertion = jwt.encode(claims, account["private_key"], algorithm="RS256", headers=headers)
        form = {"grant_type": JWT_BEARER, "assertion": assertion}
        async with session.post(account["token_uri"], data=form, allow_redirects=False) as response:
            response.raise_for_status()
            body = await response.json(content_type=None)
        return body["access_token"], now + float(body.get("expires_in", ASSERTION_SECONDS))


tokens = AccessTokens()


def message(push):
    """The body of messages:send for one push (realtime.push.outbox.Push)."""
    return {
        "message": {
            "token": push.address,
            "data": {"type": push.event_type, "id": str(push.event_id), "envelope": push.text},
            "android": {"priority": "HIGH", "ttl": f"{push.ttl}s"},
            "apns": {
                "headers": {"apns-push-type": "background", "apns-priority": "5",
                            "apns-expiration": str(int(push.expires_at.timestamp()))},
                "payload": {"aps": {"content-available": 1}},
            },
        }
    }


def _error_code(body):
    """FCM's errorCode (UNREGISTERED, SENDER_ID_MISMATCH, ...) from an error answer's body, or ""."""
    try:
        details = json.loads(body)["error"].get("details", [])
    except (ValueError, KeyError, TypeError, AttributeError):
        return ""
    return next((d.get("errorCode", "") for d in details if isinstance(d, dict) and d.get("errorCode")), "")


ANSWER_BYTES = 64 * 1024  # of an error answer: FCM's are a few hundred bytes


async def send(push, session):
    """Send one push through `session` (realtime.push.sessions); returns its outcomes.Outcome."""
    if not configured():
        return outcomes.retry("FCM is not configured (FCM_CREDENTIALS_FILE)")
    try:
        access_token = await tokens.get(session)
        url = f"{settings.FCM_ENDPOINT.rstrip('/')}/v1/projects/{project_id()}/messages:send"
    except (OSError, ValueError, KeyError, aiohttp.ClientError, jwt.PyJWTError) as exc:
        return outcomes.retry(f"no access token: {type(exc).__name__}: {exc}")
    try:
        async with session.post(url, json=message(push), headers={"Authorization": f"Bearer {access_token}"},
                                allow_redirects=False) as response:
            status, reason, retry_after = response.status, response.reason or "", response.headers.get("Retry-After")
            body = b"" if 200 <= status < 300 else await response.content.read(ANSWER_BYTES)
    except (aiohttp.ClientError, OSError) as exc:
        return outcomes.retry(f"{type(exc).__name__}: {exc}")
    if status == 401:
        tokens.forget()
    code = _error_code(body)
    if code in ("UNREGISTERED", "SENDER_ID_MISMATCH"):  # the token is no longer this app's
        return outcomes.gone(f"{status} {code}")
    if status == 404:  # not the token's fault (a wrong project or endpoint): keep the device
        return outcomes.retry(f"404 {reason} from {url}")
    return outcomes.from_status(status, code or reason, retry_after)
