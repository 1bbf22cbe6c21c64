"""Saved rides and drivers become events. Receivers run inside the saving transaction (so the
recipients they compute and the offers they record commit with the change) and publish on commit.
The API, the admin, management commands and the shell all announce their changes the same way."""

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from drivers.models import Driver
from rides.models import DRIVER_ACTIVE_STATUSES, Ride, RideStatus
from rides.selectors import nearby_idle_drivers

from . import events
from .groups import ride_group_name, user_group_name
from .models import RideOffer
from .publish import publish_on_commit


def _participants(ride):
    groups = [user_group_name(ride.passenger_id), ride_group_name(ride.pk)]
    if ride.driver_id:
        groups.append(user_group_name(ride.driver_id))
    return groups


def _offered_drivers(ride, *, exclude=None):
    driver_ids = RideOffer.objects.filter(ride=ride).exclude(driver_id=exclude).values_list("driver_id", flat=True)
    return [user_group_name(driver_id) for driver_id in driver_ids]


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
    publish_on_commit(events.ride_requested(ride), [user_group_name(driver.pk) for driver in drivers])


def _accepted(ride):
    publish_on_commit(events.ride_accepted(ride), [user_group_name(ride.passenger_id), ride_group_name(ride.pk)])
    publish_on_commit(
        events.ride_unavailable(ride, "accepted_by_another_driver"), _offered_drivers(ride, exclude=ride.driver_id)
    )


def _cancelled(ride):
    publish_on_commit(events.ride_cancelled(ride), _participants(ride))
    if ride.previous_status == RideStatus.REQUESTED:
        publish_on_commit(events.ride_unavailable(ride, "cancelled"), _offered_drivers(ride))


TRANSITIONS = {
    RideStatus.ACCEPTED: _accepted,
    RideStatus.DRIVER_ARRIVED: lambda ride: publish_on_commit(events.driver_arrived(ride), _participants(ride)),
    RideStatus.STARTED: lambda ride: publish_on_commit(events.ride_started(ride), _participants(ride)),
    RideStatus.COMPLETED: lambda ride: publish_on_commit(events.ride_completed(ride), _participants(ride)),
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
        publish_on_commit(events.driver_availability_changed(instance), [user_group_name(instance.pk)])
    if instance.changed("location_updated_at") and instance.has_position:
        ride_id, passenger_id = (
            Ride.objects.filter(driver=instance, status__in=DRIVER_ACTIVE_STATUSES)
            .values_list("pk", "passenger_id")
            .first()
        ) or (None, None)
        if ride_id is not None:
            publish_on_commit(
                events.driver_location_update(instance, ride_id),
                [user_group_name(passenger_id), ride_group_name(ride_id)],
            )
