"""The move of RideOffer from realtime to rides keeps every offer made before waves, and hands a
request still waiting to the dispatcher."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("rides", "0001_initial"), ("realtime", "0003_drop_connection_rows"), ("drivers", "0001_initial")]
AFTER = [("rides", "0003_ride_offers_and_waves"), ("realtime", "0004_ride_offer_moved_to_rides")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_offers_made_before_waves_are_copied_and_a_waiting_request_becomes_due():
    apps = migrate(BEFORE)
    User, Driver = apps.get_model("accounts", "User"), apps.get_model("drivers", "Driver")
    Ride, OldOffer = apps.get_model("rides", "Ride"), apps.get_model("realtime", "RideOffer")
    passenger = User.objects.create(phone_number="+237650000001", full_name="P")
    other = User.objects.create(phone_number="+237650000002", full_name="Q")
    driver = Driver.objects.create(user=User.objects.create(phone_number="+237650000003", full_name="D"),
                                   vehicle_type="moto", vehicle_plate="X", vehicle_color="red")
    requested_at = timezone.now() - timedelta(seconds=30)
    trip = {"ride_type": "moto", "pickup_latitude": 3.848, "pickup_longitude": 11.502, "dropoff_latitude": 3.866,
            "dropoff_longitude": 11.516, "distance_km": 2.5, "estimated_fare": 700}
    waiting = Ride.objects.create(passenger=passenger, status="requested", requested_at=requested_at, **trip)
    ended = Ride.objects.create(passenger=other, status="cancelled", **trip)
    for ride in (waiting, ended):
        OldOffer.objects.create(ride=ride, driver=driver, distance_km=0.4, offered_at=requested_at)

    try:
        apps = migrate(AFTER)
        Ride, RideOffer = apps.get_model("rides", "Ride"), apps.get_model("rides", "RideOffer")
        offers = {o.ride_id: o for o in RideOffer.objects.all()}
        assert offers[waiting.pk].status == "offered" and offers[ended.pk].status == "withdrawn"
        assert {(o.wave, o.distance_km, o.offered_at) for o in offers.values()} == {(1, 0.4, requested_at)}
        waiting = Ride.objects.get(pk=waiting.pk)
        assert (waiting.offer_wave, waiting.next_wave_at) == (1, requested_at)  # due: the dispatcher takes it
        assert Ride.objects.get(pk=ended.pk).next_wave_at is None
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())  # as every other test expects
