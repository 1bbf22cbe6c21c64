"""Driver availability and position: the only code that changes them."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from rideshare.kernel.errors import Forbidden

from .models import Driver


def get_driver_profile(user):
    try:
        return user.driver
    except Driver.DoesNotExist:
        raise Forbidden(_("This action needs a driver account."), code="not_a_driver") from None


def create_driver_profile(*, user, vehicle_type, vehicle_plate, vehicle_color):
    return Driver.objects.create(
        user=user, vehicle_type=vehicle_type, vehicle_plate=vehicle_plate.upper(), vehicle_color=vehicle_color
    )


@transaction.atomic
def set_online(*, user, online):
    # NO KEY: a ride being requested holds the event log's id lock (realtime.delivery.eventlog) and,
    # at its commit, takes a key-share lock on the rows of the drivers it offered it to; a full
    # FOR UPDATE here, then waiting for that id lock to record the change, would deadlock with it.
    driver = Driver.objects.select_for_update(no_key=True).get(pk=get_driver_profile(user).pk)
    if driver.is_online != online:
        driver.is_online = online
        driver.save(update_fields=["is_online"])
    return driver


@transaction.atomic
def update_location(*, user, latitude, longitude, heading=None, speed=None):
    driver = get_driver_profile(user)
    driver.latitude = latitude
    driver.longitude = longitude
    driver.heading = heading
    driver.speed = speed
    driver.location_updated_at = driver.location_recorded_at = timezone.now()
    driver.save(update_fields=["latitude", "longitude", "heading", "speed", "location_updated_at", "location_recorded_at"])
    return driver

