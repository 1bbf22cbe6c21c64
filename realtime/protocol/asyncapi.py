"""The WebSocket protocol as data: an AsyncAPI 3.0 document, and the JSON Schemas the test suite
checks every emitted event against. Described from the server's side: it `send`s events and
`receive`s client messages.

Nothing is described here field by field: every schema is derived from the Structs of
`realtime.protocol.wire` (msgspec's JSON Schema, inlined so each one stands alone), every example from its
schema (`realtime.protocol.examples`), and who receives each event from its registration (`x-audience`), and
whether it is also pushed to devices (`x-push`).
"""

import functools

import msgspec
from django.conf import settings

from . import examples, wire
from .close_codes import (
    CLOSE_ACCOUNT_DISABLED,
    CLOSE_GOING_AWAY,
    CLOSE_INTERNAL_ERROR,
    CLOSE_INVALID_TOKEN,
    CLOSE_RATE_LIMITED,
    CLOSE_REPLACED,
    CLOSE_SLOW_CONSUMER,
    CLOSE_TOKEN_EXPIRED,
)


def _inline(node, components):
    """`node` with every `$ref` into `components` replaced by the schema it names."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if ref is not None:
            return _inline(components[ref.rsplit("/", 1)[-1]], components)
        return {key: _inline(value, components) for key, value in node.items() if key != "title"}
    if isinstance(node, list):
        return [_inline(value, components) for value in node]
    return node


def json_schema(tp):
    """A self-contained JSON Schema (draft 2020-12) of a wire type."""
    (schema,), components = msgspec.json.schema_components([tp], ref_template="#/$defs/{name}")
    return _inline(schema, components)


TIMESTAMP = json_schema(wire.Timestamp)
EVENT_ID = json_schema(wire.EventId)
RIDE_METADATA = json_schema(wire.RideMetadata)

# name -> wire.ServerEvent (data Struct, summary, audience, metadata.ride_id, reliable); name -> client Struct
SERVER_EVENTS = wire.SERVER_EVENTS
CLIENT_MESSAGES = wire.CLIENT_MESSAGES

CLOSE_CODES = {
    CLOSE_GOING_AWAY: "Server shutting down: reconnect at once with last_event_id.",
    CLOSE_INVALID_TOKEN: "Missing, invalid or refresh-type token, unknown or inactive user: log in again.",
    CLOSE_TOKEN_EXPIRED: "Access token expired: refresh it and reconnect with last_event_id.",
    CLOSE_ACCOUNT_DISABLED: "The account was deactivated or deleted.",
    CLOSE_RATE_LIMITED: "Sustained flooding after rate_limited errors.",
    CLOSE_SLOW_CONSUMER: "The client stopped reading: reconnect with last_event_id.",
    CLOSE_REPLACED: "A newer connection of the same user replaced this one (WS_MAX_CONNECTIONS_PER_USER): do not reconnect.",
    CLOSE_INTERNAL_ERROR: "The server failed handling this connection: reconnect with last_event_id (with backoff).",
}


@functools.cache
def server_event_schema(name):
    """The whole message: the envelope around the event's data."""
    event = SERVER_EVENTS[name]
    properties = {"type": {"const": name}, "data": json_schema(event.data), "timestamp": TIMESTAMP}
    required = ["type", "data", "timestamp"]
    if event.reliable:
        properties["id"] = EVENT_ID
        required.insert(0, "id")
    if event.ride_metadata:
        properties["metadata"] = RIDE_METADATA
        required.append("metadata")
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


@functools.cache
def client_message_schema(name):
    return json_schema(CLIENT_MESSAGES[name])


PUSHED = (
    "A recipient with no open socket gets the same envelope pushed to the devices they registered "
    "(POST /api/v1/devices/: Web Push, or FCM as `data.envelope`)."
)


def _summary(struct):
    return (struct.__doc__ or "").strip().split("\n")[0]


def _camel(name):
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def document():
    messages, operations = {}, {}
    for name, event in SERVER_EVENTS.items():
        messages[name] = {
            "name": name, "summary": event.summary, "description": f"Sent to {event.audience}.",
            "x-audience": event.audience, "payload": {"$ref": f"#/components/schemas/{name}"},
            "examples": [{"name": name, "payload": examples.example(server_event_schema(name))}],
        }
        if event.pushed:
            messages[name]["description"] += " " + PUSHED
            messages[name]["x-push"] = True
        operations[f"send{_camel(name)[0].upper()}{_camel(name)[1:]}"] = {
            "action": "send", "channel": {"$ref": "#/channels/connection"},
            "messages": [{"$ref": f"#/channels/connection/messages/{name}"}],
        }
    for name, struct in CLIENT_MESSAGES.items():
        key = f"client_{name}"
        messages[key] = {
            "name": name, "summary": _summary(struct), "payload": {"$ref": f"#/components/schemas/{key}"},
            "examples": [{"name": name, "payload": examples.example(client_message_schema(name))}],
        }
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
                "A client message may carry its own `id` (a string): once applied it is acknowledged with "
                "`ack`, after its usual reply, and a refusal's `error` carries it as `request_id`. "
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
                "bindings": {"ws": {"query": json_schema(wire.ConnectQuery)}},
            }
        },
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
        "x-close-codes": {str(code): text for code, text in CLOSE_CODES.items()},
        "x-limits": {"max_message_bytes": settings.WS_MAX_MESSAGE_BYTES},
    }
