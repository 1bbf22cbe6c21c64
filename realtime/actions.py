"""What a client message does, as plain sync functions over the domain services.

The consumer calls these through `database_sync_to_async`; they raise `DomainError`s or DRF
`ValidationError`s, which the consumer turns into `error` events.
"""

import uuid

from drivers import services as driver_services
from drivers.serializers import LocationSerializer
from rideshare.errors import NotFound
from rides.models import Ride


class RideNotJoinable(NotFound):
    """One answer for unknown, malformed and other people's rides: no existence oracle."""

    code = "ride_not_found"

    def __init__(self):
        super().__init__("Ride not found.")


def ride_access(user, raw_ride_id):
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


def set_driver_online(user, online):
    return driver_services.set_online(user=user, online=online)


def update_location(user, payload):
    driver_services.get_driver_profile(user)
    location = LocationSerializer(data=payload)
    location.is_valid(raise_exception=True)
    return driver_services.update_location(user=user, **location.validated_data)
