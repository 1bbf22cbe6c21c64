"""OpenAPI (drf-spectacular): every operation documents its error responses in the `{detail,
code}` shape, next to its success response, and each error response says which codes this
operation can answer with (an app switches on `code`, so the list is the contract).

Inferred from the view: 400 `validation_error`/`parse_error` and 413 when it takes a body (400
`validation_error` for query parameters), 401 when it needs a token, 403 `permission_denied` for
staff-only views, 404 when the path names an object, 429 `throttled` (with `Retry-After`) when it
is throttled. Views add the codes only they know with `schema_errors`: a tuple of codes, or a dict
of them by method (`{"post": ("active_ride_exists",)}`); each code's status comes from
`ERROR_CODES`, so a misspelt code fails the schema's generation.
"""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
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


# Every code an operation may be documented with: its status, and what it carries or means.
ERROR_CODES = {
    "validation_error": (400, "with `errors` by field"),
    "parse_error": (400, "malformed, too deeply nested or non-text JSON"),
    "trip_too_long": (400, "with `distance_km`, `max_distance_km`"),
    "outside_service_area": (400, "the pickup is outside `SERVICE_AREA`"),
    "invalid_idempotency_key": (400, "the `Idempotency-Key` header is not 1-255 printable ASCII characters"),
    "not_authenticated": (401, "no token"),
    "token_not_valid": (401, "invalid, expired, refresh-type or rotated-out token"),
    "authentication_failed": (401, "a malformed `Authorization` header, or the token's user was deleted or deactivated"),
    "no_active_account": (401, "wrong phone number or password, or an inactive account"),
    "permission_denied": (403, "staff only"),
    "not_a_driver": (403, "needs a driver account"),
    "not_ride_driver": (403, "only the ride's driver"),
    "wrong_vehicle_type": (403, "the ride needs the other vehicle type"),
    "own_ride": (403, "a driver cannot accept their own request"),
    "ride_not_found": (404, "also for a ride that is not yours"),
    "device_not_found": (404, "also for another user's device"),
    "not_found": (404, ""),
    "invalid_transition": (409, "with `current_status`"),
    "active_ride_exists": (409, "with `ride_id`"),
    "driver_offline": (409, "go online first"),
    "driver_position_unknown": (409, "report a position first"),
    "driver_busy": (409, "finish the current ride first"),
    "concurrent_update": (409, "the ride changed meanwhile: reload it"),
    "already_rated": (409, "each participant rates a ride once"),
    "request_too_large": (413, "the body is over `DATA_UPLOAD_MAX_MEMORY_SIZE`"),
    "idempotency_key_reused": (422, "the `Idempotency-Key` was used for another request within 24 h"),
    "throttled": (429, "retry after `Retry-After` seconds"),
    "push_not_configured": (503, "no VAPID keys (Web Push) or FCM credentials on this server"),
    "presence_unavailable": (503, "Redis (the connection figures) cannot be reached: try again shortly"),
}

STATUS_TITLES = {
    400: "Invalid input",
    401: "Not authenticated",
    403: "Not allowed for this user",
    404: "Not found",
    409: "The current state forbids it",
    413: "The body is too large",
    422: "The request cannot be processed",
    429: "Too many requests",
    503: "Not available (on this server, or right now)",
}

# A token check (simplejwt's Bearer authentication) can answer any of these.
BEARER_ERRORS = ("not_authenticated", "token_not_valid", "authentication_failed")

RETRY_AFTER = {
    "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds until a request is allowed again."}
}


def _is_header(parameter):
    return isinstance(parameter, OpenApiParameter) and parameter.location == OpenApiParameter.HEADER


def error_description(status, codes):
    """'Title: `code` (what it carries), `code`.' in ERROR_CODES' order."""
    listed = [
        f"`{code}` ({ERROR_CODES[code][1]})" if ERROR_CODES[code][1] else f"`{code}`"
        for code in ERROR_CODES
        if code in codes
    ]
    return f"{STATUS_TITLES[status]}: {', '.join(listed)}."


class AutoSchema(SpectacularAutoSchema):
    def get_tags(self):
        # Grouped by area in Swagger UI and ReDoc (auth, drivers, rides, ws) rather than all under
        # "v1"; operation ids are unchanged.
        if self.path.startswith("/api/v1/"):
            return [self.path.removeprefix("/api/v1/").split("/")[0]]
        return super().get_tags()

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for status, codes in sorted(self.error_codes().items()):
            if str(status) in responses:
                continue
            response = OpenApiResponse(ErrorSerializer, description=error_description(status, codes))
            responses[str(status)] = self._get_response_for_code(response, str(status), direction=direction)
            if status == 429:
                responses["429"]["headers"] = dict(RETRY_AFTER)
        return responses

    def error_codes(self):
        """{status: set of codes} this operation can answer with."""
        codes = set(self._declared_codes())
        view = self.view
        has_body = self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None
        if has_body:
            codes |= {"validation_error", "parse_error", "request_too_large"}
        if any(not _is_header(parameter) for parameter in self.get_override_parameters()):
            codes.add("validation_error")  # query parameters are validated; a header documents itself
        permissions = view.get_permissions()
        if not all(isinstance(p, AllowAny) for p in permissions):
            codes.update(BEARER_ERRORS)
        if any(isinstance(p, IsAdminUser) for p in permissions):
            codes.add("permission_denied")
        if view.get_throttles():
            codes.add("throttled")
        by_status = {}
        for code in codes:
            by_status.setdefault(ERROR_CODES[code][0], set()).add(code)
        if "{" in self.path:
            by_status.setdefault(404, {"not_found"})
        return by_status

    def _declared_codes(self):
        declared = getattr(self.view, "schema_errors", ())
        if isinstance(declared, dict):
            declared = declared.get(self.method.lower(), ())
        # A handler's decorator may add its own (rideshare.idempotency's `idempotent`).
        handler = getattr(self.view, self.method.lower(), None)
        declared = (*declared, *getattr(handler, "schema_errors", ()))
        unknown = set(declared) - set(ERROR_CODES)
        if unknown:
            raise ValueError(f"{type(self.view).__name__}.schema_errors: unknown codes {sorted(unknown)} (see ERROR_CODES)")
        return declared
