"""TEMPORARY stand-in for the wire declarations (replaced by the msgspec module)."""

import json
from dataclasses import dataclass

from django.conf import settings
from rest_framework.exceptions import ValidationError

from drivers.serializers import LocationSerializer, plain_location
from rideshare.kernel.errors import first_error_message


class ClientMessageError(Exception):
    def __init__(self, code, message, *, request_type=None, **extra):
        super().__init__(message)
        self.code, self.message, self.request_type, self.extra = code, message, request_type, extra


@dataclass
class Ping:
    timestamp: str | None = None


@dataclass
class Resume:
    last_event_id: object


@dataclass
class JoinRide:
    ride_id: object


@dataclass
class LeaveRide:
    ride_id: object


@dataclass
class DriverOnline:
    pass


@dataclass
class DriverOffline:
    pass


@dataclass
class LocationUpdate:
    latitude: float
    longitude: float
    heading: int | None = None
    speed: float | None = None


TYPES = {
    "ping": Ping, "resume": Resume, "join_ride": JoinRide, "leave_ride": LeaveRide,
    "driver_online": DriverOnline, "driver_offline": DriverOffline, "location_update": LocationUpdate,
}


def message_type(text):
    limit = settings.WS_MAX_MESSAGE_BYTES
    if len(text) * 4 > limit and len(text.encode()) > limit:
        raise ClientMessageError("message_too_large", f"Messages are limited to {limit} bytes.")
    if not text.strip():
        raise ClientMessageError("empty_message", "Empty message.")
    try:
        content = json.loads(text)
    except ValueError:
        raise ClientMessageError("invalid_json", "The message is not valid JSON.") from None
    if not isinstance(content, dict):
        raise ClientMessageError("invalid_message", "A message is a JSON object with a 'type'.")
    kind = content.get("type")
    if not isinstance(kind, str) or not kind:
        raise ClientMessageError("missing_type", "The message has no 'type'.")
    if kind not in TYPES:
        raise ClientMessageError("unknown_type", f"Unknown message type {kind[:50]!r}.")
    return kind, content


def client_message(kind, raw):
    if kind == "ping":
        timestamp = raw.get("timestamp")
        return Ping(timestamp if isinstance(timestamp, str) else None)
    if kind in ("resume", "join_ride", "leave_ride"):
        name = "last_event_id" if kind == "resume" else "ride_id"
        if name not in raw:
            raise ClientMessageError("missing_field", f"The message needs a '{name}'.", request_type=kind, field=name)
        return TYPES[kind](raw[name])
    if kind == "location_update":
        location = plain_location(raw)
        if location is None:
            serializer = LocationSerializer(data=raw)
            try:
                serializer.is_valid(raise_exception=True)
            except ValidationError as exc:
                raise ClientMessageError(
                    "validation_error", first_error_message(exc.detail), request_type=kind, errors=exc.detail
                ) from None
            location = {"heading": None, "speed": None, **serializer.validated_data}
        return LocationUpdate(**location)
    return TYPES[kind]()
