"""The project's middleware: one HTTP path for API requests that never leaves the event loop
before the view, and Django's usual stack for the pages (admin, console).

Under ASGI, Django runs a middleware built on `MiddlewareMixin` by calling its `process_request`
and `process_response` in a thread (`sync_to_async`), a hop there and back per middleware per
request: with Django's nine that was two thirds of an API request's time. So:

- `ApiErrorMiddleware` is written for both modes (async under ASGI, sync under WSGI and the test
  client);
- the middleware whose hooks only read and write the request and response (security headers and
  redirect, language, common, frame options) run those hooks on the loop (`InLoop`): they do no
  I/O, so nothing blocks;
- the middleware of a browser session (sessions, CSRF, the session's user, messages: they may read
  and write the database) run, as Django runs them, only for the paths a staff member reaches
  with the admin's login cookie (SESSION_PATHS: the admin, /metrics); everything else is public or
  authenticates with bearer tokens (JWT), which those middleware do nothing for (`SessionPathsOnly`).

Each is a subclass of Django's own, so Django's checks (the admin's) and settings still apply.

`ApiErrorMiddleware`: every error under /api/ in the `{detail, code}` shape, whatever produced
it. DRF views already answer so (the exception handler in `errors.py`). What is left are the
responses Django makes itself: 404 for a path no URL matches, 500 for an exception no handler
caught (and its DEBUG page), 400 for a SuspiciousOperation, 413 for a body over
DATA_UPLOAD_MAX_MEMORY_SIZE read outside a DRF view. This middleware, the outermost, rewrites
those as JSON for /api/ paths only: the admin and the other pages keep Django's HTML.
"""

import json

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.core import checks
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from django.middleware import clickjacking, common, csrf, locale, security
from django.utils import translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _
from rest_framework.response import Response as DRFResponse

API_PREFIX = "/api/"

ERRORS = {
    400: (_("Bad request."), "bad_request"),
    403: (_("You do not have permission to perform this action."), "permission_denied"),
    404: (_("Not found."), "not_found"),
    405: (_("Method not allowed."), "method_not_allowed"),
    413: (_("The request body is too large."), "request_too_large"),
    500: (_("A server error occurred."), "server_error"),
}
OTHER_CLIENT_ERROR = (_("Request failed."), "error")
OTHER_SERVER_ERROR = (_("Server error."), "server_error")


def error_body(status, language=None):
    """The JSON body for `status`, its `detail` in `language` (LocaleMiddleware's; default English)."""
    detail, code = ERRORS.get(status, OTHER_CLIENT_ERROR if status < 500 else OTHER_SERVER_ERROR)
    with translation.override(language or translation.get_language()):
        return json.dumps({"detail": str(detail), "code": code}).encode()


def is_api(request):
    return request.path.startswith(API_PREFIX)


def uses_session(request):
    return request.path.startswith(tuple(settings.SESSION_PATHS))


def as_api_error(request, response):
    """`response`, or its `{detail, code}` JSON form for an error Django made under /api/."""
    if (
        response.status_code < 400
        or not is_api(request)
        or isinstance(response, DRFResponse)  # already the shape (even rendered as HTML)
        or response.get("Content-Type", "").startswith("application/json")
    ):
        return response
    status = 413 if getattr(request, "_api_too_large", False) else response.status_code
    body = error_body(status, getattr(request, "LANGUAGE_CODE", None))
    replacement = HttpResponse(body, status=status, content_type="application/json")
    for header, value in response.items():  # Allow, Retry-After, security headers...
        if header.lower() not in ("content-type", "content-length"):
            replacement[header] = value
    replacement.cookies = response.cookies
    return replacement


class ApiErrorMiddleware:
    sync_capable = async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.async_mode:
            return self._acall(request)
        return as_api_error(request, self.get_response(request))

    async def _acall(self, request):
        return as_api_error(request, await self.get_response(request))

    def process_exception(self, request, exception):
        # Django answers a RequestDataTooBig with a 400; remember it was the size.
        if isinstance(exception, RequestDataTooBig):
            request._api_too_large = True
        return None


class InLoop:
    """For a MiddlewareMixin whose hooks do no I/O: under ASGI they run on the event loop."""

    def __call__(self, request):
        if not self.async_mode:
            return super().__call__(request)
        return self._in_loop(request)

    async def _in_loop(self, request):
        response = self.process_request(request) if hasattr(self, "process_request") else None
        if response is None:
            response = await self.get_response(request)
        if hasattr(self, "process_response"):
            response = self.process_response(request, response)
        return response


class SessionPathsOnly:
    """For a MiddlewareMixin of the browser session: run for SESSION_PATHS only."""

    def __call__(self, request):
        if not uses_session(request):
            return self.get_response(request)
        return super().__call__(request)


class SecurityMiddleware(InLoop, security.SecurityMiddleware):
    pass


class LocaleMiddleware(InLoop, locale.LocaleMiddleware):
    pass


class CommonMiddleware(InLoop, common.CommonMiddleware):
    pass


class XFrameOptionsMiddleware(InLoop, clickjacking.XFrameOptionsMiddleware):
    pass


class SessionMiddleware(SessionPathsOnly, sessions.SessionMiddleware):
    pass


class AuthenticationMiddleware(SessionPathsOnly, auth.AuthenticationMiddleware):
    pass


class MessageMiddleware(SessionPathsOnly, messages.MessageMiddleware):
    pass


class CsrfViewMiddleware(SessionPathsOnly, csrf.CsrfViewMiddleware):
    """Its view hook too: Django would call it in a thread for every request, so under ASGI it is
    a coroutine that returns at once outside SESSION_PATHS."""

    @property
    def process_view(self):
        check = super().process_view
        if not self.async_mode:
            return lambda request, *args: check(request, *args) if uses_session(request) else None

        async def process_view(request, *args):
            return await sync_to_async(check)(request, *args) if uses_session(request) else None

        return process_view


# Django's own deploy checks look for its classes by their dotted paths (security.W001, W002,
# W003, silenced in settings); these look for them as the classes they are, subclasses included.
PROTECTIONS = {
    security.SecurityMiddleware: ("rideshare.W001", "SECURE_HSTS_SECONDS, SECURE_CONTENT_TYPE_NOSNIFF, "
                                  "SECURE_REFERRER_POLICY and SECURE_SSL_REDIRECT have no effect"),
    clickjacking.XFrameOptionsMiddleware: ("rideshare.W002", "pages are served without X-Frame-Options"),
    csrf.CsrfViewMiddleware: ("rideshare.W003", "the admin's forms are not protected against CSRF"),
}


@checks.register(checks.Tags.security, deploy=True)
def check_protective_middleware(app_configs=None, **kwargs):
    """MIDDLEWARE holds Django's security, frame-options and CSRF middleware, or subclasses of them."""
    classes = [import_string(path) for path in settings.MIDDLEWARE]
    return [
        checks.Warning(f"No {protection.__name__} (or subclass) in MIDDLEWARE: {effect}.", id=check_id)
        for protection, (check_id, effect) in PROTECTIONS.items()
        if not any(issubclass(cls, protection) for cls in classes if isinstance(cls, type))
    ]
