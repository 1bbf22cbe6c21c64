"""What a connection and its client messages do: async functions the consumer awaits.

Each one's database work is a plain sync function below it, run in a database thread
(`realtime.db.db_call`); presence bookkeeping happens on the loop. They raise `DomainError`s,
which the consumer turns into `error` events.
"""

import uuid
from dataclasses import dataclass, field

from django.conf import settings

from drivers import services as driver_services
from rides.matching import active_assignment
from rides.models import DRIVER_ACTIVE_STATUSES, Ride
from rideshare.kernel.errors import NotFound

from . import cap, eventlog, events, presence, wire
from .db import db_call


class RideNotJoinable(NotFound):
    """One answer for unknown, malformed and other people's rides: no existence oracle."""

    code = "ride_not_found"

    def __init__(self):
        super().__init__("Ride not found.")


# Messages only a driver may send; anyone else gets `not_a_driver` before any field is validated.
DRIVER_MESSAGES = {"driver_online", "driver_offline", "location_update"}


def require_role(user, message_type):
    if message_type in DRIVER_MESSAGES and not user.is_driver:
        driver_services.get_driver_profile(user)  # raises not_a_driver, as the REST endpoints do


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


async def set_driver_online(user, online):
    return await db_call(driver_services.set_online)(user=user, online=online)


async def open_connection(channel_name, user):
    """Count the socket (on the loop, first), then (newest event id, driver's assignment, the
    user's older sockets to close: realtime.cap)."""
    write_now = presence.local.opened(channel_name, user)
    return await db_call(_connection_opened)(channel_name, user, write_now, cap.local_view(user.pk))


def forget_connection(channel_name):
    """Stop counting the socket; call it before any await of a disconnect (one cut short at
    shutdown then leaves no row kept alive). True when its row must be removed now."""
    return presence.local.closed(channel_name)


async def remove_connection(channel_name, user):
    await db_call(presence.remove_row)(channel_name, user.pk, user.is_driver)


def _connection_opened(channel_name, user, write_presence, local_sockets):
    """The database side of a connect: the presence row when it is written at once, the newest
    event id the user can see, for a driver where their positions go ((ride_id, passenger_id)
    of their active ride, or None), and the channels of the user's sockets over the cap."""
    if write_presence:
        presence.write_row(channel_name, user.pk, user.is_driver)
    assignment = active_assignment(user.pk) if user.is_driver else None
    return eventlog.latest_event_id(user.pk), assignment, cap.replaced(channel_name, local_sockets, user.pk)


TOO_MANY = "too_many"  # resync reason: more than WS_MAX_REPLAY_EVENTS to replay


@dataclass
class ResumeOutcome:
    latest: int
    problem: str | None = None
    after: int = 0
    events: list = field(default_factory=list)
    driver_position: dict | None = None


async def resume(user, requested):
    return await db_call(_resume)(user, requested)


def _resume(user, requested):
    latest = eventlog.latest_event_id(user.pk)
    try:
        after = wire.event_id(requested)
    except (TypeError, ValueError, OverflowError):
        return ResumeOutcome(latest=latest, problem="unknown_event_id")
    problem = eventlog.resume_problem(after)
    if problem:
        return ResumeOutcome(latest=latest, problem=problem)
    # Bounded: a resume from 0 or a very old id would otherwise read and send the user's whole log.
    cap = settings.WS_MAX_REPLAY_EVENTS
    missed = eventlog.events_after(user.pk, after, limit=cap + 1)
    if len(missed) > cap:
        return ResumeOutcome(latest=latest, problem=TOO_MANY)
    return ResumeOutcome(latest=latest, after=after, events=missed, driver_position=_driver_position_for(user))


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


async def events_after(user, after_id):
    return await db_call(eventlog.events_after)(user.pk, after_id)
