"""One error shape for the whole API: {"detail": str, "code": str, ...}.

Domain code raises `DomainError` subclasses; the REST exception handler and the WebSocket consumer
both turn them into their wire form, so a rule broken over either channel reads the same.
A `detail` is marked for translation where it is written (a lazy string: rideshare.kernel.translation)
and read as text here, in the request's language; the `code` is the same in every language.
"""

import logging

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class DomainError(Exception):
    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid"

    def __init__(self, detail, *, code=None, **extra):
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        self.extra = extra

    def as_dict(self):
        """The REST body, `detail` as text in the active language."""
        return {"detail": str(self.detail), "code": self.code, **self.extra}


class NotFound(DomainError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"


class Forbidden(DomainError):
    status_code = status.HTTP_403_FORBIDDEN
    code = "forbidden"


class Conflict(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "conflict"


def first_error_message(errors):
    """The first human-readable message of a DRF error tree, prefixed with its field path."""
    if isinstance(errors, dict):
        for key, value in errors.items():
            inner = first_error_message(value)
            prefix = "" if key == "non_field_errors" else f"{key}: "
            return prefix + inner
    if isinstance(errors, list) and errors:
        return first_error_message(errors[0])
    return str(errors)


REQUEST_TOO_LARGE = _("The request body is too large.")
BAD_REQUEST = _("Bad request.")


def api_exception_handler(exc, context):
    # In the request's language (LocaleMiddleware read it from Accept-Language). DRF's and
    # simplejwt's own messages were translated when raised, in the same language.
    language = getattr(context.get("request"), "LANGUAGE_CODE", None) or translation.get_language()
    with translation.override(language):
        return _error_response(exc, context)


def _error_response(exc, context):
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status_code)
    if isinstance(exc, RequestDataTooBig):
        # Django's own answer is a 400 (it is a SuspiciousOperation); the body is simply too large.
        return Response(
            {"detail": str(REQUEST_TOO_LARGE), "code": "request_too_large"},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, SuspiciousOperation):
        # Django's 400 (too many query or form fields, say), answered here rather than raised on:
        # with DEBUG on, DRF and then Django's technical page read the same request.GET again and
        # fail again, so the same request answered 500 under DEBUG and 400 without it. Logged where
        # Django logs it, in one line: hostile input is not worth a traceback per request.
        logging.getLogger(f"django.security.{type(exc).__name__}").error("%s", exc)
        return Response({"detail": str(BAD_REQUEST), "code": "bad_request"}, status=status.HTTP_400_BAD_REQUEST)

    response = exception_handler(exc, context)
    if response is None:
        return None

    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "detail": first_error_message(exc.detail),
            "code": "validation_error",
            "errors": exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail},
        }
        return response

    codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else None
    code = codes if isinstance(codes, str) else getattr(exc, "default_code", "error")
    detail = response.data.get("detail", str(exc)) if isinstance(response.data, dict) else str(exc)
    response.data = {"detail": str(detail), "code": code}
    return response
