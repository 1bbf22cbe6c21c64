"""`POST /api/v1/drivers/me/location/` answered on the event loop, in front of Django.

Why: the guide's drivers report over REST every 10-30 s, and a request through Django's ASGI
handler costs a new thread and several hops between it and the loop (ThreadSensitiveContext, the
sync middleware chain, the sync view) before any work is done: on daphne here that caps even an
empty async view (`/healthz`) near 200 requests/s, while daphne itself answers an ASGI route at
thousands. So the common case of this one endpoint is served here, by the socket path's own
parts: the token checked by simplejwt, the body by the socket's bounds (`realtime.protocol.wire`), the
driver and the ride their positions go to in one query (`realtime.serving.reporters`), the position stored as
`positions.WriteThrough` decides (at once, or in the next batch) and relayed through
`dispatch.send_position`, the answer rendered by the DRF view's serializer and renderer and sent
out through the same middleware response hooks as Django's.

Anything not plainly that case goes to Django unchanged, with the body replayed: every error (an
invalid, expired or missing token, a passenger, an inactive or deleted user, a body the socket's
rules would refuse or not decide alike: numeric strings, unknown keys, anything but a small JSON
object of numbers), another method or path, another content type or Accept, a query string, a
host not allowed, a plain-HTTP request under SECURE_SSL_REDIRECT. Those get exactly the DRF
view's answer (drivers.views.DriverLocationView, which also stays the OpenAPI entry and the path
under WSGI and the test client). REST_LOCATION_FAST_PATH = False sends everything to Django; so
does a middleware list, an authentication, a permission or a throttle on the view other than the
ones this module was written for (they would be skipped here).
"""

import logging
from functools import lru_cache
from io import BytesIO

import msgspec
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpResponse
from django.urls import reverse
from django.utils.module_loading import import_string
from rest_framework.permissions import IsAuthenticated
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from drivers.serializers import DriverSerializer
from drivers.views import DriverLocationView
from realtime.connections import approach, positions
from realtime.delivery import dispatch
from realtime.delivery.db import kept_connection_call
from realtime.protocol import wire
from rideshare.kernel import bounds
from rideshare.kernel.middleware import ERRORS

from . import lifecycle, reporters

logger = logging.getLogger(__name__)

# A position is ~80 bytes; anything much larger is not the common case.
MAX_BODY_BYTES = 1024
JSON = "application/json"
ACCEPTED = {None, JSON, "*/*", "application/*"}
SERVER_ERROR = dict(zip(("detail", "code"), ERRORS[500]))
# The middleware whose request-side behaviour for this path is reproduced below (host check and
# SSL redirect, the request's language; the rest do nothing here); a different list turns the fast path off.
EXPECTED_MIDDLEWARE = (
    "rideshare.kernel.middleware.ApiErrorMiddleware",
    "rideshare.kernel.middleware.SecurityMiddleware",
    "rideshare.kernel.middleware.SessionMiddleware",
    "rideshare.kernel.middleware.LocaleMiddleware",
    "rideshare.kernel.middleware.CommonMiddleware",
    "rideshare.kernel.middleware.CsrfViewMiddleware",
    "rideshare.kernel.middleware.AuthenticationMiddleware",
    "rideshare.kernel.middleware.MessageMiddleware",
    "rideshare.kernel.middleware.XFrameOptionsMiddleware",
)
# Request-side hooks run here: they answer (a redirect) or raise (DisallowedHost) for a request
# Django would not serve as usual, which then goes to Django; the locale's sets the language the
# response names (Content-Language), as Django's path does.
REQUEST_HOOKS = (
    "rideshare.kernel.middleware.SecurityMiddleware",
    "rideshare.kernel.middleware.LocaleMiddleware",
    "rideshare.kernel.middleware.CommonMiddleware",
)


class RestLocation(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The body in the shape the socket's rules and the REST serializer decide alike."""

    latitude: wire.Latitude
    longitude: wire.Longitude
    heading: wire.Heading | None = None
    speed: wire.Speed | None = None


_decode_location = msgspec.json.Decoder(RestLocation).decode


class _Middleware:
    """Instances of the configured middleware, for their request and response hooks."""

    def __init__(self):
        instances = [import_string(path)(lambda request: None) for path in settings.MIDDLEWARE]
        by_path = dict(zip(settings.MIDDLEWARE, instances))
        self.request_hooks = [by_path[path].process_request for path in REQUEST_HOOKS]
        # Django calls process_response innermost first.
        self.response_hooks = [m.process_response for m in reversed(instances) if hasattr(m, "process_response")]


@lru_cache(maxsize=1)
def _middleware():
    return _Middleware()


def _view_is_as_written():
    """The DRF view authenticates with simplejwt only, asks only for a user and throttles nothing:
    what is done here."""
    view = DriverLocationView
    return (
        all(issubclass(cls, JWTAuthentication) for cls in view.authentication_classes)
        and list(view.permission_classes) == [IsAuthenticated]
        and not view.throttle_classes
        and not jwt_settings.CHECK_REVOKE_TOKEN
    )


@lru_cache(maxsize=1)
def enabled():
    return (
        settings.REST_LOCATION_FAST_PATH
        and tuple(settings.MIDDLEWARE) == EXPECTED_MIDDLEWARE
        and _view_is_as_written()
    )


def _plain_request(scope, body):
    """Django's request for this scope if it is the common case, else None."""
    request = ASGIRequest(scope, BytesIO(body))
    meta = request.META
    if meta["QUERY_STRING"] or "HTTP_TRANSFER_ENCODING" in meta:
        return None
    media_type, *parameters = meta.get("CONTENT_TYPE", "").lower().split(";")
    if media_type.strip() != JSON or any(p.strip() not in ("", "charset=utf-8") for p in parameters):
        return None
    accept = meta.get("HTTP_ACCEPT")
    if (accept.strip().lower() if accept is not None else None) not in ACCEPTED:
        return None
    try:
        for hook in _middleware().request_hooks:
            if hook(request) is not None:
                return None
    except Exception:  # noqa: BLE001 - DisallowedHost and the like: Django answers them
        return None
    return request


async def _prepare(scope, body):
    """(request, location, driver) for the common case, or None: Django answers. No effect yet."""
    request = _plain_request(scope, body)
    if request is None:
        return None
    user_id = reporters.authenticated_user_id(request.headers.get("Authorization", "").encode("latin1") or None)
    if user_id is None:
        return None
    try:
        location = _decode_location(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if location.heading is not None:  # whole degrees, as LocationSerializer stores them
        location = msgspec.structs.replace(location, heading=bounds.stored_heading(location.heading))
    driver = await kept_connection_call(reporters.reporting_driver)(user_id)
    return None if driver is None else (request, location, driver)


async def _apply(request, location, driver):
    """Store and relay the position as the socket path does; the view's answer."""
    policy = reporters.policies.get(driver.pk) if lifecycle.background.running else reporters.AtOnce()
    position = positions.stamp(location)
    if driver.assignment is not None:  # relayed first, as the socket path does
        await dispatch.send_position(driver.pk, driver.assignment, **position)
    await positions.store(driver.pk, policy, position)
    if driver.assignment is not None and driver.assignment.approach_unannounced:
        await approach.announce_if_close(driver.pk, driver.assignment, position)
    driver.latitude, driver.longitude = position["latitude"], position["longitude"]
    driver.heading, driver.speed = position["heading"], position["speed"]
    driver.location_updated_at = position["recorded_at"]
    return _response(request, _serializer().to_representation(driver))


@lru_cache(maxsize=1)
def _serializer():
    """The view's serializer, its fields built once (DRF builds them for every instance)."""
    return DriverSerializer()


@lru_cache(maxsize=1)
def _view_headers():
    view = DriverLocationView()
    return view.default_response_headers, view.renderer_classes[0]()


def _response(request, data, status=200):
    """A DRF view's answer, through the middleware response hooks as Django sends it."""
    headers, renderer = _view_headers()
    response = HttpResponse(renderer.render(data), content_type=JSON, status=status)
    for name, value in headers.items():
        response[name] = value
    for hook in _middleware().response_hooks:
        response = hook(request, response)
    return response


def _replay(messages, receive):
    """An ASGI `receive` that gives back the messages already read, then the live ones."""
    pending = list(messages)

    async def replaying_receive():
        if pending:
            return pending.pop(0)
        return await receive()

    return replaying_receive


async def _read_small_body(scope, receive):
    """(body or None if it is not small, the messages read)."""
    headers = dict(scope["headers"])
    try:
        length = int(headers.get(b"content-length", b"-1"))
    except ValueError:
        return None, []
    if not 0 < length <= MAX_BODY_BYTES:
        return None, []
    messages, chunks, size = [], [], 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return None, messages
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > MAX_BODY_BYTES:
            return None, messages
        if not message.get("more_body", False):
            return b"".join(chunks), messages


async def _send(send, response):
    headers = [(name.encode("latin1"), value.encode("latin1")) for name, value in response.items()]
    for cookie in response.cookies.values():
        headers.append((b"Set-Cookie", cookie.output(header="").encode("ascii").strip()))
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": response.content})


class LocationFastPath:
    """ASGI middleware for the `http` scope: the location endpoint's common case here, every
    other request to `app` (Django)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != _location_path() or not enabled():
            return await self.app(scope, receive, send)
        body, read = await _read_small_body(scope, receive)
        prepared = None
        if body is not None:
            try:
                prepared = await _prepare(scope, body)
            except Exception:  # nothing done yet: Django serves the request (and says what fails)
                logger.exception("the location fast path failed; Django answers this request")
        if prepared is None:
            return await self.app(scope, _replay(read, receive), send)
        try:
            response = await _apply(*prepared)
        except Exception:  # the position may be stored: not again through Django
            logger.exception("the location fast path failed after storing the position")
            response = _response(prepared[0], SERVER_ERROR, status=500)
        await _send(send, response)


@receiver(setting_changed)
def _forget_configuration(**kwargs):
    """Tests change settings; the server reads them once, like Django's own handler."""
    enabled.cache_clear()
    _middleware.cache_clear()
    _view_headers.cache_clear()
    _serializer.cache_clear()
    _location_path.cache_clear()


@lru_cache(maxsize=1)
def _location_path():
    return reverse("driver-location")
