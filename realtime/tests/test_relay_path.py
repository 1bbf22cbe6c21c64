"""The position relay's hot path (driver frame → layer → passenger frame): what it must not cost."""

import pytest

from rides.models import RideStatus
from rideshare.tests.factories import ride_in_status

from .helpers import assert_envelope, db, receive, send, socket

pytestmark = pytest.mark.django_db(transaction=True)


async def test_relaying_a_position_makes_no_thread_hop_to_close_database_connections(monkeypatch):
    # channels' AsyncConsumer.dispatch awaits aclose_old_connections() (a round trip to the
    # thread-sensitive executor) before every handler; the relay would pay it twice per position.
    hops = []

    async def counting_close():
        hops.append(1)

    monkeypatch.setattr("channels.consumer.aclose_old_connections", counting_close)
    ride = await db(ride_in_status)(RideStatus.STARTED)
    async with socket(ride.passenger) as passenger_comm, socket(ride.driver.user) as driver_comm:
        await send(driver_comm, {"type": "location_update", "latitude": 3.85, "longitude": 11.505})
        assert_envelope(await receive(passenger_comm), "driver_location_update")
    assert hops == []
