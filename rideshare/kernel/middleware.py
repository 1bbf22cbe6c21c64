"""Every error under /api/ in the `{detail, code}` shape, whatever produced it.

DRF views already answer so (the exception handler in `errors.py`). What is left are the
responses Django makes itself: 404 for a path no URL matches, 500 for an exception no handler
caught (and its DEBUG page), 400 for a SuspiciousOperation, 413 for a body over
DATA_UPLOAD_MAX_MEMORY_SIZE read outside a DRF view. This middleware, the outermost, rewrites
those as JSON for /api/ paths only: the admin and the other pages keep Django's HTML.
"""

import json

from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from django.utils import translation
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


class ApiErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code < 400
            or not request.path.startswith(API_PREFIX)
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

    def process_exception(self, request, exception):
        # Django answers a RequestDataTooBig with a 400; remember it was the size.
        if isinstance(exception, RequestDataTooBig):
            request._api_too_large = True
        return None
