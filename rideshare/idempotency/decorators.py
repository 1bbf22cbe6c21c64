"""`@idempotent` on a DRF view's handler: a state-changing POST sent with an `Idempotency-Key`
header is done once, and its retries get the first answer again.

- The same key from the same user (anonymous requests, i.e. registration, share one scope) with
  the same request (method, path with its query, body bytes) within IDEMPOTENCY_KEY_TTL_SECONDS
  replays the first response, status and body, with `Idempotent-Replayed: true`; nothing is done
  again. The same key with another request: 422 `idempotency_key_reused`. A key that is not 1-255
  printable ASCII characters: 400 `invalid_idempotency_key`. No header: the view runs as it is.
- Only a success (2xx) is recorded. A request that fails is rolled back whole, key included: it
  changed nothing, so the app may retry it with the same key (and that retry runs).
- A duplicate sent while the first is still running waits for it and replays its answer: the key
  is claimed (inserted) in the transaction that does the work, so the duplicate's insert waits on
  the key's unique index until the first commits (then replays) or rolls back (then runs itself).
  Hence no `request_in_progress` answer. On SQLite, write transactions run one at a time anyway.

Why not a library (django-idempotency-key, drf-idempotency, ...): they keep the key beside the
work, in a cache lock or a transaction of its own, so a crash between the work's commit and the
key's leaves a done request whose retry runs again; here the key commits with the work or not at all.
"""

import functools
import json
import re

from django.db import IntegrityError, transaction
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from rideshare.kernel.errors import DomainError

from . import store

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
VALID_KEY = re.compile(r"[\x20-\x7e]{1,255}")
# Codes every idempotent operation may answer (the OpenAPI document lists them: kernel/schema.py).
SCHEMA_ERRORS = ("invalid_idempotency_key", "idempotency_key_reused")
# A claim meets a key that vanished (purged, expired) at most this often before giving up.
CLAIM_ATTEMPTS = 3

KEY_PARAMETER = OpenApiParameter(
    name=HEADER,
    type=str,
    location=OpenApiParameter.HEADER,
    required=False,
    description="1-255 printable ASCII characters, new for each action (a UUID). Retrying the same "
    "request with the same key within 24 h replays the first success (same status and body, header "
    "`Idempotent-Replayed: true`) without doing it again; a duplicate sent while the first runs waits "
    "for it. Another request with a used key: 422 `idempotency_key_reused`. Failures are not recorded: "
    "retry them with the same key.",
)


INVALID_KEY = _("The Idempotency-Key header must be 1 to 255 printable ASCII characters.")
KEY_REUSED = _("This Idempotency-Key was already used for another request.")


class InvalidIdempotencyKey(DomainError):
    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid_idempotency_key"


class IdempotencyKeyReused(DomainError):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    code = "idempotency_key_reused"


def idempotent(handler):
    """Decorate a view's `post(self, request, ...)`; put it nearest to the `def`."""

    @functools.wraps(handler)
    def handle_once(view, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        if not VALID_KEY.fullmatch(key):
            raise InvalidIdempotencyKey(INVALID_KEY)
        user = request.user if request.user.is_authenticated else None
        return _once(
            user=user, key=key, fingerprint=request_fingerprint(request),
            run=lambda: handler(view, request, *args, **kwargs),
        )

    # extend_schema keeps what it documents in the function's `kwargs`: a copy of the handler's,
    # so documenting this one leaves the undecorated handler as it was.
    if hasattr(handler, "kwargs"):
        handle_once.kwargs = dict(handler.kwargs)
    handle_once.schema_errors = SCHEMA_ERRORS
    return extend_schema(parameters=[KEY_PARAMETER])(handle_once)


def request_fingerprint(request):
    """What makes two requests the same: method, path and query, body bytes. An HMAC rather than a
    plain hash: a registration's body holds a password."""
    message = b"\n".join([request.method.encode(), request.get_full_path().encode(), request.body])
    return salted_hmac("rideshare.idempotency", message, algorithm="sha256").hexdigest()


def _once(*, user, key, fingerprint, run):
    for _attempt in range(CLAIM_ATTEMPTS):
        claimed = None
        try:
            with transaction.atomic():
                claimed = store.claim(user=user, key=key, fingerprint=fingerprint)
                response = run()
                if status.is_success(response.status_code):
                    store.record(claimed, status=response.status_code, body=json.dumps(response.data, cls=JSONEncoder))
                else:
                    transaction.set_rollback(True)  # an error changed nothing: the key stays free
                return response
        except IntegrityError:
            if claimed is not None:
                raise  # the work's own error, not the key's
        earlier = store.find(user=user, key=key)
        if earlier is None or store.forget_if_expired(earlier):
            continue  # gone meanwhile (purged), or past the TTL: the key is free again
        if earlier.request_fingerprint != fingerprint:
            raise IdempotencyKeyReused(KEY_REUSED)
        return Response(
            json.loads(earlier.response_body), status=earlier.response_status, headers={REPLAYED_HEADER: "true"}
        )
    raise RuntimeError(f"the Idempotency-Key {key!r} vanished {CLAIM_ATTEMPTS} times while it was claimed")
