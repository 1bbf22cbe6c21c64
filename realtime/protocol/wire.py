"""Every message of the WebSocket protocol, declared once, as msgspec Structs.

- Client messages: a tagged union on `type` (`Ping`, `Resume`, ...). `message_type` does the
  frame-level checks, `client_message` the field-level ones; both raise `ClientMessageError`.
- Server events: the Struct of each event's `data`, registered in `SERVER_EVENTS` with its summary
  (the docstring's first line), who receives it, whether it carries `metadata.ride_id` and whether
  it is reliable (carries `id`). `realtime.delivery.events` builds every payload through these, and `realtime.protocol.asyncapi`
  derives the whole AsyncAPI document (and the JSON Schemas the contract tests check) from them.

Bounds come from `rideshare.kernel.bounds`, like the REST serializers' do.

A Struct says what a well-formed message is. The server is more forgiving in a few places, as it
always was: extra keys are ignored; coordinates given as numeric strings are accepted (the REST
serializer's rules); a non-string ping timestamp, or one that is not valid Unicode (a lone
surrogate such as "\\ud800", which JSON can spell but UTF-8 cannot carry), is ignored and the pong
carries server time; a malformed ride id reads as an unknown ride; and a resume id the server could not have issued asks for a resync, not an error.
"""

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Annotated, Any, Literal

import msgspec
from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from msgspec import UNSET, Meta, Struct, UnsetType

from drivers.models import VehicleType
from drivers.serializers import LocationSerializer
from rides.models import CancelledBy, RideStatus
from rideshare.kernel import bounds
from rideshare.kernel.errors import first_error_message
from rideshare.kernel.translation import lazy_format

# --- value types ------------------------------------------------------------------------------

UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
ISO_UTC_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$"

Uuid = Annotated[str, Meta(pattern=UUID_PATTERN, extra_json_schema={"format": "uuid"})]
Timestamp = Annotated[str, Meta(pattern=ISO_UTC_PATTERN, extra_json_schema={"format": "date-time"})]
Latitude = Annotated[float, Meta(ge=bounds.LATITUDE_MIN, le=bounds.LATITUDE_MAX)]
Longitude = Annotated[float, Meta(ge=bounds.LONGITUDE_MIN, le=bounds.LONGITUDE_MAX)]
Heading = Annotated[float, Meta(ge=bounds.HEADING_MIN, le=bounds.HEADING_MAX, description="degrees from north")]
StoredHeading = Annotated[
    int, Meta(ge=bounds.HEADING_MIN, le=bounds.HEADING_STORED_MAX, description="whole degrees from north")
]
Speed = Annotated[float, Meta(ge=bounds.SPEED_MIN, le=bounds.SPEED_MAX, description="km/h")]
Fare = Annotated[int, Meta(ge=bounds.FARE_MIN, description="whole XAF")]
Rating = Annotated[float, Meta(ge=bounds.RATING_MIN, le=bounds.RATING_MAX)]
EtaMinutes = Annotated[int, Meta(ge=bounds.ETA_MINUTES_MIN, description="minutes")]
DistanceKm = Annotated[float, Meta(ge=0, description="km to travel (rides.eta), to the metre")]
DistanceM = Annotated[int, Meta(ge=0, description="great-circle metres")]
EventId = Annotated[int, Meta(ge=bounds.EVENT_ID_MIN)]
EventCursor = Annotated[int, Meta(ge=bounds.EVENT_CURSOR_MIN)]
RideType = Literal[tuple(VehicleType.values)]
CancelledByValue = Literal[tuple(CancelledBy.values)]

# A malformed ride id gets the answer an unknown ride gets (realtime.connections.actions.RideNotJoinable).
RIDE_NOT_FOUND, RIDE_NOT_FOUND_MESSAGE = "ride_not_found", _("Ride not found.")

# A resume id that is not one (see `event_id`): resuming from it gives resync_required.
UNKNOWN_EVENT_ID = -1

REQUEST_ID_MAX_LENGTH = 64
# Messages whose effect outlives the connection: applied once per `id` for a user (realtime.connections.acks),
# across reconnects and server processes. The others only concern the connection they arrive
# on (a reply, a replay, what it follows) and change nothing when applied again: a resend is
# applied again, which a new connection needs (a staff console re-joining its rides).
APPLIED_ONCE_PER_ID = frozenset({"driver_online", "driver_offline", "location_update", "decline_ride"})

RequestId = Annotated[str, Meta(
    min_length=1, max_length=REQUEST_ID_MAX_LENGTH,
    description="the app's id for this message: answered with `ack` once applied, or `error` with "
                "`request_id`. " + ", ".join(sorted(APPLIED_ONCE_PER_ID)) + " are applied once per id "
                "and user (WS_ACK_ID_TTL_SECONDS): a resend is acknowledged, not applied again",
)]
RecordedAt = Annotated[datetime, Meta(
    tz=True,
    description="when the app took this position (ISO 8601 with a time zone); a position older than the "
                "driver's newest is acknowledged but neither stored nor relayed",
)]


# --- client messages --------------------------------------------------------------------------


class ClientMessage(Struct, tag_field="type", forbid_unknown_fields=True, frozen=True, kw_only=True):
    """What a client sends: a JSON object whose `type` names the message, and an optional `id`."""

    id: RequestId | UnsetType = UNSET


class Ping(ClientMessage, tag="ping"):
    """Heartbeat; answered with pong."""

    timestamp: str | None = None


class Resume(ClientMessage, tag="resume"):
    """Replay reliable events after an id on an open socket."""

    last_event_id: Annotated[int, Meta(description="the id of the last reliable event the app has (0: none)")]


class JoinRide(ClientMessage, tag="join_ride"):
    """Follow a ride (participants already do; staff start to)."""

    ride_id: Uuid


class LeaveRide(ClientMessage, tag="leave_ride"):
    """Stop following a ride."""

    ride_id: Uuid


class DriverOnline(ClientMessage, tag="driver_online"):
    """The driver is available for rides."""


class DriverOffline(ClientMessage, tag="driver_offline"):
    """The driver stops taking rides."""


class LocationUpdate(ClientMessage, tag="location_update"):
    """The driver's position (same rules as the REST endpoint).

    As parsed by `client_message`, `heading` is a whole degree (rounded, modulo 360), the rest floats;
    `recorded_at` is in UTC and never after the server's clock (up to WS_RECORDED_AT_MAX_SKEW_SECONDS
    ahead reads as now: a phone's clock running fast).
    """

    latitude: Latitude
    longitude: Longitude
    heading: Heading | None = None
    speed: Speed | None = None
    recorded_at: RecordedAt | None = None


class DeclineRide(ClientMessage, tag="decline_ride"):
    """The driver turns down a ride offered to them (acknowledged with ride_declined)."""

    ride_id: Uuid


class WatchFleet(ClientMessage, tag="watch_fleet"):
    """Staff: follow every online driver and every open ride (answered with a full fleet_update)."""


class UnwatchFleet(ClientMessage, tag="unwatch_fleet"):
    """Stop following the fleet (acknowledged with fleet_unwatched)."""


AnyClientMessage = (
    Ping | Resume | JoinRide | LeaveRide | DriverOnline | DriverOffline | LocationUpdate | DeclineRide
    | WatchFleet | UnwatchFleet
)

# type -> Struct, in the order the document lists them.
CLIENT_MESSAGES = {cls.__struct_config__.tag: cls for cls in AnyClientMessage.__args__}
assert APPLIED_ONCE_PER_ID <= set(CLIENT_MESSAGES)


class ClientMessageError(Exception):
    """A client message the server cannot take: answered with an `error` event.

    `request_type` is the message's type once known; None for errors found before (those share
    the "*" rate-limit bucket). `extra` goes into the error's data as is (`field`, `errors`).
    """

    def __init__(self, code, message, *, request_type=None, **extra):
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_type = request_type
        self.extra = extra

    def __repr__(self):
        return f"ClientMessageError({self.code!r}, {self.message!r}, request_type={self.request_type!r})"


def message_type(text):
    """(type, the decoded object) of a text frame, after the frame-level checks in this order: size,
    empty, JSON, an object, a `type`, a known type. Raises ClientMessageError (request_type None)."""
    limit = settings.WS_MAX_MESSAGE_BYTES
    # A character is at most 4 bytes: only long texts are worth encoding to measure.
    if len(text) * 4 > limit and len(text.encode("utf-8", "surrogatepass")) > limit:
        raise ClientMessageError(
            "message_too_large", lazy_format(_("Messages are limited to %(limit)s bytes."), limit=limit)
        )
    if not text.strip():
        raise ClientMessageError("empty_message", _("Empty message."))
    try:
        # The standard library, not msgspec: NaN and Infinity parse, and are refused field by field.
        content = json.loads(text)
    except (ValueError, RecursionError):
        raise ClientMessageError("invalid_json", _("The message is not valid JSON.")) from None
    return content_type(content), content


def content_type(content):
    """The known `type` of an already decoded message (the checks of `message_type` after JSON)."""
    if not isinstance(content, dict):
        raise ClientMessageError("invalid_message", _("A message is a JSON object with a 'type'."))
    name = content.get("type")
    if not isinstance(name, str) or not name:
        raise ClientMessageError("missing_type", _("The message has no 'type'."))
    if name not in CLIENT_MESSAGES:
        raise ClientMessageError("unknown_type", unknown_type(name))
    return name


def client_message(message_type, raw):
    """The Struct for a message of a known type; raises ClientMessageError(request_type=message_type)
    (missing_field with `field`, validation_error with `errors`, ride_not_found)."""
    parse = _PARSERS.get(message_type)
    if parse is None:
        raise ClientMessageError("unknown_type", unknown_type(str(message_type)))
    given = request_id(raw, message_type)
    message = parse(raw, message_type)
    return message if given is None else msgspec.structs.replace(message, id=given)


def request_id(raw, message_type):
    """The `id` of a decoded message, None without one; a validation_error naming `id` unless it is
    1 to REQUEST_ID_MAX_LENGTH characters the socket can carry back (in `ack`)."""
    value = raw.get("id", UNSET)
    if value is UNSET:
        return None
    if value is None:
        problem = translation.gettext("This field may not be null.")
    elif not isinstance(value, str) or not sendable(value):
        problem = translation.gettext("Not a valid string.")
    elif not value:
        problem = translation.gettext("This field may not be blank.")
    elif len(value) > REQUEST_ID_MAX_LENGTH:
        problem = translation.gettext("Ensure this field has no more than {max_length} characters.").format(
            max_length=REQUEST_ID_MAX_LENGTH
        )
    else:
        return value
    raise _invalid("id", problem, message_type)


def _invalid(field, problem, message_type):
    """A validation_error on one field, in the REST API's words (DRF's, and so its translations:
    worded when raised, in the language of the connection handling the message)."""
    return ClientMessageError(
        "validation_error", f"{field}: {problem}", request_type=message_type, errors={field: [problem]}
    )


def unknown_type(name):
    """The message for a type no client message has: quoted with escapes, at most 50 characters."""
    return lazy_format(_("Unknown message type %(type)s."), type=repr(name[:50]))


def event_id(value):
    """A resume id as an int: ints, integral floats and numeric strings; else ValueError/TypeError."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(value)
    return int(value)


def ride_uuid(value):
    """A ride id as a UUID, however the client spelt it (any case, braces, urn:); else ValueError."""
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        raise ValueError(value) from None


def _require(raw, name, message_type):
    if name not in raw:
        raise ClientMessageError(
            "missing_field", lazy_format(_("The message needs a '%(field)s'."), field=name),
            request_type=message_type, field=name,
        )
    return raw[name]


def sendable(text):
    """Whether a decoded client string can go back out in a text frame: JSON's \\u escapes can
    spell lone surrogates, which UTF-8 (and so the socket) cannot carry."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _ping(raw, message_type):
    timestamp = raw.get("timestamp")
    return Ping(timestamp=timestamp if isinstance(timestamp, str) and sendable(timestamp) else None)


def _resume(raw, message_type):
    value = _require(raw, "last_event_id", message_type)
    try:
        return Resume(last_event_id=event_id(value))
    except (TypeError, ValueError, OverflowError):
        return Resume(last_event_id=UNKNOWN_EVENT_ID)


def _ride_message(cls):
    def parse(raw, message_type):
        value = _require(raw, "ride_id", message_type)
        try:
            ride_id = str(ride_uuid(value))
        except ValueError:
            # Read like an unknown ride, so the answer tells nothing about which rides exist.
            raise ClientMessageError(RIDE_NOT_FOUND, RIDE_NOT_FOUND_MESSAGE, request_type=message_type) from None
        return cls(ride_id=ride_id)

    return parse


# The fields the REST body has too; `recorded_at` (and `id`) are the socket's own.
_LOCATION_FIELDS = ("latitude", "longitude", "heading", "speed")

# What `recorded_at` is checked against (tests set their own).
clock = timezone.now
RECORDED_AT_FORMAT = "YYYY-MM-DDThh:mm:ss[.uuuuuu](Z|+HH:MM|-HH:MM)"


def _recorded_at(raw, message_type):
    """A position's `recorded_at` as a UTC datetime, None if absent or null. Up to
    WS_RECORDED_AT_MAX_SKEW_SECONDS ahead of the server's clock reads as now (a phone's clock
    running fast: stored ahead, it would make the driver's next positions look older); further
    ahead is refused."""
    value = raw.get("recorded_at")
    if value is None:
        return None
    try:
        recorded_at = msgspec.convert(value, RecordedAt).astimezone(dt_timezone.utc)
    except (msgspec.ValidationError, UnicodeEncodeError, OverflowError):
        problem = translation.gettext("Datetime has wrong format. Use one of these formats instead: {format}.")
        raise _invalid("recorded_at", problem.format(format=RECORDED_AT_FORMAT), message_type) from None
    now = clock()
    latest = now + timedelta(seconds=settings.WS_RECORDED_AT_MAX_SKEW_SECONDS)
    if recorded_at > latest:
        problem = translation.gettext("Ensure this value is less than or equal to {max_value}.")
        raise _invalid("recorded_at", problem.format(max_value=latest.isoformat().replace("+00:00", "Z")),
                       message_type)
    return min(recorded_at, now)


def _location_update(raw, message_type):
    fields = {name: raw[name] for name in _LOCATION_FIELDS if name in raw}
    try:
        message = msgspec.convert(fields, LocationUpdate)
    except (msgspec.ValidationError, UnicodeEncodeError):  # msgspec cannot read a lone surrogate
        # Numeric strings are accepted (the REST serializer's rules); and what is refused is
        # explained in the REST API's words.
        serializer = LocationSerializer(data=fields)
        if not serializer.is_valid():
            raise ClientMessageError(
                "validation_error",
                first_error_message(serializer.errors),
                request_type=message_type,
                errors=plain_errors(serializer.errors),
            ) from None
        message = LocationUpdate(**serializer.validated_data)
    if message.heading is not None:
        message = msgspec.structs.replace(message, heading=bounds.stored_heading(message.heading))
    if "recorded_at" in raw and (recorded_at := _recorded_at(raw, message_type)) is not None:
        message = msgspec.structs.replace(message, recorded_at=recorded_at)
    return message


def _no_fields(cls):
    instance = cls()
    return lambda raw, message_type: instance


_PARSERS = {
    "ping": _ping,
    "resume": _resume,
    "join_ride": _ride_message(JoinRide),
    "leave_ride": _ride_message(LeaveRide),
    "driver_online": _no_fields(DriverOnline),
    "driver_offline": _no_fields(DriverOffline),
    "location_update": _location_update,
    "decline_ride": _ride_message(DeclineRide),
    "watch_fleet": _no_fields(WatchFleet),
    "unwatch_fleet": _no_fields(UnwatchFleet),
}
assert set(_PARSERS) == set(CLIENT_MESSAGES)


def plain_errors(errors):
    """A DRF error tree with plain str leaves (ErrorDetail is a str subclass msgspec will not encode)."""
    if isinstance(errors, dict):
        return {str(key): plain_errors(value) for key, value in errors.items()}
    if isinstance(errors, (list, tuple)):
        return [plain_errors(value) for value in errors]
    return str(errors)


class ConnectQuery(Struct, forbid_unknown_fields=True, kw_only=True):
    """The query string of the connection URL."""

    token: Annotated[str, Meta(description="JWT access token")]
    last_event_id: Annotated[
        int, Meta(ge=bounds.EVENT_CURSOR_MIN, description="resume: replay reliable events above this id")
    ] | UnsetType = UNSET
    lang: Annotated[str, Meta(
        examples=["fr"],
        description="the language of `error` messages: `fr` or `en` (codes never change); any other value: "
                    "English. Without it, the handshake's Accept-Language, else English",
    )] | UnsetType = UNSET


# --- server events ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerEvent:
    name: str
    data: type
    summary: str
    ride_metadata: bool  # carries metadata.ride_id
    reliable: bool  # logged, carries `id`
    audience: str  # who receives it, in a few words (the AsyncAPI document and /api/docs/websocket/)
    # Also pushed to a recipient's registered devices when they have no open socket (realtime.push).
    pushed: bool = False


SERVER_EVENTS: dict[str, ServerEvent] = {}
# Staff who sent join_ride for a ride hear its lifecycle events live (never replayed).
AND_OBSERVERS = ", and staff who joined the ride"


def server_event(name, *, audience, ride_metadata=False, reliable=False, pushed=False):
    if pushed and not reliable:
        raise TypeError(f"{name}: only reliable events are pushed (the push carries the event id)")

    def register(cls):
        summary = (cls.__doc__ or "").strip().split("\n")[0]
        SERVER_EVENTS[name] = ServerEvent(name, cls, summary, ride_metadata, reliable, audience, pushed)
        return cls

    return register


class EventData(Struct, forbid_unknown_fields=True, kw_only=True):
    """The `data` of a server event. Optional fields default to UNSET and are then left out."""


class RideMetadata(Struct, forbid_unknown_fields=True, kw_only=True):
    ride_id: Uuid


@server_event("connected", audience="the new connection, first message")
class ConnectedData(EventData):
    """First message of every accepted connection."""

    user_id: Uuid
    phone_number: str
    is_driver: bool
    full_name: str
    last_event_id: Annotated[int, Meta(ge=bounds.EVENT_CURSOR_MIN, description="newest reliable event id")]


@server_event("resync_required", audience="a connection that asked to resume from where the log cannot replay")
class ResyncRequiredData(EventData):
    """The log cannot replay from the requested id: reload state over REST."""

    reason: Annotated[
        Literal["too_old", "unknown_event_id", "too_many"],
        Meta(description="too_old: before the retention; unknown_event_id: never issued; "
             "too_many: more than WS_MAX_REPLAY_EVENTS to replay"),
    ]
    last_event_id: EventCursor


@server_event("pong", audience="the connection that sent ping")
class PongData(EventData):
    """Reply to ping; echoes the client's timestamp."""

    timestamp: str


@server_event("ack", audience="the connection that sent a message with an `id`, after the message's own reply")
class AckData(EventData):
    """A client message with an `id` was applied (a resend of one already applied is acknowledged, not applied again)."""

    id: Annotated[RequestId, Meta(description="the acknowledged message's `id`")]
    type: Annotated[Literal[tuple(CLIENT_MESSAGES)], Meta(description="the acknowledged message's type")]


@server_event("error", audience="the connection whose message could not be handled")
class ErrorData(EventData):
    """A client message could not be handled; the connection stays open."""

    code: str
    message: str
    request_type: str | UnsetType = UNSET
    request_id: Annotated[RequestId, Meta(description="the refused message's `id`")] | UnsetType = UNSET
    field: str | UnsetType = UNSET
    errors: dict[str, Any] | UnsetType = UNSET
    current_status: str | UnsetType = UNSET
    ride_id: Uuid | UnsetType = UNSET


@server_event("ride_joined", audience="the connection that sent join_ride")
class RideJoinedData(EventData):
    """Acknowledges join_ride."""

    ride_id: Uuid


@server_event("ride_left", audience="the connection that sent leave_ride")
class RideLeftData(EventData):
    """Acknowledges leave_ride."""

    ride_id: Uuid


@server_event("driver_status", audience="the connection that sent driver_online or driver_offline")
class DriverStatusData(EventData):
    """Acknowledges driver_online / driver_offline."""

    driver_id: Uuid
    is_online: bool


@server_event("driver_availability_changed", reliable=True, audience="all of the driver's connections")
class DriverAvailabilityChangedData(EventData):
    """A driver's availability changed (to all their connections)."""

    driver_id: Uuid
    is_online: bool


@server_event("ride_requested", ride_metadata=True, reliable=True, pushed=True,
              audience="each driver of an offer wave, one event per driver")
class RideRequestedData(EventData):
    """A ride near this driver was requested."""

    ride_id: Uuid
    passenger_id: Uuid
    ride_type: RideType
    pickup_latitude: Latitude
    pickup_longitude: Longitude
    dropoff_latitude: Latitude
    dropoff_longitude: Longitude
    estimated_fare: Fare
    offer_expires_at: Annotated[Timestamp, Meta(description="the offer stands until then (accepting later still works while the ride is requested)")]
    pickup_distance_km: Annotated[float, Meta(ge=0, description="estimated road distance from the driver to the pickup")]
    pickup_eta_minutes: EtaMinutes


@server_event("ride_declined", audience="the connection that sent decline_ride")
class RideDeclinedData(EventData):
    """Acknowledges decline_ride: no more offers of this ride to this driver."""

    ride_id: Uuid


@server_event("ride_unavailable", ride_metadata=True, reliable=True,
              audience="drivers whose offer of the ride stands no more")
class RideUnavailableData(EventData):
    """An offered ride can no longer be taken: drop it."""

    ride_id: Uuid
    reason: Literal["accepted_by_another_driver", "cancelled", "offer_expired"]


@server_event("ride_accepted", ride_metadata=True, reliable=True, pushed=True, audience="the passenger" + AND_OBSERVERS)
class RideAcceptedData(EventData):
    """A driver accepted the passenger's ride."""

    ride_id: Uuid
    driver_id: Uuid
    driver_name: str
    vehicle_type: RideType
    vehicle_plate: str
    vehicle_color: str
    driver_rating: Rating
    estimated_arrival: EtaMinutes


@server_event("driver_arrived", ride_metadata=True, reliable=True, pushed=True,
              audience="the passenger and the ride's driver" + AND_OBSERVERS)
class DriverArrivedData(EventData):
    """The driver is at the pickup."""

    ride_id: Uuid
    driver_id: Uuid
    arrived_at: Timestamp


@server_event("ride_started", ride_metadata=True, reliable=True, pushed=True,
              audience="the passenger and the ride's driver" + AND_OBSERVERS)
class RideStartedData(EventData):
    """The passenger was picked up."""

    ride_id: Uuid
    started_at: Timestamp


@server_event("ride_completed", ride_metadata=True, reliable=True, pushed=True,
              audience="the passenger and the ride's driver" + AND_OBSERVERS)
class RideCompletedData(EventData):
    """The ride ended at the drop-off."""

    ride_id: Uuid
    final_fare: Fare
    completed_at: Timestamp
    can_rate: Annotated[bool, Meta(
        description="the ride can be rated now (POST /api/v1/rides/{id}/rate/): the passenger's app shows "
                    "its rating screen; the driver may rate the passenger",
    )]


@server_event("ride_cancelled", ride_metadata=True, reliable=True, pushed=True,
              audience="the passenger and the ride's driver" + AND_OBSERVERS)
class RideCancelledData(EventData):
    """The ride was cancelled."""

    ride_id: Uuid
    cancelled_by: CancelledByValue
    reason: str
    cancelled_at: Timestamp


@server_event("driver_location_update", audience="the passenger of the driver's active ride" + AND_OBSERVERS)
class DriverLocationUpdateData(EventData):
    """The position of the driver of the passenger's active ride (latest-wins)."""

    driver_id: Uuid
    ride_id: Uuid
    latitude: Latitude
    longitude: Longitude
    heading: StoredHeading | None
    speed: Speed | None
    recorded_at: Timestamp | None
    # To the pickup until the ride is started, to the drop-off after (rides.eta).
    distance_km: DistanceKm
    eta_minutes: EtaMinutes


@server_event("driver_approaching", ride_metadata=True, reliable=True, pushed=True,
              audience="the passenger and the ride's driver, once per ride" + AND_OBSERVERS)
class DriverApproachingData(EventData):
    """The driver is about to reach the pickup (once per ride, within DRIVER_APPROACHING_RADIUS_M)."""

    ride_id: Uuid
    driver_id: Uuid
    distance_m: DistanceM
    eta_minutes: EtaMinutes


class FleetDriver(Struct, forbid_unknown_fields=True, kw_only=True):
    driver_id: Uuid
    name: str
    vehicle_type: RideType
    latitude: Latitude
    longitude: Longitude
    heading: StoredHeading | None
    busy: Annotated[bool, Meta(description="on a ride (accepted, arrived or started)")]
    location_updated_at: Timestamp | None


class FleetRide(Struct, forbid_unknown_fields=True, kw_only=True):
    ride_id: Uuid
    status: Annotated[Literal[tuple(RideStatus.values)], Meta(description="completed or cancelled: the ride is over, drop it")]
    ride_type: RideType
    pickup_latitude: Latitude
    pickup_longitude: Longitude
    dropoff_latitude: Latitude
    dropoff_longitude: Longitude
    driver_id: Uuid | None
    requested_at: Timestamp


@server_event("fleet_update", audience="staff connections that sent watch_fleet")
class FleetUpdateData(EventData):
    """The fleet as staff see it: all of it after watch_fleet (full), then what changed, at most every FLEET_UPDATE_SECONDS."""

    full: Annotated[bool, Meta(description="true: the whole fleet now (replace what you have); false: changes only")]
    drivers: Annotated[list[FleetDriver], Meta(description="online drivers (full) or drivers that moved or changed")]
    removed_driver_ids: Annotated[list[Uuid], Meta(description="drivers who went offline")]
    rides: Annotated[list[FleetRide], Meta(description="open rides (full) or rides that changed, finished ones included once")]


@server_event("fleet_unwatched", audience="the connection that sent unwatch_fleet")
class FleetUnwatchedData(EventData):
    """Acknowledges unwatch_fleet."""


def _str_subclass(value):
    if isinstance(value, str):  # DRF's ErrorDetail in `errors`
        return str(value)
    raise TypeError(f"{type(value).__name__} is not part of the wire protocol")


def payload(data):
    """A server event's `data` Struct as JSON-ready builtins (UNSET fields left out)."""
    return msgspec.to_builtins(data, enc_hook=_str_subclass)
