"""What a client message does, as plain sync functions over the domain services.

The consumer calls these through `realtime.db.db_call`; they raise `DomainError`s, DRF
`ValidationError`s or `wire.ClientMessageError`s, which the consumer turns into `error` events.
"""

from dataclasses import dataclass, field

import msgspec

from drivers import services as driver_services
from rides.models import DRIVER_ACTIVE_STATUSES, Ride
from rideshare.kernel.errors import NotFound

from . import eventlog, events, presence, wire


class RideNotJoinable(NotFound):
    """One answer for unknown, malformed and other people's rides: no existence oracle."""

    code = wire.RIDE_NOT_FOUND

    def __init__(self):
        super().__init__(wire.RIDE_NOT_FOUND_MESSAGE)


def ride_access(user, raw_ride_id):
    """(ride_id, is_participant) for a ride the user may follow, else RideNotJoinable."""
    try:
        ride_id = wire.ride_uuid(raw_ride_id)
    except ValueError:
        raise RideNotJoinable() from None
    row = Ride.objects.filter(pk=ride_id).values_list("passenger_id", "driver_id").first()
    if row is None:
        raise RideNotJoinable()
    is_participant = user.pk in row
    if not (is_participant or user.is_staff):
        raise RideNotJoinable()
    return ride_id, is_participant


def set_driver_online(user, online):
    return driver_services.set_online(user=user, online=online)


def require_driver(user):
    """Raises not_a_driver unless the user has a driver profile."""
    if not user.is_driver:
        driver_services.get_driver_profile(user)  # raises not_a_driver


def parse_location(user, payload):
    """The validated position (same rules as the REST endpoint), for a driver only: latitude,
    longitude, heading and speed, as `wire.client_message` parses a location_update."""
    require_driver(user)
    return msgspec.structs.asdict(wire.client_message("location_update", payload))


def connection_opened(channel_name, user):
    """Register the connection's presence. Returns the newest event id the user can see and, for
    a driver, where their positions go: (ride_id, passenger_id) of their active ride, or None."""
    presence.register(channel_name, user)
    assignment = None
    if user.is_driver:
        row = Ride.objects.filter(driver_id=user.pk, status__in=DRIVER_ACTIVE_STATUSES).values_list(
            "pk", "passenger_id"
        ).first()
        assignment = (str(row[0]), str(row[1])) if row else None
    return eventlog.latest_event_id(user.pk), assignment


@dataclass
class ResumeOutcome:
    latest: int
    problem: str | None = None
    after: int = 0
    events: list = field(default_factory=list)
    driver_position: dict | None = None


def resume(user, requested):
    latest = eventlog.latest_event_id(user.pk)
    try:
        after = wire.event_id(requested)
    except (TypeError, ValueError, OverflowError):
        return ResumeOutcome(latest=latest, problem="unknown_event_id")
    problem = eventlog.resume_problem(after)
    if problem:
        return ResumeOutcome(latest=latest, problem=problem)
    return ResumeOutcome(
        latest=latest,
        after=after,
        events=eventlog.events_after(user.pk, after),
        driver_position=_driver_position_for(user),
    )


def _driver_position_for(user):
    """The latest position of the driver of the user's active ride, as a location event."""
    ride = (
        Ride.objects.filter(passenger=user, status__in=DRIVER_ACTIVE_STATUSES)
        .select_related("driver")
        .first()
    )
    if ride is None or not ride.driver.has_position:
        return None
    return events.driver_location_update_from(ride.driver, ride.pk)


def events_after(user, after_id):
    return eventlog.events_after(user.pk, after_id)
