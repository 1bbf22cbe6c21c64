"""/api/docs/websocket/: the AsyncAPI document (`realtime.protocol.asyncapi`) as a page a person reads.

Everything shown is read from the document, so the page says what the JSON says: the connect
URL and its query parameters, the close codes, then each client message and each server event
with its summary, example and payload schema, and who receives each event. No script, nothing
loaded from another host.
"""

import json

from django.shortcuts import render

from . import asyncapi


def _pretty(value):
    return json.dumps(value, indent=2, ensure_ascii=False)


def _query_parameters(schema):
    required = set(schema.get("required", ()))
    return [
        {"name": name, "type": prop.get("type", ""), "required": name in required,
         "description": prop.get("description", "")}
        for name, prop in schema["properties"].items()
    ]


def _message(document, message):
    schema = document["components"]["schemas"][message["payload"]["$ref"].rsplit("/", 1)[-1]]
    properties = schema.get("properties", {})
    return {
        "name": message["name"],
        "summary": message["summary"],
        "audience": message.get("x-audience", ""),
        # Only server events have these, and only in their envelope.
        "reliable": "id" in properties and "data" in properties,
        "ride_metadata": "metadata" in properties,
        "pushed": message.get("x-push", False),
        "example": _pretty(message["examples"][0]["payload"]),
        "schema": _pretty(schema),
    }


def _messages(document, action):
    """The messages of the operations with `action`, in the document's order."""
    by_key = document["components"]["messages"]
    return [
        _message(document, by_key[ref["$ref"].rsplit("/", 1)[-1]])
        for operation in document["operations"].values()
        if operation["action"] == action
        for ref in operation["messages"]
    ]


def view(request):
    document = asyncapi.document()
    channel = document["channels"]["connection"]
    scheme = "wss" if request.is_secure() else "ws"
    return render(request, "realtime/websocket_protocol.html", {
        "title": document["info"]["title"],
        "description": document["info"]["description"].split(" Close codes:")[0],
        "connect_url": f"{scheme}://{request.get_host()}{channel['address']}?token=ACCESS_TOKEN",
        "query_parameters": _query_parameters(channel["bindings"]["ws"]["query"]),
        "close_codes": sorted(document["x-close-codes"].items()),
        "max_message_bytes": document["x-limits"]["max_message_bytes"],
        # The server receives client messages and sends events (the document's point of view).
        "client_messages": _messages(document, "receive"),
        "server_events": _messages(document, "send"),
    })
