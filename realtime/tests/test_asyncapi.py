"""The AsyncAPI document: served, well formed, and its client-message schemas mean what they say
(server events are checked against it by the contract plugin on every send in the suite)."""

import jsonschema
import pytest
import yaml
from django.test import Client

from realtime.protocol import asyncapi

pytestmark = pytest.mark.django_db


def test_the_document_is_served_as_json_and_yaml():
    as_json = Client().get("/api/v1/ws/asyncapi.json")
    assert as_json.status_code == 200
    document = as_json.json()
    assert document["asyncapi"] == "3.0.0"
    assert document["channels"]["connection"]["address"] == "/api/v1/ws/connect"
    as_yaml = Client().get("/api/v1/ws/asyncapi.yaml")
    assert as_yaml.status_code == 200
    assert yaml.safe_load(as_yaml.content) == document


def test_every_message_and_operation_refers_to_something_that_exists():
    document = asyncapi.document()

    def resolve(ref):
        node = document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        return node

    for message in document["components"]["messages"].values():
        jsonschema.Draft202012Validator.check_schema(resolve(message["payload"]["$ref"]))
    for operation in document["operations"].values():
        assert operation["action"] in ("send", "receive")
        for message in operation["messages"]:
            assert resolve(message["$ref"])
    assert set(document["x-close-codes"]) == {"1001", "1011", "4001", "4002", "4003", "4008", "4009", "4010"}


GUIDE_CLIENT_MESSAGES = [
    {"type": "ping", "timestamp": "2025-12-19T03:00:00Z"},
    {"type": "join_ride", "ride_id": "3f0c7d3e-8a9b-4c1d-9e2f-0a1b2c3d4e5f"},
    {"type": "leave_ride", "ride_id": "3f0c7d3e-8a9b-4c1d-9e2f-0a1b2c3d4e5f"},
    {"type": "driver_online"},
    {"type": "driver_offline"},
    {"type": "location_update", "latitude": 3.8485, "longitude": 11.5025, "heading": 45, "speed": 25},
    {"type": "resume", "last_event_id": 42},
]


@pytest.mark.parametrize("message", GUIDE_CLIENT_MESSAGES, ids=lambda m: m["type"])
def test_the_guides_client_messages_match_their_schemas(message):
    jsonschema.validate(message, asyncapi.client_message_schema(message["type"]))


@pytest.mark.parametrize("message", GUIDE_CLIENT_MESSAGES, ids=lambda m: m["type"])
def test_each_client_message_with_an_id_matches_its_schema(message):
    jsonschema.validate({**message, "id": "a1b2c3"}, asyncapi.client_message_schema(message["type"]))


def test_a_position_with_its_recorded_time_matches_its_schema():
    message = {"type": "location_update", "latitude": 3.85, "longitude": 11.5, "recorded_at": "2026-03-02T08:15:30+01:00"}
    jsonschema.validate(message, asyncapi.client_message_schema("location_update"))


@pytest.mark.parametrize(
    "message",
    [
        {"type": "join_ride"},
        {"type": "join_ride", "ride_id": "not-a-uuid"},
        {"type": "location_update", "latitude": 91, "longitude": 11.5},
        {"type": "location_update", "latitude": 3.8},
        {"type": "resume", "last_event_id": "7"},
        {"type": "ping", "extra": True},
        {"type": "ping", "id": ""},
        {"type": "ping", "id": "x" * 65},
        {"type": "driver_online", "id": 7},
    ],
)
def test_malformed_client_messages_do_not_match(message):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(message, asyncapi.client_message_schema(message["type"]))


def test_every_client_message_type_the_consumer_handles_is_described():
    import ast
    import inspect
    import textwrap

    from realtime.connections.consumers import RealtimeConsumer
    from realtime.protocol import wire

    handle = ast.parse(textwrap.dedent(inspect.getsource(RealtimeConsumer.handle)))
    handled = {
        node.cls.attr for node in ast.walk(handle) if isinstance(node, ast.MatchClass) and isinstance(node.cls, ast.Attribute)
    }
    declared = {cls.__name__ for cls in wire.CLIENT_MESSAGES.values()}
    assert handled == declared
    schemas = asyncapi.document()["components"]["schemas"]
    assert {name.removeprefix("client_") for name in schemas if name.startswith("client_")} == set(wire.CLIENT_MESSAGES)
