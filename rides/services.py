"""Every ride state transition, each one short: lock the row, check the from-state, transition.

requested → accepted → driver_arrived → started → completed;
cancelled from requested, accepted or driver_arrived; and, by an operator only
(`end_ride_as_operator`), from any active status, `started` included. Nothing else.
Events are not sent from here: `Ride.transition` saves and sends `rides.signals.ride_transitioned`,
which realtime's receiver announces once the transaction commits.
"""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from drivers.models import Driver, VehicleType
from drivers.services import get_driver_profile
from rideshare.kernel.errors import Conflict, Forbidden, NotFound
from rideshare.kernel.translation import lazy_format

from . import dispatching, fares
from .models import (
    CANCELLABLE_STATUSES,
    DRIVER_ACTIVE_STATUSES,
    PASSENGER_ACTIVE_STATUSES,
    CancelledBy,
    Ride,
    RideStatus,
)


class RideNotFound(NotFound):
    code = "ride_not_found"

    def __init__(self):
        super().__init__(_("Ride not found."))


# The words of "Cannot <action> a ride that is <status>.": English keeps the status as the code
# the apps know (`driver_arrived`); French reads it as words.
ACTIONS = {
    "accept": pgettext_lazy("ride action", "accept"),
    "mark arrival for": pgettext_lazy("ride action", "mark arrival for"),
    "start": pgettext_lazy("ride action", "start"),
    "complete": pgettext_lazy("ride action", "complete"),
    "cancel": pgettext_lazy("ride action", "cancel"),
    "expire": pgettext_lazy("ride action", "expire"),
    "end": pgettext_lazy("ride action", "end"),
    "decline": pgettext_lazy("ride action", "decline"),
    "rate": pgettext_lazy("ride action", "rate"),
}
STATUSES = {
    RideStatus.REQUESTED: pgettext_lazy("ride status", "requested"),
    RideStatus.ACCEPTED: pgettext_lazy("ride status", "accepted"),
    RideStatus.DRIVER_ARRIVED: pgettext_lazy("ride status", "driver_arrived"),
    RideStatus.STARTED: pgettext_lazy("ride status", "started"),
    RideStatus.COMPLETED: pgettext_lazy("ride status", "completed"),
    RideStatus.CANCELLED: pgettext_lazy("ride status", "cancelled"),
}
assert set(STATUSES) == set(RideStatus)


class InvalidTransition(Conflict):
    code = "invalid_transition"

    def __init__(self, ride, action):
        super().__init__(
            lazy_format(
                _("Cannot %(action)s a ride that is %(status)s."),
                action=ACTIONS.get(action, action), status=STATUSES.get(ride.status, ride.status),
            ),
            current_status=ride.status,
        )


def lock_ride(ride_id):
    try:
        return Ride.objects.select_for_update().get(pk=ride_id)
    except (Ride.DoesNotExist, ValidationError, ValueError):
        raise RideNotFound() from None


def lock_for_participant(ride_id, user):
    """The ride, locked, if `user` is its passenger or assigned driver; 404 for anyone else."""
    ride = lock_ride(ride_id)
    if user.pk not in (ride.passenger_id, ride.driver_id):
        raise RideNotFound()
    return ride


def _require_assigned_driver(ride, user):
    if ride.driver_id != user.pk:
        raise Forbidden(_("Only the ride's driver can do this."), code="not_ride_driver")


def require_status(ride, allowed, action):
    if ride.status not in allowed:
        raise InvalidTransition(ride, action)


def _transition(ride, new_status, **changes):
    """`Ride.transition`, with a constraint the change broke (a concurrent one won) as a 409."""
    try:
        ride.transition(new_status, **changes)
    except IntegrityError:
        raise Conflict(_("The ride changed concurrently; reload it."), code="concurrent_update") from None
    return ride


ACTIVE_RIDE_EXISTS = _("You already have an active ride.")


def request_ride(*, passenger, ride_type, pickup_latitude, pickup_longitude, dropoff_latitude, dropoff_longitude):
    distance = fares.trip_distance_km(pickup_latitude, pickup_longitude, dropoff_latitude, dropoff_longitude)
    ride = Ride(
        passenger=passenger,
        ride_type=ride_type,
        pickup_latitude=pickup_latitude,
        pickup_longitude=pickup_longitude,
        dropoff_latitude=dropoff_latitude,
        dropoff_longitude=dropoff_longitude,
        distance_km=round(distance, 3),
        estimated_fare=fares.fare_for_distance(ride_type, distance),
    )
    try:
        with transaction.atomic():
            active = Ride.objects.filter(passenger=passenger, status__in=PASSENGER_ACTIVE_STATUSES).first()
            if active is not None:
                raise Conflict(ACTIVE_RIDE_EXISTS, code="active_ride_exists", ride_id=str(active.pk))
            ride.save(force_insert=True)
            dispatching.first_wave(ride)
    except IntegrityError:
        # Two concurrent requests by one passenger: the partial unique index let one through.
        raise Conflict(ACTIVE_RIDE_EXISTS, code="active_ride_exists") from None
    return ride


# "This ride needs a <type>": the vehicle types as the apps name them in English.
VEHICLES = {
    VehicleType.MOTO: pgettext_lazy("vehicle type", "moto"),
    VehicleType.CAR: pgettext_lazy("vehicle type", "car"),
}


def accept_ride(*, ride_id, user):
    profile = get_driver_profile(user)
    with transaction.atomic():
        # Driver first, then ride: the only place that holds two locks, always in this order.
        # NO KEY: a dispatcher holding the ride may be writing an offer to this driver, which
        # takes a key-share lock on the driver row; a full FOR UPDATE here would deadlock with it.
        driver = Driver.objects.select_for_update(no_key=True).get(pk=profile.pk)
        ride = lock_ride(ride_id)
        if ride.passenger_id == user.pk:
            raise Forbidden(_("You cannot accept your own ride."), code="own_ride")
        require_status(ride, [RideStatus.REQUESTED], "accept")
        if ride.ride_type != driver.vehicle_type:
            raise Forbidden(
                lazy_format(
                    _("This ride needs a %(needed)s; your vehicle is a %(vehicle)s."),
                    needed=VEHICLES.get(ride.ride_type, ride.ride_type),
                    vehicle=VEHICLES.get(driver.vehicle_type, driver.vehicle_type),
                ),
                code="wrong_vehicle_type",
            )
        if not driver.is_online:
            raise Conflict(_("Go online before accepting rides."), code="driver_offline")
        if not driver.has_position:
            # The passenger is promised an arrival estimate from the driver's position.
            raise Conflict(_("Report your position before accepting rides."), code="driver_position_unknown")
        if Ride.objects.filter(driver=driver, status__in=DRIVER_ACTIVE_STATUSES).exists():
            raise Conflict(_("Finish your current ride first."), code="driver_busy")
        accepted_at = timezone.now()
        dispatching.offers_taken(ride, driver, accepted_at)
        _transition(ride, RideStatus.ACCEPTED, driver=driver, accepted_at=accepted_at, next_wave_at=None)
    return ride


def _assigned_drivers_ride(ride_id, user, *, from_status, action):
    """The ride, locked, for one of its driver's steps: checks who and from which status."""
    ride = lock_for_participant(ride_id, user)
    _require_assigned_driver(ride, user)
    require_status(ride, [from_status], action)
    return ride


@transaction.atomic
def mark_arrived(*, ride_id, user):
    ride = _assigned_drivers_ride(ride_id, user, from_status=RideStatus.ACCEPTED, action="mark arrival for")
    return _transition(ride, RideStatus.DRIVER_ARRIVED, arrived_at=timezone.now())


@transaction.atomic
def start_ride(*, ride_id, user):
    ride = _assigned_drivers_ride(ride_id, user, from_status=RideStatus.DRIVER_ARRIVED, action="start")
    return _transition(ride, RideStatus.STARTED, started_at=timezone.now())


@transaction.atomic
def complete_ride(*, ride_id, user):
    ride = _assigned_drivers_ride(ride_id, user, from_status=RideStatus.STARTED, action="complete")
    return _transition(ride, RideStatus.COMPLETED, completed_at=timezone.now(), final_fare=ride.estimated_fare)


def _cancel(ride, *, by, reason):
    require_status(ride, CANCELLABLE_STATUSES, "cancel")
    return _end_cancelled(ride, by=by, reason=reason)


def _end_cancelled(ride, *, by, reason):
    cancelled_at = timezone.now()
    dispatching.offers_withdrawn(ride, cancelled_at)
    return _transition(
        ride, RideStatus.CANCELLED,
        cancelled_at=cancelled_at, cancelled_by=by, cancel_reason=reason or "", next_wave_at=None,
    )


@transaction.atomic
def cancel_ride(*, ride_id, user, reason=""):
    """Cancel by a participant: the passenger, or the assigned driver."""
    ride = lock_for_participant(ride_id, user)
    by = CancelledBy.PASSENGER if ride.passenger_id == user.pk else CancelledBy.DRIVER
    return _cancel(ride, by=by, reason=reason)


@transaction.atomic
def cancel_ride_as(*, ride_id, by, reason=""):
    """Cancel on behalf of the operator (`admin`) or the platform (`system`)."""
    if by not in (CancelledBy.ADMIN, CancelledBy.SYSTEM):
        raise ValueError(f"cancel_ride_as is for admin or system, not {by!r}")
    return _cancel(lock_ride(ride_id), by=by, reason=reason)


@transaction.atomic
def expire_request(*, ride_id, reason="no_driver_found"):
    """Cancel, as `system`, a request no driver took in time; a ride accepted meanwhile is kept."""
    ride = lock_ride(ride_id)
    require_status(ride, [RideStatus.REQUESTED], "expire")
    return _cancel(ride, by=CancelledBy.SYSTEM, reason=reason)


OPERATOR_END_REASON = "ended_by_operator"


@transaction.atomic
def end_ride_as_operator(*, ride_id, reason=OPERATOR_END_REASON):
    """End, as `admin`, a ride nobody else can end any more (its driver was deactivated mid-trip,
    the driver's phone died, ...), from any active status: requested, accepted, driver_arrived or
    started. It ends `cancelled` (`cancelled_by: admin`, `cancel_reason: reason`), with no final
    fare: the operator settles what a trip cut short costs outside the app, and the passenger and
    the driver hear `ride_cancelled` like any other cancel."""
    ride = lock_ride(ride_id)
    require_status(ride, PASSENGER_ACTIVE_STATUSES, "end")
    return _end_cancelled(ride, by=CancelledBy.ADMIN, reason=reason or OPERATOR_END_REASON)


def active_ride_ids_of(user):
    """The user's rides still active, as passenger or as driver (at most one of each)."""
    as_passenger = Ride.objects.filter(passenger_id=user.pk, status__in=PASSENGER_ACTIVE_STATUSES)
    as_driver = Ride.objects.filter(driver_id=user.pk, status__in=DRIVER_ACTIVE_STATUSES)
    return list(as_passenger.values_list("pk", flat=True)) + list(as_driver.values_list("pk", flat=True))


def end_active_rides_of(user, *, reason=OPERATOR_END_REASON):
    """End every active ride of `user` through `end_ride_as_operator` (one ride at a time; a ride
    that ended meanwhile is skipped). Returns the rides ended."""
    ended = []
    for ride_id in active_ride_ids_of(user):
        try:
            ended.append(end_ride_as_operator(ride_id=ride_id, reason=reason))
        except InvalidTransition:
            pass  # it ended on its own meanwhile
    return ended


def claim_approach_announcement(ride_id):
    """True for exactly one caller per ride: the first to report the driver close to the pickup
    while the ride is still `accepted` (one conditional UPDATE: concurrent processes, sockets and
    REST requests cannot both win). Not a transition: the status stays `accepted`."""
    return bool(
        Ride.objects.filter(pk=ride_id, status=RideStatus.ACCEPTED, approaching_announced_at__isnull=True)
        .update(approaching_announced_at=timezone.now())
    )
