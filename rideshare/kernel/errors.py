"""One error shape for the whole API: {"detail": str, "code": str, ...}.

Domain code raises `DomainError` subclasses; the REST exception handler and the WebSocket consumer
both turn them into their wire form, so a rule broken over either channel reads the same.
"""

from django.core.exceptions import RequestDataTooBig
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
        return {"detail": self.detail, "code": self.code, **self.extra}


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


def api_exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status_code)
    if isinstance(exc, RequestDataTooBig):
        # Django's own answer is a 400 (it is a SuspiciousOperation); the body is simply too large.
        return Response(
            {"detail": "The request body is too large.", "code": "request_too_large"},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )

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
