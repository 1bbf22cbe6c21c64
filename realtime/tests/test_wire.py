"""The protocol's one declaration (realtime.protocol.wire): the AsyncAPI document, the socket's parsing and
the REST serializer agree on every bound, and client messages are refused with today's codes.
Plain unit tests: no socket, no database."""

import json
import math
import uuid
from datetime import datetime
from datetime import timezone as dt_timezone

import jsonschema
import msgspec
import pytest
from django.utils import translation

from drivers.serializers import LocationSerializer
from realtime.delivery import events
from realtime.protocol import asyncapi, wire
from realtime.protocol.wire import ClientMessageError, client_message, message_type
from rides.matching import Assignment
from rideshare.kernel import bounds

# --- one set of bounds ---------------------------------------------------------------------------

LOCATION_BOUNDS = {
    "latitude": (bounds.LATITUDE_MIN, bounds.LATITUDE_MAX),
    "longitude": (bounds.LONGITUDE_MIN, bounds.LONGITUDE_MAX),
    "heading": (bounds.HEADING_MIN, bounds.HEADING_MAX),
    "speed": (bounds.SPEED_MIN, bounds.SPEED_MAX),
}
VALID_LOCATION = {"latitude": 3.8485, "longitude": 11.5025, "heading": 45, "speed": 25}


def _number_schema(schema):
    """The numeric branch of a (possibly nullable) property schema."""
    if "anyOf" in schema:
        (schema,) = [branch for branch in schema["anyOf"] if branch.get("type") != "null"]
    return schema


def _document_bounds(schema_name, field):
    document = asyncapi.document()
    schema = document["components"]["schemas"][schema_name]
    if "data" in schema["properties"]:
        schema = schema["properties"]["data"]
    number = _number_schema(schema["properties"][field])
    return number.get("minimum"), number.get("maximum")


def _serializer_bounds(field):
    serializer_field = LocationSerializer().fields[field]
    return serializer_field.min_value, serializer_field.max_value


def test_the_bounds_constants_are_what_the_domain_says():
    assert (bounds.LATITUDE_MIN, bounds.LATITUDE_MAX) == (-90, 90)
    assert (bounds.LONGITUDE_MIN, bounds.LONGITUDE_MAX) == (-180, 180)
    assert (bounds.HEADING_MIN, bounds.HEADING_MAX) == (0, 359.999)
    assert (bounds.SPEED_MIN, bounds.SPEED_MAX) == (0, 400)


@pytest.mark.parametrize("field", LOCATION_BOUNDS)
def test_the_documents_location_bounds_are_the_validators_bounds(field):
    expected = LOCATION_BOUNDS[field]
    assert _document_bounds("client_location_update", field) == expected
    assert _serializer_bounds(field) == expected


@pytest.mark.parametrize(
    "schema_name,field,expected",
    [
        ("driver_location_update", "latitude", LOCATION_BOUNDS["latitude"]),
        ("driver_location_update", "longitude", LOCATION_BOUNDS["longitude"]),
        ("driver_location_update", "speed", LOCATION_BOUNDS["speed"]),
        ("driver_location_update", "heading", (bounds.HEADING_MIN, bounds.HEADING_STORED_MAX)),
        ("ride_requested", "pickup_latitude", LOCATION_BOUNDS["latitude"]),
        ("ride_requested", "pickup_longitude", LOCATION_BOUNDS["longitude"]),
        ("ride_requested", "dropoff_latitude", LOCATION_BOUNDS["latitude"]),
        ("ride_requested", "dropoff_longitude", LOCATION_BOUNDS["longitude"]),
        ("ride_accepted", "driver_rating", (bounds.RATING_MIN, bounds.RATING_MAX)),
    ],
)
def test_server_events_carry_the_same_bounds(schema_name, field, expected):
    assert _document_bounds(schema_name, field) == expected


def _edges(field):
    """(value, accepted) just inside and just outside each bound of `field`."""
    low, high = LOCATION_BOUNDS[field]
    return [
        (low, True),
        (math.nextafter(low, math.inf), True),
        (high, True),
        (math.nextafter(high, -math.inf), True),
        (math.nextafter(low, -math.inf), False),
        (math.nextafter(high, math.inf), False),
        (low - 1, False),
        (high + 1, False),
    ]


EDGE_CASES = [(field, value, accepted) for field in LOCATION_BOUNDS for value, accepted in _edges(field)]


@pytest.mark.parametrize("field,value,accepted", EDGE_CASES, ids=[f"{f}={v!r}" for f, v, _ in EDGE_CASES])
def test_at_every_edge_document_socket_and_rest_agree(field, value, accepted):
    payload = {**VALID_LOCATION, field: value}
    message = {"type": "location_update", **payload}

    # The document
    schema = asyncapi.client_message_schema("location_update")
    assert jsonschema.Draft202012Validator(schema).is_valid(message) is accepted
    # The socket
    try:
        client_message("location_update", message)
        socket_accepts = True
    except ClientMessageError as exc:
        assert exc.code == "validation_error" and field in exc.extra["errors"], exc.extra
        socket_accepts = False
    assert socket_accepts is accepted
    # The REST serializer
    assert LocationSerializer(data=payload).is_valid() is accepted


@pytest.mark.parametrize(
    "payload",
    [
        {"latitude": 3.848, "longitude": 11.502},
        {"latitude": -90, "longitude": 180, "heading": 359.6, "speed": 0},
        {"latitude": 90, "longitude": -180, "heading": 0, "speed": 400},
        {"latitude": 3.8, "longitude": 11.5, "heading": None, "speed": None},
        {"latitude": 3.8, "longitude": 11.5, "heading": 44.5, "speed": 25},
        {"latitude": 3.8, "longitude": 11.5, "heading": 359.5, "speed": 12},
        {"latitude": "3.8", "longitude": "11.5", "heading": "90", "speed": "30.5"},
        {"latitude": 3, "longitude": 11},
    ],
)
def test_the_socket_parses_a_location_exactly_as_the_rest_serializer_does(payload):
    serializer = LocationSerializer(data=payload)
    assert serializer.is_valid(), serializer.errors
    parsed = msgspec.structs.asdict(client_message("location_update", {"type": "location_update", **payload}))
    # The socket's own fields (`id`, `recorded_at`) are left out, as the REST body has none.
    assert parsed == {"heading": None, "speed": None, "recorded_at": None, "id": msgspec.UNSET, **serializer.validated_data}
    assert all(type(parsed[name]) is float for name in ("latitude", "longitude"))
    assert parsed["heading"] is None or type(parsed["heading"]) is int


@pytest.mark.parametrize(
    "payload",
    [
        {"latitude": True, "longitude": 11.5},
        {"latitude": "north", "longitude": 11.5},
        {"latitude": "NaN", "longitude": 11.5},
        {"latitude": float("nan"), "longitude": 11.5},
        {"latitude": None, "longitude": 11.5},
        {"latitude": 3.8, "longitude": float("inf")},
        {"latitude": 3.8, "longitude": 11.5, "heading": 360},
        {"latitude": 3.8, "longitude": 11.5, "heading": float("nan")},
        {"latitude": 3.8, "longitude": 11.5, "speed": -1},
        {"latitude": 3.8, "longitude": 11.5, "speed": 400.5},
        {"longitude": 11.5},
        {"latitude": 3.8},
    ],
)
def test_the_socket_refuses_what_the_rest_serializer_refuses_in_its_words(payload):
    serializer = LocationSerializer(data=payload)
    assert not serializer.is_valid()
    with pytest.raises(ClientMessageError) as caught:
        client_message("location_update", {"type": "location_update", **payload})
    error = caught.value
    assert (error.code, error.request_type) == ("validation_error", "location_update")
    assert error.extra["errors"] == {field: [str(m) for m in messages] for field, messages in serializer.errors.items()}
    field = next(iter(serializer.errors))
    assert error.message == f"{field}: {serializer.errors[field][0]}"
    assert all(type(m) is str for messages in error.extra["errors"].values() for m in messages)


def test_a_location_error_reads_like_drf():
    with pytest.raises(ClientMessageError) as caught:
        client_message("location_update", {"type": "location_update", "latitude": 91, "longitude": 11.5})
    assert caught.value.message == "latitude: Ensure this value is less than or equal to 90."
    assert caught.value.extra == {"errors": {"latitude": ["Ensure this value is less than or equal to 90."]}}


def test_location_heading_is_rounded_to_a_whole_degree_modulo_360():
    parsed = client_message("location_update", {"latitude": 1, "longitude": 2, "heading": 359.6, "speed": 3})
    assert parsed == wire.LocationUpdate(latitude=1.0, longitude=2.0, heading=0, speed=3.0)
    assert type(parsed.heading) is int


# --- message_type: the frame-level checks, in order -----------------------------------------------

BAD_TEXTS = [
    ("invalid_json", "{not json"),
    ("invalid_json", '{"type": "ping"'),
    ("invalid_json", "[" * 100_000),
    ("invalid_message", "[1, 2, 3]"),
    ("invalid_message", '"ping"'),
    ("invalid_message", "42"),
    ("invalid_message", "null"),
    ("empty_message", ""),
    ("empty_message", "   \n"),
    ("missing_type", "{}"),
    ("missing_type", '{"type": ""}'),
    ("missing_type", '{"type": 5}'),
    ("missing_type", '{"type": null}'),
    ("missing_type", '{"ride_id": "x"}'),
    ("unknown_type", '{"type": "teleport"}'),
    ("unknown_type", '{"type": "PING"}'),
]


@pytest.fixture
def large_limit(settings):
    settings.WS_MAX_MESSAGE_BYTES = 1_000_000


@pytest.mark.parametrize("code,text", BAD_TEXTS, ids=[f"{c}-{i}" for i, (c, _) in enumerate(BAD_TEXTS)])
def test_message_type_refuses_bad_frames_with_their_code(code, text, large_limit):
    with pytest.raises(ClientMessageError) as caught:
        message_type(text)
    assert caught.value.code == code
    assert caught.value.request_type is None
    assert caught.value.extra == {}
    assert str(caught.value.message)  # worded when it is sent, in the connection's language


def test_message_type_returns_the_type_and_the_object():
    raw = {"type": "join_ride", "ride_id": "x", "extra": [1]}
    assert message_type(json.dumps(raw)) == ("join_ride", raw)


@pytest.mark.parametrize("name", sorted(wire.CLIENT_MESSAGES))
def test_every_declared_client_message_type_is_known(name):
    assert message_type(json.dumps({"type": name}))[0] == name


def test_the_size_limit_counts_utf8_bytes_and_comes_first(settings):
    settings.WS_MAX_MESSAGE_BYTES = 100
    padding = 100 - len('{"type":"ping","p":""}')
    assert message_type('{"type":"ping","p":"' + "x" * padding + '"}')[0] == "ping"
    with pytest.raises(ClientMessageError) as caught:
        message_type('{"type":"ping","p":"' + "x" * (padding + 1) + '"}')
    assert (caught.value.code, caught.value.message) == ("message_too_large", "Messages are limited to 100 bytes.")
    with pytest.raises(ClientMessageError) as caught:
        message_type('{"type":"ping","p":"' + "é" * padding + '"}')  # 2 bytes each
    assert caught.value.code == "message_too_large"
    with pytest.raises(ClientMessageError) as caught:
        message_type(" " * 101)  # too large before empty
    assert caught.value.code == "message_too_large"


def test_an_unknown_type_is_quoted_truncated():
    with pytest.raises(ClientMessageError) as caught:
        message_type(json.dumps({"type": "x" * 80}))
    assert caught.value.message == f"Unknown message type {'x' * 50!r}."


# --- client_message: the field-level checks ------------------------------------------------------


@pytest.mark.parametrize(
    "name,field", [("resume", "last_event_id"), ("join_ride", "ride_id"), ("leave_ride", "ride_id")]
)
def test_a_missing_field_is_a_missing_field_error_naming_it(name, field):
    with pytest.raises(ClientMessageError) as caught:
        client_message(name, {"type": name})
    error = caught.value
    assert (error.code, error.request_type, error.extra) == ("missing_field", name, {"field": field})
    assert error.message == f"The message needs a '{field}'."


@pytest.mark.parametrize(
    "value,expected",
    [
        (0, 0), (42, 42), (42.0, 42), ("42", 42), (-1, -1), (10**30, 10**30),
        ("abc", wire.UNKNOWN_EVENT_ID), ("1.5", wire.UNKNOWN_EVENT_ID), (1.5, wire.UNKNOWN_EVENT_ID),
        (True, wire.UNKNOWN_EVENT_ID), (None, wire.UNKNOWN_EVENT_ID), ([1], wire.UNKNOWN_EVENT_ID),
        (float("inf"), wire.UNKNOWN_EVENT_ID), (float("nan"), wire.UNKNOWN_EVENT_ID),
    ],
)
def test_resume_takes_any_id_and_leaves_what_is_not_one_to_a_resync(value, expected):
    assert client_message("resume", {"type": "resume", "last_event_id": value}) == wire.Resume(last_event_id=expected)


def test_an_unknown_event_id_is_one_the_server_never_issues():
    assert wire.UNKNOWN_EVENT_ID < bounds.EVENT_CURSOR_MIN


@pytest.mark.parametrize("name,cls", [("join_ride", wire.JoinRide), ("leave_ride", wire.LeaveRide)])
def test_ride_ids_come_out_canonical_however_spelt(name, cls):
    ride_id = uuid.uuid4()
    for spelling in (str(ride_id), str(ride_id).upper(), ride_id.hex, f"{{{ride_id}}}"):
        assert client_message(name, {"type": name, "ride_id": spelling}) == cls(ride_id=str(ride_id))


@pytest.mark.parametrize("value", ["not-a-uuid", "", 12345, ["x"], {"id": "x"}, None])
def test_a_malformed_ride_id_reads_as_an_unknown_ride(value):
    with pytest.raises(ClientMessageError) as caught:
        client_message("join_ride", {"type": "join_ride", "ride_id": value})
    error = caught.value
    assert (error.code, error.message, error.request_type, error.extra) == (
        "ride_not_found", "Ride not found.", "join_ride", {}
    )


def test_ride_not_found_reads_the_same_from_wire_and_from_actions():
    from realtime.connections.actions import RideNotJoinable

    exc = RideNotJoinable()
    assert (exc.code, exc.detail, exc.extra) == (wire.RIDE_NOT_FOUND, wire.RIDE_NOT_FOUND_MESSAGE, {})


@pytest.mark.parametrize("timestamp,expected", [("t", "t"), (12345, None), (None, None), ({"a": 1}, None)])
def test_ping_keeps_a_string_timestamp_only(timestamp, expected):
    assert client_message("ping", {"type": "ping", "timestamp": timestamp}) == wire.Ping(timestamp=expected)
    assert client_message("ping", {"type": "ping"}) == wire.Ping()


def test_extra_keys_are_ignored():
    assert client_message("driver_online", {"type": "driver_online", "x": 1}) == wire.DriverOnline()
    assert client_message("driver_offline", {"type": "driver_offline", "x": 1}) == wire.DriverOffline()
    parsed = client_message("location_update", {**VALID_LOCATION, "type": "location_update", "altitude": 3})
    assert parsed == wire.LocationUpdate(latitude=3.8485, longitude=11.5025, heading=45, speed=25.0)


GUIDE_MESSAGES = [
    {"type": "ping", "timestamp": "2025-12-19T03:00:00Z"},
    {"type": "join_ride", "ride_id": "3f0c7d3e-8a9b-4c1d-9e2f-0a1b2c3d4e5f"},
    {"type": "leave_ride", "ride_id": "3f0c7d3e-8a9b-4c1d-9e2f-0a1b2c3d4e5f"},
    {"type": "driver_online"},
    {"type": "driver_offline"},
    {"type": "location_update", "latitude": 3.8485, "longitude": 11.5025, "heading": 45, "speed": 25},
    {"type": "resume", "last_event_id": 42},
]


@pytest.mark.parametrize("message", GUIDE_MESSAGES, ids=lambda m: m["type"])
def test_a_parsed_message_is_its_declared_struct_and_matches_its_schema(message):
    name, raw = message_type(json.dumps(message))
    parsed = client_message(name, raw)
    assert type(parsed) is wire.CLIENT_MESSAGES[name]
    as_sent = msgspec.to_builtins(parsed)
    assert as_sent["type"] == name
    jsonschema.validate(as_sent, asyncapi.client_message_schema(name))
    # A well-formed message decodes straight through the tagged union, too.
    assert msgspec.json.decode(json.dumps(message), type=wire.AnyClientMessage) == parsed


def test_the_struct_classes_are_the_protocols_messages():
    assert wire.CLIENT_MESSAGES == {
        "ping": wire.Ping, "resume": wire.Resume, "join_ride": wire.JoinRide, "leave_ride": wire.LeaveRide,
        "driver_online": wire.DriverOnline, "driver_offline": wire.DriverOffline,
        "location_update": wire.LocationUpdate, "decline_ride": wire.DeclineRide,
        "watch_fleet": wire.WatchFleet, "unwatch_fleet": wire.UnwatchFleet,
    }
    for name, cls in wire.CLIENT_MESSAGES.items():
        schema = asyncapi.client_message_schema(name)
        assert set(schema["properties"]) == {"type", *cls.__struct_fields__}


# --- server events: built through their declaration ---------------------------------------------


def test_every_server_event_schema_is_its_structs_fields():
    for name, event in wire.SERVER_EVENTS.items():
        data = asyncapi.server_event_schema(name)["properties"]["data"]
        assert list(data["properties"]) == list(event.data.__struct_fields__), name
        assert data["additionalProperties"] is False
        assert event.summary and asyncapi.document()["components"]["messages"][name]["summary"] == event.summary


def test_a_builder_cannot_emit_an_undeclared_field():
    with pytest.raises(TypeError):
        events.error("oops", "Oops.", not_declared=1)
    with pytest.raises(TypeError):
        events.envelope("pong", wire.RideJoinedData(ride_id=str(uuid.uuid4())))
    with pytest.raises(TypeError):
        events.envelope("ride_started", wire.RideStartedData(ride_id="x", started_at="y"))  # no metadata


def test_error_leaves_out_what_it_does_not_carry_and_encodes_drf_details():
    from rest_framework.exceptions import ErrorDetail

    message = events.error("validation_error", "latitude: bad", request_type="location_update",
                           errors={"latitude": [ErrorDetail("bad", code="invalid")]})
    assert message["data"] == {"code": "validation_error", "message": "latitude: bad",
                               "request_type": "location_update", "errors": {"latitude": ["bad"]}}
    jsonschema.validate(message, asyncapi.server_event_schema("error"))
    assert events.error("x", "y")["data"] == {"code": "x", "message": "y"}


def test_encode_is_compact_and_keeps_non_ascii():
    message = events.error("x", "Déjà vu — 日本")
    text = events.encode(message)
    assert "Déjà vu — 日本" in text and ", " not in text and ": " not in text
    assert json.loads(text) == message


def an_assignment(**fields):
    return Assignment(**{"ride_id": uuid.uuid4(), "passenger_id": uuid.uuid4(), "vehicle_type": "moto",
                         "target_latitude": 3.848, "target_longitude": 11.502, "approach_unannounced": True, **fields})


def test_the_location_event_is_checked_against_the_declared_bounds():
    schema = asyncapi.server_event_schema("driver_location_update")
    ok = events.driver_location_update(uuid.uuid4(), an_assignment(), latitude=3.8, longitude=11.5,
                                       heading=359, speed=bounds.SPEED_MAX, recorded_at=None)
    jsonschema.validate(ok, schema)
    assert ok["data"]["distance_km"] > 0 and ok["data"]["eta_minutes"] >= 1
    too_fast = events.driver_location_update(uuid.uuid4(), an_assignment(), latitude=3.8, longitude=11.5,
                                             heading=None, speed=bounds.SPEED_MAX + 1, recorded_at=None)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(too_fast, schema)


def test_the_location_event_at_its_target_says_zero_km_and_one_minute():
    """Never "0 minutes": a driver at the pickup is still a minute from picking up."""
    schema = asyncapi.server_event_schema("driver_location_update")
    here = events.driver_location_update(uuid.uuid4(), an_assignment(), latitude=3.848, longitude=11.502,
                                         heading=None, speed=None, recorded_at=None)
    jsonschema.validate(here, schema)
    assert (here["data"]["distance_km"], here["data"]["eta_minutes"]) == (0.0, 1)


def test_the_approaching_event_matches_its_declaration():
    schema = asyncapi.server_event_schema("driver_approaching")
    assignment = an_assignment()
    message = events.driver_approaching(assignment, uuid.uuid4(), distance_m=120, eta_minutes=1)
    jsonschema.validate({"id": 1, **message}, schema)  # reliable: the log gives it its id
    assert message["metadata"] == {"ride_id": str(assignment.ride_id)}
    assert set(message["data"]) == {"ride_id", "driver_id", "distance_m", "eta_minutes"}
    assert wire.SERVER_EVENTS["driver_approaching"].reliable


# --- a message's `id` and a position's `recorded_at` -------------------------------------------------


def test_every_client_message_may_carry_an_id_of_1_to_64_characters():
    schemas = asyncapi.document()["components"]["schemas"]
    for name in wire.CLIENT_MESSAGES:
        schema = schemas[f"client_{name}"]
        assert schema["properties"]["id"]["type"] == "string", name
        assert (schema["properties"]["id"]["minLength"], schema["properties"]["id"]["maxLength"]) == (1, 64)
        assert "id" not in schema["required"]
    assert client_message("ping", {"type": "ping", "id": "p-1"}) == wire.Ping(id="p-1")
    assert client_message("driver_online", {"type": "driver_online", "id": "x" * 64}).id == "x" * 64
    assert client_message("driver_online", {"type": "driver_online"}).id is msgspec.UNSET


@pytest.mark.parametrize("value", ["", "x" * 65, 7, None])
def test_an_id_the_document_refuses_the_socket_refuses(value):
    message = {"type": "leave_ride", "ride_id": str(uuid.uuid4()), "id": value}
    assert not jsonschema.Draft202012Validator(asyncapi.client_message_schema("leave_ride")).is_valid(message)
    with pytest.raises(ClientMessageError) as caught:
        client_message("leave_ride", message)
    assert (caught.value.code, list(caught.value.extra["errors"])) == ("validation_error", ["id"])


def test_an_id_the_socket_could_not_echo_is_refused():
    """A lone surrogate ("\\ud800"): JSON can spell it, an `ack` could not carry it."""
    message = {"type": "leave_ride", "ride_id": str(uuid.uuid4()), "id": "\ud800"}
    with pytest.raises(ClientMessageError) as caught:
        client_message("leave_ride", message)
    assert (caught.value.code, list(caught.value.extra["errors"])) == ("validation_error", ["id"])


def test_acks_and_errors_are_declared_with_the_id():
    ack = asyncapi.server_event_schema("ack")["properties"]["data"]
    assert ack["required"] == ["id", "type"]
    assert set(ack["properties"]["type"]["enum"]) == set(wire.CLIENT_MESSAGES)
    jsonschema.validate(events.ack("pos-1", "location_update"), asyncapi.server_event_schema("ack"))
    error = events.error("ride_not_found", "Ride not found.", request_type="join_ride", request_id="j-1")
    jsonschema.validate(error, asyncapi.server_event_schema("error"))
    assert error["data"]["request_id"] == "j-1"


@pytest.fixture
def server_clock(monkeypatch, settings):
    settings.WS_RECORDED_AT_MAX_SKEW_SECONDS = 30
    now = datetime(2026, 3, 2, 8, 15, 30, tzinfo=dt_timezone.utc)
    monkeypatch.setattr(wire, "clock", lambda: now)
    return now


def located(recorded_at):
    return client_message("location_update", {"latitude": 3.8, "longitude": 11.5, "recorded_at": recorded_at})


def test_recorded_at_is_read_in_any_zone_as_utc(server_clock):
    assert located("2026-03-02T09:10:00+01:00").recorded_at == datetime(2026, 3, 2, 8, 10, tzinfo=dt_timezone.utc)
    assert located("2026-03-02T08:10:00.250Z").recorded_at == datetime(2026, 3, 2, 8, 10, 0, 250000, tzinfo=dt_timezone.utc)
    assert located(None).recorded_at is None


def test_recorded_at_up_to_the_skew_ahead_reads_as_now_and_further_is_refused(server_clock):
    assert located("2026-03-02T08:16:00Z").recorded_at == server_clock  # 30 s ahead: a fast phone clock
    with pytest.raises(ClientMessageError) as caught:
        located("2026-03-02T08:16:00.001Z")
    assert caught.value.extra["errors"] == {
        "recorded_at": ["Ensure this value is less than or equal to 2026-03-02T08:16:00Z."]
    }


@pytest.mark.parametrize("value", ["2026-03-02T08:15:30", "yesterday", 1767225600, "0001-01-01T00:00:00+01:00", "\ud800"])
def test_recorded_at_without_a_zone_or_not_a_time_is_refused(server_clock, value):
    with pytest.raises(ClientMessageError) as caught:
        located(value)
    assert (caught.value.code, list(caught.value.extra["errors"])) == ("validation_error", ["recorded_at"])


def test_the_ids_and_recorded_ats_errors_are_worded_in_the_connections_language(server_clock):
    """DRF's own words, so DRF's translations (the connection's language is active while it
    handles a message)."""
    with translation.override("fr"):
        with pytest.raises(ClientMessageError) as caught:
            client_message("ping", {"type": "ping", "id": ""})
        assert caught.value.message == "id: Ce champ ne peut être vide."
        with pytest.raises(ClientMessageError) as caught:
            located("hier")
        assert caught.value.message.startswith("recorded_at: La date + heure n'a pas le bon format.")
