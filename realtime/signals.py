"""Rides announce their transitions and offers by name (rides.signals: `ride_transitioned`, sent by
`Ride.transition`; `offers_made`, `offers_expired`, sent by rides.dispatching), and a deactivated
account once its rides have ended (`account_deactivated`, sent by rides.receivers); saved drivers
and users announce themselves (post_save). Receivers run inside the changing transaction, so the
reliable events they log commit or roll back with the change, and are published once it commits.
The API, the admin, management commands, the dispatcher and the shell all announce their changes
the same way.

Receivers only announce: what changed comes from the domain signals' arguments (a ride's
`previous` and `new` status) and the Driver's FieldTracker, the payloads from
realtime.delivery.events, and every send goes through realtime.delivery.dispatch (reliable events by
way of the log, realtime.delivery.eventlog).
"""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver

from drivers.known_users import known
from drivers.models import Driver
from realtime.connections import approach
from realtime.delivery import dispatch, eventlog, events
from rides.matching import active_assignment, assignment_of
from rides.models import OfferStatus, RideOffer, RideStatus
from rides.signals import account_deactivated, offers_expired, offers_made, ride_transitioned


@receiver(offers_made, dispatch_uid="realtime.offers_made")
def announce_offers(sender, ride, offers, **kwargs):
    # One event per driver: the expiry is shared, the distance and the ETA are each driver's own.
    eventlog.record_each([(events.ride_requested(ride, offer), [offer.driver_id]) for offer in offers], ride_id=ride.pk)


@receiver(offers_expired, dispatch_uid="realtime.offers_expired")
def announce_expired_offers(sender, ride, offers, **kwargs):
    eventlog.record(
        events.ride_unavailable(ride, "offer_expired"), user_ids=[o.driver_id for o in offers], ride_id=ride.pk
    )


@receiver(ride_transitioned, dispatch_uid="realtime.ride_transitioned")
def announce_transition(sender, ride, previous, new, **kwargs):
    # A new request is no transition: its offers announce it (offers_made).
    participants = [ride.passenger_id] + ([ride.driver_id] if ride.driver_id else [])
    match new:
        case RideStatus.ACCEPTED:
            _assign_on_commit(ride.driver_id, assignment_of(ride))
            _log_for_ride(events.ride_accepted(ride), [ride.passenger_id], ride)
            _log_for_offered(events.ride_unavailable(ride, "accepted_by_another_driver"), ride, exclude=ride.driver_id)
        case RideStatus.DRIVER_ARRIVED:
            _assign_on_commit(ride.driver_id, assignment_of(ride))  # no approach to announce any more
            _log_for_ride(events.driver_arrived(ride), participants, ride)
        case RideStatus.STARTED:
            _assign_on_commit(ride.driver_id, assignment_of(ride))  # measured to the drop-off from now on
            _log_for_ride(events.ride_started(ride), participants, ride)
        case RideStatus.COMPLETED:
            _assign_on_commit(ride.driver_id, None)
            _log_for_ride(events.ride_completed(ride), participants, ride)
        case RideStatus.CANCELLED:
            if ride.driver_id:
                _assign_on_commit(ride.driver_id, None)
            _log_for_ride(events.ride_cancelled(ride), participants, ride)
            if previous == RideStatus.REQUESTED:
                _log_for_offered(events.ride_unavailable(ride, "cancelled"), ride)


def _log_for_ride(message, user_ids, ride):
    """A lifecycle event: to `user_ids`, and live to staff observing the ride."""
    eventlog.record(message, user_ids=user_ids, ride_id=ride.pk, observers=True)


def _log_for_offered(message, ride, *, exclude=None):
    """To the drivers whose offer stood when the ride left `requested` (but `exclude`): the services
    withdraw them in the same transaction; a ride moved by `Ride.transition` alone (a shell) leaves them `offered`. A driver who
    declined, or whose offer expired (told then), hears nothing more."""
    standing = RideOffer.objects.filter(ride=ride, status__in=[OfferStatus.OFFERED, OfferStatus.WITHDRAWN])
    offered = standing.exclude(driver_id=exclude).values_list("driver_id", flat=True)
    eventlog.record(message, user_ids=list(offered), ride_id=ride.pk)


def _assign_on_commit(driver_id, assignment):
    """Tell the driver's connections where their positions go, and what they are measured
    against, from now on (a rides.matching.Assignment, or None); and every server process's
    REST positions (realtime.connections.positions.rest_assignments) to ask again."""
    _on_commit(dispatch.send_control, driver_id, dispatch.assignment(assignment))
    _on_commit(dispatch.send_to_processes, dispatch.forget_user(driver_id))


# A save of only these leaves the cached profile (drivers.known_users) as good as it was: an async
# REST view shows the position it was sent, not the cached one.
POSITION_FIELDS = {"latitude", "longitude", "heading", "speed", "location_updated_at", "location_recorded_at"}


@receiver(post_save, sender=Driver, dispatch_uid="realtime.driver_saved")
def driver_saved(sender, instance, created, raw=False, **kwargs):
    if raw:
        return
    update_fields = kwargs.get("update_fields")
    if not (update_fields and set(update_fields) <= POSITION_FIELDS):
        _forget_everywhere(instance.pk)  # the user is a driver now, or the cached profile is stale
    tracker = instance.tracker
    if instance.is_online if created else tracker.has_changed("is_online"):
        eventlog.record(events.driver_availability_changed(instance), user_ids=[instance.pk])
    moved = instance.location_updated_at is not None if created else tracker.has_changed("location_updated_at")
    if moved and instance.has_position:
        assignment = active_assignment(instance.pk)
        if assignment is not None:
            _on_commit(
                dispatch.send_position, instance.pk, assignment,
                latitude=instance.latitude, longitude=instance.longitude, heading=instance.heading,
                speed=instance.speed, recorded_at=instance.location_updated_at,
            )
            approach.announce_if_close_now(instance.pk, assignment, instance.latitude, instance.longitude)


@receiver(post_delete, sender=Driver, dispatch_uid="realtime.driver_deleted")
def driver_deleted(sender, instance, **kwargs):
    _forget_everywhere(instance.pk)  # no longer a driver


@receiver(post_save, sender=get_user_model(), dispatch_uid="realtime.user_saved")
def user_saved(sender, instance, created, raw=False, **kwargs):
    # An inactive user's save is a deactivation: close_deactivated_account forgets it, after
    # rides.receivers ended its rides.
    if raw or created or not instance.is_active:
        return
    _forget_everywhere(instance.pk)


@receiver(account_deactivated, dispatch_uid="realtime.account_deactivated")
def close_deactivated_account(sender, user, **kwargs):
    _forget_everywhere(user.pk)
    _on_commit(dispatch.send_control, user.pk, dispatch.disconnect("account_disabled"))


@receiver(pre_delete, sender=get_user_model(), dispatch_uid="realtime.user_deleted")
def user_deleted(sender, instance, **kwargs):
    _forget_everywhere(instance.pk)
    _on_commit(dispatch.send_control, instance.pk, dispatch.disconnect("account_deleted"))


def _forget_everywhere(user_id):
    """After commit, every server process's handshake cache forgets the user (drivers.known_users):
    this one at once, the others through their inbox."""

    def forget_changed_user():
        known.forget(user_id)
        dispatch.soon(dispatch.send_to_processes, dispatch.forget_user(user_id))

    transaction.on_commit(forget_changed_user, robust=True)


def _on_commit(verb, *args, **kwargs):
    """After commit (nothing for a rolled-back change), hand `verb` to the dispatcher."""

    def send_committed_change():  # a named function: robust on_commit logs its __qualname__
        dispatch.soon(verb, *args, **kwargs)

    transaction.on_commit(send_committed_change, robust=True)
