"""Who is offered a requested ride (a domain rule rides.dispatching applies wave by wave), and
where a driver's positions go."""

from django.conf import settings

from .models import DRIVER_ACTIVE_STATUSES, Ride
from .selectors import nearby_idle_drivers


def drivers_for_wave(ride, *, already_offered=()):
    """Who the next offer wave goes to: the nearest RIDE_OFFER_WAVE_SIZE online, idle drivers of
    the ride's type (fresh positions only) not in `already_offered`, within the first of
    RIDE_OFFER_RADII_KM that has any (so a wave reaches further only when nearer is exhausted);
    nearest first, each with `distance_km` to the pickup. Never the passenger themself."""
    for radius_km in settings.RIDE_OFFER_RADII_KM:
        drivers = nearby_idle_drivers(
            ride.pickup_latitude,
            ride.pickup_longitude,
            vehicle_type=ride.ride_type,
            radius_km=radius_km,
            limit=settings.RIDE_OFFER_WAVE_SIZE,
            exclude_user=ride.passenger,
            exclude_driver_ids=already_offered,
        )
        if drivers:
            return drivers
    return []


def active_assignment(driver_id):
    """(ride_id, passenger_id) of the driver's accepted, arrived or started ride, or None: where
    the driver's positions go."""
    return (
        Ride.objects.filter(driver_id=driver_id, status__in=DRIVER_ACTIVE_STATUSES)
        .values_list("pk", "passenger_id")
        .first()
    )


def active_assignments(driver_ids):
    """{driver_id: (ride_id, passenger_id)} for those of `driver_ids` with an active ride."""
    rows = Ride.objects.filter(driver_id__in=driver_ids, status__in=DRIVER_ACTIVE_STATUSES)
    return {driver_id: (ride_id, passenger_id) for driver_id, ride_id, passenger_id in
            rows.values_list("driver_id", "pk", "passenger_id")}


def active_rides_of_passengers(passenger_ids):
    """{passenger_id: ride} of those passengers' rides with a driver on the way or driving, with
    the driver loaded."""
    rides = Ride.objects.filter(passenger_id__in=passenger_ids, status__in=DRIVER_ACTIVE_STATUSES)
    return {ride.passenger_id: ride for ride in rides.select_related("driver")}
