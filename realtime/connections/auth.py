"""WebSocket authentication (JWT access token in the query string) and Origin checking."""

import time
from urllib.parse import parse_qs, urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError
from rest_framework_simplejwt.tokens import AccessToken

from drivers.known_users import known
from realtime.delivery.batching import Batched
from realtime.protocol.close_codes import CLOSE_INVALID_TOKEN, CLOSE_TOKEN_EXPIRED
from rideshare.kernel.logs import bind


def seconds_until_expiry(scope):
    """How long the connection's access token stays valid (None: no expiry known)."""
    expires_at = scope.get("token_expires_at")
    return None if not expires_at else max(0.0, expires_at - time.time())


def query_param(scope, name):
    values = parse_qs(scope.get("query_string", b"").decode("latin1")).get(name)
    return values[0] if values else None


def _active_users(user_ids):
    """In a database thread: the active user (with driver profile) for each id, or None."""
    valid = {}
    for user_id in user_ids:
        try:
            valid[user_id] = get_user_model()._meta.pk.to_python(user_id)
        except (ValueError, ValidationError):  # a signed token with a malformed user id
            pass
    users = get_user_model().objects.filter(pk__in=set(valid.values()), is_active=True).select_related("driver")
    by_pk = {user.pk: user for user in users}
    return [by_pk.get(valid.get(user_id)) for user_id in user_ids]


_active_user = Batched(_active_users)


async def active_user(user_id):
    """A user seen recently comes from drivers.known_users; the others from one query shared by
    every handshake in flight."""
    user = known.get(user_id)
    if user is None:
        user = await _active_user(str(user_id))
        if user is not None:
            known.put(user)
    return user


async def authenticate(token):
    """(user, expires_at, None) or (None, None, close_code). Only access tokens are accepted."""
    if not token:
        return None, None, CLOSE_INVALID_TOKEN
    try:
        access = AccessToken(token)
    except ExpiredTokenError:
        return None, None, CLOSE_TOKEN_EXPIRED
    except TokenError:
        return None, None, CLOSE_INVALID_TOKEN
    user_id = access.get(settings.SIMPLE_JWT["USER_ID_CLAIM"])
    user = await active_user(user_id) if user_id is not None else None
    if user is None:
        return None, None, CLOSE_INVALID_TOKEN
    return user, access.get("exp"), None


class JwtQueryAuthMiddleware:
    """Puts `user`, `token_expires_at` and `auth_close_code` in the scope; the consumer decides."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        user, expires_at, close_code = await authenticate(query_param(scope, "token"))
        if user is not None:
            bind(user_id=user.pk)  # every log line of this connection names its user
        scope = dict(scope, user=user, token_expires_at=expires_at, auth_close_code=close_code)
        return await self.app(scope, receive, send)


def header(scope, wanted):
    """A handshake header's value (the first, latin-1 decoded), None without it."""
    for name, value in scope.get("headers", []):
        if name == wanted:
            return value.decode("latin1")
    return None


DEFAULT_PORTS = {"http": 80, "https": 443}


def _host_port(netloc, scheme):
    """(host, port) of a URL's netloc or a Host header, the scheme's default port filled in."""
    parts = urlsplit(f"//{netloc}")
    try:
        port = parts.port
    except ValueError:
        return None
    return (parts.hostname or "", port or DEFAULT_PORTS.get(scheme))


def same_origin(origin, host):
    """Whether a browser's Origin is the server's own (the page it serves, e.g. the console), read
    from the Host header the browser sent with the handshake: whatever host and port the server is
    reached on, with no configuration. A page elsewhere cannot make its browser send our Host with
    its own Origin, so this opens nothing to other sites."""
    if origin is None or host is None:
        return False
    parts = urlsplit(origin)
    if parts.scheme not in DEFAULT_PORTS:
        return False
    mine = _host_port(host, parts.scheme)
    return mine is not None and _host_port(parts.netloc, parts.scheme) == mine


def origin_allowed(origin, allowed, host=None):
    """Native apps send no Origin and are accepted; browsers from the server's own origin or from
    WS_ALLOWED_ORIGINS."""
    if origin is None:
        return True
    if "*" in allowed or same_origin(origin, host):
        return True
    parts = urlsplit(origin)
    normalized = f"{parts.scheme}://{parts.netloc}".lower()
    return normalized in {o.rstrip("/").lower() for o in allowed}


class OriginValidator:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not origin_allowed(
            header(scope, b"origin"), settings.WS_ALLOWED_ORIGINS, header(scope, b"host")
        ):
            return await WebsocketDenier()(scope, receive, send)
        return await self.app(scope, receive, send)
