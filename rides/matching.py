"""Who is offered a requested ride (a domain rule rides.dispatching applies wave by wave), and
where an assigned driver's positions go (and are measured against): domain rules, called by
whatever announces a request or relays a position."""

from typing import NamedTuple

from django.conf import settings

from rideshare.kernel.geo import haversine_km

from . import eta
from .models import DRIVER_ACTIVE_STATUSES, Ride, RideStatus
from .selectors import nearby_idle_drivers


def drivers_for_wave(ride, *, already_offered=None):
    """Who the next offer wave goes to: the nearest RIDE_OFFER_WAVE_SIZE online, idle drivers of
    the ride's type (fresh positions only) not in `already_offered` (ids, or a query of them),
    within the first of RIDE_OFFER_RADII_KM that has any (so a wave reaches further only when
    nearer is exhausted);
    nearest first, each with `distance_km` to the pickup. Never the passenger themself."""
    for radius_km in settings.RIDE_OFFER_RADII_KM:
        drivers = nearby_idle_drivers(
            ride.pickup_latitude,
            ride.pickup_longitude,
            vehicle_type=ride.ride_type,
            radius_km=radius_km,
            limit=settings.RIDE_OFFER_WAVE_SIZE,
            exclude_user_id=ride.passenger_id,
            exclude_driver_ids=already_offered,
        )
        if drivers:
            return drivers
    return []


class Assignment(NamedTuple):
    """Where an assigned driver's positions go and what each is measured against: carried by the
    driver's connections (and read with the driver on REST), so a position needs no query."""

    ride_id: object
    passenger_id: object
    vehicle_type: str
    # The pickup until the ride is started, the drop-off after.
    target_latitude: float
    target_longitude: float
    # On the way to the pickup (accepted) and `driver_approaching` not announced yet.
    approach_unannounced: bool

    def estimate(self, latitude, longitude):
        """Distance and minutes from this position to the target (rides.eta)."""
        return eta.estimate(latitude, longitude, self.target_latitude, self.target_longitude, self.vehicle_type)

    def approach_distance_m(self, latitude, longitude):
        """The great-circle metres to the pickup if this position is the approach still to
        announce (within DRIVER_APPROACHING_RADIUS_M), else None. In memory: no query."""
        if not self.approach_unannounced:
            return None
        metres = haversine_km(latitude, longitude, self.target_latitude, self.target_longitude) * 1000
        return round(metres) if metres <= settings.DRIVER_APPROACHING_RADIUS_M else None


# The ride's columns an Assignment is made of, in `assignment_from`'s order.
ASSIGNMENT_FIELDS = (
    "id", "passenger_id", "ride_type", "status", "pickup_latitude", "pickup_longitude",
    "dropoff_latitude", "dropoff_longitude", "approaching_announced_at",
)


def assignment_from(ride_id, passenger_id, ride_type, status, pickup_latitude, pickup_longitude,
                    dropoff_latitude, dropoff_longitude, approaching_announced_at):
    """The Assignment of an active ride, from its ASSIGNMENT_FIELDS."""
    started = status == RideStatus.STARTED
    return Assignment(
        ride_id=ride_id,
        passenger_id=passenger_id,
        vehicle_type=str(ride_type),
        target_latitude=dropoff_latitude if started else pickup_latitude,
        target_longitude=dropoff_longitude if started else pickup_longitude,
        approach_unannounced=status == RideStatus.ACCEPTED and approaching_announced_at is None,
    )


def assignment_of(ride):
    """The Assignment of an active ride instance."""
    return assignment_from(*(getattr(ride, name) for name in ASSIGNMENT_FIELDS))


def active_assignment(driver_id):
    """The Assignment of the driver's accepted, arrived or started ride, or None."""
    row = Ride.objects.filter(driver_id=driver_id, status__in=DRIVER_ACTIVE_STATUSES).values_list(*ASSIGNMENT_FIELDS).first()
    return None if row is None else assignment_from(*row)


def active_assignments(driver_ids):
    """{driver_id: Assignment} for those of `driver_ids` with an active ride."""
    rows = Ride.objects.filter(driver_id__in=driver_ids, status__in=DRIVER_ACTIVE_STATUSES)
    return {driver_id: assignment_from(*row) for driver_id, *row in rows.values_list("driver_id", *ASSIGNMENT_FIELDS)}


def active_rides_of_passengers(passenger_ids):
    """{passenger_id: ride} of those passengers' rides with a driver on the way or driving, with
    the driver loaded."""
    rides = Ride.objects.filter(passenger_id__in=passenger_ids, status__in=DRIVER_ACTIVE_STATUSES)
    return {ride.passenger_id: ride for ride in rides.select_related("driver")}
