"""The WebSocket protocol as data: an AsyncAPI 3.0 document, and the JSON Schemas the test suite
checks every emitted event against. Described from the server's side: it `send`s events and
`receive`s client messages."""

from django.conf import settings

from drivers.models import VehicleType
from rides.models import CancelledBy

from .auth import (
    CLOSE_ACCOUNT_DISABLED,
    CLOSE_GOING_AWAY,
    CLOSE_INVALID_TOKEN,
    CLOSE_RATE_LIMITED,
    CLOSE_SLOW_CONSUMER,
    CLOSE_TOKEN_EXPIRED,
)

ISO_UTC = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$"

UUID = {"type": "string", "format": "uuid", "pattern": r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"}
TIMESTAMP = {"type": "string", "format": "date-time", "pattern": ISO_UTC}
NULLABLE_TIMESTAMP = {"oneOf": [TIMESTAMP, {"type": "null"}]}
LATITUDE = {"type": "number", "minimum": -90, "maximum": 90}
LONGITUDE = {"type": "number", "minimum": -180, "maximum": 180}
FARE = {"type": "integer", "minimum": 0, "description": "whole XAF"}
EVENT_ID = {"type": "integer", "minimum": 1}
RIDE_TYPE = {"type": "string", "enum": [choice.value for choice in VehicleType]}


def _object(properties, required=None, *, extra=False):
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": extra,
    }


# name: (summary, data schema, has metadata.ride_id, reliable (carries `id`))
SERVER_EVENTS = {
    "connected": ("First message of every accepted connection.", _object({
        "user_id": UUID, "phone_number": {"type": "string"}, "is_driver": {"type": "boolean"},
        "full_name": {"type": "string"}, "last_event_id": {"type": "integer", "minimum": 0},
    }), False, False),
    "resync_required": ("The log cannot replay from the requested id: reload state over REST.", _object({
        "reason": {"type": "string", "enum": ["too_old", "unknown_event_id"]},
        "last_event_id": {"type": "integer", "minimum": 0},
    }), False, False),
    "pong": ("Reply to ping; echoes the client's timestamp.", _object({"timestamp": {"type": "string"}}), False, False),
    "error": ("A client message could not be handled; the connection stays open.", _object({
        "code": {"type": "string"}, "message": {"type": "string"}, "request_type": {"type": "string"},
        "field": {"type": "string"}, "errors": {"type": "object"},
        "current_status": {"type": "string"}, "ride_id": UUID,
    }, ["code", "message"]), False, False),
    "ride_joined": ("Acknowledges join_ride.", _object({"ride_id": UUID}), False, False),
    "ride_left": ("Acknowledges leave_ride.", _object({"ride_id": UUID}), False, False),
    "driver_status": ("Acknowledges driver_online / driver_offline.", _object({
        "driver_id": UUID, "is_online": {"type": "boolean"},
    }), False, False),
    "driver_availability_changed": ("A driver's availability changed (to all their connections).", _object({
        "driver_id": UUID, "is_online": {"type": "boolean"},
    }), False, True),
    "ride_requested": ("A ride near this driver was requested.", _object({
        "ride_id": UUID, "passenger_id": UUID, "ride_type": RIDE_TYPE,
        "pickup_latitude": LATITUDE, "pickup_longitude": LONGITUDE,
        "dropoff_latitude": LATITUDE, "dropoff_longitude": LONGITUDE, "estimated_fare": FARE,
    }), True, True),
    "ride_unavailable": ("An offered ride can no longer be taken: drop it.", _object({
        "ride_id": UUID, "reason": {"type": "string", "enum": ["accepted_by_another_driver", "cancelled"]},
    }), True, True),
    "ride_accepted": ("A driver accepted the passenger's ride.", _object({
        "ride_id": UUID, "driver_id": UUID, "driver_name": {"type": "string"}, "vehicle_type": RIDE_TYPE,
        "vehicle_plate": {"type": "string"}, "vehicle_color": {"type": "string"},
        "driver_rating": {"type": "number", "minimum": 1, "maximum": 5},
        "estimated_arrival": {"type": "integer", "minimum": 1, "description": "minutes"},
    }), True, True),
    "driver_arrived": ("The driver is at the pickup.", _object({
        "ride_id": UUID, "driver_id": UUID, "arrived_at": TIMESTAMP,
    }), True, True),
    "ride_started": ("The passenger was picked up.", _object({"ride_id": UUID, "started_at": TIMESTAMP}), True, True),
    "ride_completed": ("The ride ended at the drop-off.", _object({
        "ride_id": UUID, "final_fare": FARE, "completed_at": TIMESTAMP,
    }), True, True),
    "ride_cancelled": ("The ride was cancelled.", _object({
        "ride_id": UUID, "cancelled_by": {"type": "string", "enum": [c.value for c in CancelledBy]},
        "reason": {"type": "string"}, "cancelled_at": TIMESTAMP,
    }), True, True),
    "driver_location_update": ("The position of the driver of the passenger's active ride (latest-wins).", _object({
        "driver_id": UUID, "ride_id": UUID, "latitude": LATITUDE, "longitude": LONGITUDE,
        "heading": {"type": ["integer", "null"], "minimum": 0, "maximum": 359},
        "speed": {"type": ["number", "null"], "minimum": 0, "description": "km/h"},
        "recorded_at": NULLABLE_TIMESTAMP,
    }), False, False),
}

CLIENT_MESSAGES = {
    "ping": ("Heartbeat; answered with pong.", {"timestamp": {"type": "string"}}, []),
    "resume": ("Replay reliable events after an id on an open socket.", {"last_event_id": {"type": "integer"}},
               ["last_event_id"]),
    "join_ride": ("Follow a ride (participants already do; staff start to).", {"ride_id": UUID}, ["ride_id"]),
    "leave_ride": ("Stop following a ride.", {"ride_id": UUID}, ["ride_id"]),
    "driver_online": ("The driver is available for rides.", {}, []),
    "driver_offline": ("The driver stops taking rides.", {}, []),
    "location_update": ("The driver's position (same rules as the REST endpoint).", {
        "latitude": LATITUDE, "longitude": LONGITUDE,
        "heading": {"type": "number", "minimum": 0, "maximum": 359.999},
        "speed": {"type": "number", "minimum": 0},
    }, ["latitude", "longitude"]),
}

CLOSE_CODES = {
    CLOSE_GOING_AWAY: "Server shutting down: reconnect at once with last_event_id.",
    CLOSE_INVALID_TOKEN: "Missing, invalid or refresh-type token, unknown or inactive user: log in again.",
    CLOSE_TOKEN_EXPIRED: "Access token expired: refresh it and reconnect with last_event_id.",
    CLOSE_ACCOUNT_DISABLED: "The account was deactivated or deleted.",
    CLOSE_RATE_LIMITED: "Sustained flooding after rate_limited errors.",
    CLOSE_SLOW_CONSUMER: "The client stopped reading: reconnect with last_event_id.",
}


def server_event_schema(name):
    _, data, with_metadata, reliable = SERVER_EVENTS[name]
    properties = {"type": {"const": name}, "data": data, "timestamp": TIMESTAMP}
    required = ["type", "data", "timestamp"]
    if reliable:
        properties["id"] = EVENT_ID
        required.insert(0, "id")
    if with_metadata:
        properties["metadata"] = _object({"ride_id": UUID})
        required.append("metadata")
    return _object(properties, required)


def client_message_schema(name):
    _, fields, required = CLIENT_MESSAGES[name]
    return _object({"type": {"const": name}, **fields}, ["type", *required])


def _camel(name):
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def document():
    messages, operations = {}, {}
    for name, (summary, *_rest) in SERVER_EVENTS.items():
        messages[name] = {"name": name, "summary": summary, "payload": {"$ref": f"#/components/schemas/{name}"}}
        operations[f"send{_camel(name)[0].upper()}{_camel(name)[1:]}"] = {
            "action": "send", "channel": {"$ref": "#/channels/connection"},
            "messages": [{"$ref": f"#/channels/connection/messages/{name}"}],
        }
    for name, (summary, *_rest) in CLIENT_MESSAGES.items():
        key = f"client_{name}"
        messages[key] = {"name": name, "summary": summary, "payload": {"$ref": f"#/components/schemas/{key}"}}
        operations[f"receive{_camel(name)[0].upper()}{_camel(name)[1:]}"] = {
            "action": "receive", "channel": {"$ref": "#/channels/connection"},
            "messages": [{"$ref": f"#/channels/connection/messages/{key}"}],
        }
    schemas = {name: server_event_schema(name) for name in SERVER_EVENTS}
    schemas.update({f"client_{name}": client_message_schema(name) for name in CLIENT_MESSAGES})
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Rideshare real-time API",
            "version": "1.0.0",
            "description": (
                "One WebSocket per app. Authenticate with an access token in the query string; "
                "reliable events carry an integer `id` to resume from (`last_event_id`). "
                "Close codes: " + "; ".join(f"{code} {text}" for code, text in CLOSE_CODES.items())
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {"host": "127.0.0.1:8000", "protocol": "ws", "description": "make run"},
        },
        "channels": {
            "connection": {
                "address": "/api/v1/ws/connect",
                "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in messages},
                "bindings": {"ws": {"query": _object({
                    "token": {"type": "string", "description": "JWT access token"},
                    "last_event_id": {"type": "integer", "minimum": 0,
                                      "description": "resume: replay reliable events above this id"},
                }, ["token"])}},
            }
        },
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
        "x-close-codes": {str(code): text for code, text in CLOSE_CODES.items()},
        "x-limits": {"max_message_bytes": settings.WS_MAX_MESSAGE_BYTES},
    }
