"""Saved rides, drivers and users become events. Receivers run inside the saving transaction, so
the reliable events they log (and the offers they record) commit or roll back with the change, and
are published once it commits. The API, the admin, management commands and the shell all announce
their changes the same way."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models.signals import post_save, pre_delete
from django.dispatch import receiver

from drivers.models import Driver
from rides.models import DRIVER_ACTIVE_STATUSES, Ride, RideStatus
from rides.selectors import nearby_idle_drivers

from . import eventlog, events
from .groups import ride_group_name, user_group_name
from .models import RideOffer
from .publish import assignment_on_commit, disconnect_on_commit, publish_latest_on_commit


def _participants(ride):
    return [ride.passenger_id] + ([ride.driver_id] if ride.driver_id else [])


def _offered_driver_ids(ride, *, exclude=None):
    return list(RideOffer.objects.filter(ride=ride).exclude(driver_id=exclude).values_list("driver_id", flat=True))


def _offer_to_nearby_drivers(ride):
    drivers = nearby_idle_drivers(
        ride.pickup_latitude,
        ride.pickup_longitude,
        vehicle_type=ride.ride_type,
        radius_km=settings.RIDE_OFFER_RADIUS_KM,
        limit=settings.RIDE_OFFER_MAX_DRIVERS,
        exclude_user=ride.passenger,
    )
    RideOffer.objects.bulk_create(
        [RideOffer(ride=ride, driver=driver, distance_km=driver.distance_km) for driver in drivers]
    )
    eventlog.record(events.ride_requested(ride), user_ids=[d.pk for d in drivers], ride_id=ride.pk)


def _lifecycle(builder):
    def announce(ride):
        eventlog.record(builder(ride), user_ids=_participants(ride), ride_id=ride.pk, observers=True)

    return announce


def _accepted(ride):
    assignment_on_commit(ride.driver_id, ride)
    eventlog.record(events.ride_accepted(ride), user_ids=[ride.passenger_id], ride_id=ride.pk, observers=True)
    eventlog.record(
        events.ride_unavailable(ride, "accepted_by_another_driver"),
        user_ids=_offered_driver_ids(ride, exclude=ride.driver_id),
        ride_id=ride.pk,
    )


def _ended(builder):
    def announce(ride):
        if ride.driver_id:
            assignment_on_commit(ride.driver_id, None)
        _lifecycle(builder)(ride)

    return announce


def _cancelled(ride):
    _ended(events.ride_cancelled)(ride)
    if ride.previous_status == RideStatus.REQUESTED:
        eventlog.record(events.ride_unavailable(ride, "cancelled"), user_ids=_offered_driver_ids(ride), ride_id=ride.pk)


TRANSITIONS = {
    RideStatus.ACCEPTED: _accepted,
    RideStatus.DRIVER_ARRIVED: _lifecycle(events.driver_arrived),
    RideStatus.STARTED: _lifecycle(events.ride_started),
    RideStatus.COMPLETED: _ended(events.ride_completed),
    RideStatus.CANCELLED: _cancelled,
}


@receiver(post_save, sender=Ride, dispatch_uid="realtime.ride_saved")
def ride_saved(sender, instance, created, raw=False, **kwargs):
    if raw:
        return
    if created:
        if instance.status == RideStatus.REQUESTED:
            _offer_to_nearby_drivers(instance)
        return
    if instance.previous_status != instance.status and instance.status in TRANSITIONS:
        TRANSITIONS[instance.status](instance)


@receiver(post_save, sender=Driver, dispatch_uid="realtime.driver_saved")
def driver_saved(sender, instance, created, raw=False, **kwargs):
    if raw:
        return
    if instance.changed("is_online"):
        eventlog.record(events.driver_availability_changed(instance), user_ids=[instance.pk])
    if instance.changed("location_updated_at") and instance.has_position:
        ride_id, passenger_id = (
            Ride.objects.filter(driver=instance, status__in=DRIVER_ACTIVE_STATUSES)
            .values_list("pk", "passenger_id")
            .first()
        ) or (None, None)
        if ride_id is not None:
            publish_latest_on_commit(
                events.driver_location_update_from(instance, ride_id),
                [user_group_name(passenger_id), ride_group_name(ride_id)],
                latest_key=f"driver_location:{instance.pk}",
            )


@receiver(post_save, sender=get_user_model(), dispatch_uid="realtime.user_saved")
def user_saved(sender, instance, created, raw=False, **kwargs):
    if not raw and not created and not instance.is_active:
        disconnect_on_commit(user_group_name(instance.pk), "account_disabled")


@receiver(pre_delete, sender=get_user_model(), dispatch_uid="realtime.user_deleted")
def user_deleted(sender, instance, **kwargs):
    disconnect_on_commit(user_group_name(instance.pk), "account_deleted")
