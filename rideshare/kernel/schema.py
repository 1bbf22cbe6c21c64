"""OpenAPI (drf-spectacular): every operation documents its error responses in the `{detail,
code}` shape, next to its success response.

Inferred from the view: 400 (and 413) when it takes a body or query parameters, 401 when it needs a
token (or is one of simplejwt's token views), 403 for staff-only views, 404 when the path names an
object, 429 when the operation is throttled (with `Retry-After`). Views add what only they know
with `schema_errors`: a tuple of statuses, or a dict of them by method (`{"post": (409,)}`).
Statuses an operation already documents (`extend_schema(responses=...)`) are left alone.
"""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAdminUser


class ErrorSerializer(serializers.Serializer):
    """Every error of the API: `detail` and `code`, and for some codes one more member."""

    detail = serializers.CharField(help_text="A human-readable message.")
    code = serializers.CharField(help_text="A stable, machine-readable code.")
    errors = serializers.DictField(
        required=False, help_text="`validation_error`: the messages by field (a list, or an object for nested fields)."
    )
    current_status = serializers.CharField(required=False, help_text="`invalid_transition`: the ride's status.")
    ride_id = serializers.UUIDField(required=False, help_text="`active_ride_exists`: the active ride.")
    distance_km = serializers.FloatField(required=False, help_text="`trip_too_long`: the trip's distance.")
    max_distance_km = serializers.FloatField(required=False, help_text="`trip_too_long`: the longest trip served.")

    class Meta:
        ref_name = "Error"


ERROR_DESCRIPTIONS = {
    400: "Invalid input: `validation_error` (with `errors` by field), `parse_error` (malformed, "
    "too deeply nested or non-text JSON), `trip_too_long` (with `distance_km`, `max_distance_km`), "
    "`outside_service_area`.",
    401: "`not_authenticated`, `token_not_valid` (missing, invalid, expired or rotated-out token), "
    "`no_active_account`, `authentication_failed`.",
    403: "Not allowed for this user: `permission_denied`, `not_a_driver`, `not_ride_driver`, "
    "`wrong_vehicle_type`, `own_ride`.",
    404: "`ride_not_found` (also for a ride that is not yours), `not_found`.",
    409: "The current state forbids it: `invalid_transition` (with `current_status`), "
    "`active_ride_exists` (with `ride_id`), `driver_busy`, `driver_offline`, "
    "`driver_position_unknown`, `concurrent_update`.",
    413: "`request_too_large`: the body is over `DATA_UPLOAD_MAX_MEMORY_SIZE`.",
    429: "`throttled`: too many requests; retry after `Retry-After` seconds.",
}

RETRY_AFTER = {
    "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds until a request is allowed again."}
}


def error_responses(*statuses):
    """`extend_schema(responses={200: X, **error_responses(403, 409)})`."""
    return {status: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[status]) for status in statuses}


class AutoSchema(SpectacularAutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for status in sorted(self._error_statuses()):
            if str(status) in responses:
                continue
            response = OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[status])
            responses[str(status)] = self._get_response_for_code(response, str(status), direction=direction)
            if status == 429:
                responses["429"]["headers"] = dict(RETRY_AFTER)
        return responses

    def _error_statuses(self):
        from rest_framework_simplejwt.views import TokenViewBase

        statuses = set()
        view = self.view
        has_body = self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None
        if has_body:
            statuses |= {400, 413}
        if self.get_override_parameters():
            statuses.add(400)
        permissions = view.get_permissions()
        if isinstance(view, TokenViewBase) or not all(isinstance(p, AllowAny) for p in permissions):
            statuses.add(401)
        if any(isinstance(p, IsAdminUser) for p in permissions):
            statuses.add(403)
        if "{" in self.path:
            statuses.add(404)
        if view.get_throttles():
            statuses.add(429)
        declared = getattr(view, "schema_errors", ())
        if isinstance(declared, dict):
            declared = declared.get(self.method.lower(), ())
        statuses |= set(declared)
        return statuses
