"""What a connection and its client messages do: async functions the consumer awaits.

Each one's database work is a plain sync function below it, run in a database thread
(`rideshare.kernel.db.db_call`); presence bookkeeping happens on the loop. They raise `DomainError`s,
which the consumer turns into `error` events.
"""

import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.utils.translation import gettext_lazy

from drivers import services as driver_services
from realtime.delivery import eventlog, events
from realtime.delivery.batching import Batched
from realtime.protocol import wire
from rides import dispatching
from rides.matching import Assignment, active_assignments, active_rides_of_passengers
from rides.models import Ride
from rideshare.kernel.db import db_call
from rideshare.kernel.errors import Forbidden, NotFound


class RideNotJoinable(NotFound):
    """One answer for unknown, malformed and other people's rides: no existence oracle."""

    code = "ride_not_found"

    def __init__(self):
        super().__init__(wire.RIDE_NOT_FOUND_MESSAGE)


# Messages only a driver may send; anyone else gets `not_a_driver` before any field is validated.
DRIVER_MESSAGES = {"driver_online", "driver_offline", "location_update", "decline_ride"}


# Messages only staff may send (the ops console).
STAFF_MESSAGES = {"watch_fleet", "unwatch_fleet"}
ONLY_STAFF = gettext_lazy("Only staff may watch the fleet.")


def require_role(user, message_type):
    if message_type in DRIVER_MESSAGES and not user.is_driver:
        driver_services.get_driver_profile(user)  # raises not_a_driver, as the REST endpoints do
    if message_type in STAFF_MESSAGES and not user.is_staff:
        raise Forbidden(ONLY_STAFF, code="permission_denied")


async def ride_access(user, raw_ride_id):
    return await db_call(_ride_access)(user, raw_ride_id)


def _ride_access(user, raw_ride_id):
    """(ride_id, is_participant) for a ride the user may follow, else RideNotJoinable."""
    try:
        ride_id = uuid.UUID(str(raw_ride_id))
    except (ValueError, TypeError, AttributeError):
        raise RideNotJoinable() from None
    row = Ride.objects.filter(pk=ride_id).values_list("passenger_id", "driver_id").first()
    if row is None:
        raise RideNotJoinable()
    is_participant = user.pk in row
    if not (is_participant or user.is_staff):
        raise RideNotJoinable()
    return ride_id, is_participant


async def decline_ride(user, ride_id):
    return await db_call(dispatching.decline_ride)(ride_id=ride_id, user=user)


async def set_driver_online(user, online):
    return await db_call(driver_services.set_online)(user=user, online=online)


TOO_MANY = "too_many"  # resync reason: more than WS_MAX_REPLAY_EVENTS to replay


@dataclass
class ResumeOutcome:
    latest: int
    problem: str | None = None
    after: int = 0
    events: list = field(default_factory=list)
    driver_position: dict | None = None  # the driver's stored position, as an event
    driver_position_at: float | None = None  # when the driver recorded it (a timestamp)


@dataclass
class Opening:
    """What a new connection needs from the database."""

    latest: int  # the newest event id the user can see
    assignment: Assignment | None  # a driver's active ride: where their positions go
    resumed: ResumeOutcome | None  # when the app asked to resume (`last_event_id`)


async def open_connection(user, requested=None):
    return await _connection_states((user, requested, True))


async def resume(user, requested):
    return (await _connection_states((user, requested, False))).resumed


def _load_connection_states(requests):
    """In a database thread, for every (user, requested last_event_id or None, wants the
    assignment) of the handshakes and resumes in flight: a few queries for the whole batch."""
    latest = eventlog.latest_event_ids({user.pk for user, _, _ in requests})
    drivers = {user.pk for user, _, wants in requests if wants and user.is_driver}
    assignments = active_assignments(drivers) if drivers else {}
    bounds = eventlog.log_bounds() if any(requested is not None for _, requested, _ in requests) else None
    outcomes = [None if requested is None else _resume(user, requested, latest.get(user.pk, 0), bounds)
                for user, requested, _ in requests]
    replaying = {user.pk for (user, _, _), outcome in zip(requests, outcomes) if outcome and not outcome.problem}
    rides = active_rides_of_passengers(replaying) if replaying else {}
    for (user, _, _), outcome in zip(requests, outcomes):
        if outcome and not outcome.problem and (ride := rides.get(user.pk)) and ride.driver.has_position:
            outcome.driver_position = events.driver_location_update_from(ride.driver, ride)
            # The phone's time, as on the live positions this one is weighed against (realtime.delivery.cursor).
            recorded_at = ride.driver.location_recorded_at or ride.driver.location_updated_at
            outcome.driver_position_at = recorded_at.timestamp() if recorded_at is not None else None
    return [
        Opening(latest=latest.get(user.pk, 0), assignment=assignments.get(user.pk), resumed=outcome)
        for (user, _, _), outcome in zip(requests, outcomes)
    ]


_connection_states = Batched(_load_connection_states)


def _resume(user, requested, latest, bounds):
    try:
        after = wire.event_id(requested)
    except (TypeError, ValueError, OverflowError):
        return ResumeOutcome(latest=latest, problem="unknown_event_id")
    problem = eventlog.resume_problem(after, bounds)
    if problem:
        return ResumeOutcome(latest=latest, problem=problem)
    if after >= latest:
        return ResumeOutcome(latest=latest, after=after)  # nothing missed: no query
    # Bounded: a resume from 0 or a very old id would otherwise read and send the user's whole log.
    cap = settings.WS_MAX_REPLAY_EVENTS
    missed = eventlog.events_after(user.pk, after, limit=cap + 1)
    if len(missed) > cap:
        return ResumeOutcome(latest=latest, problem=TOO_MANY)
    return ResumeOutcome(latest=latest, after=after, events=missed)


async def events_after(user, after_id):
    return await db_call(eventlog.events_after)(user.pk, after_id)
