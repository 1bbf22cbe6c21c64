"""Driver availability and position: the only code that changes them."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from rideshare.kernel.errors import Forbidden

from .models import Driver
from .signals import position_reported


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


async def report_position(driver, *, latitude, longitude, heading=None, speed=None):
    """A position from the driver's app over REST, recorded now. Announced to the position
    service (drivers.signals.position_reported), which relays, stores and checks the approach as
    for a position sent over the socket. Returns the driver, showing the position."""
    driver.latitude, driver.longitude, driver.heading, driver.speed = latitude, longitude, heading, speed
    driver.location_updated_at = driver.location_recorded_at = timezone.now()
    position = {"latitude": latitude, "longitude": longitude, "heading": heading, "speed": speed,
                "recorded_at": driver.location_recorded_at}
    await position_reported.asend(sender=Driver, driver=driver, position=position)
    return driver


@transaction.atomic
def update_location(*, user, latitude, longitude, heading=None, speed=None):
    """A position saved at once (the admin, the demo fleet, a shell): the save announces it
    (realtime.signals.driver_saved)."""
    driver = get_driver_profile(user)
    driver.latitude = latitude
    driver.longitude = longitude
    driver.heading = heading
    driver.speed = speed
    driver.location_updated_at = driver.location_recorded_at = timezone.now()
    driver.save(update_fields=["latitude", "longitude", "heading", "speed", "location_updated_at", "location_recorded_at"])
    return driver

