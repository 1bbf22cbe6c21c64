"""Who hears what: events published by model changes, routed to user and ride groups."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone

from drivers import services as driver_services
from drivers.models import VehicleType
from rides import services as ride_services
from rides.models import CancelledBy, Ride, RideStatus
from rideshare.kernel.errors import Conflict
from rideshare.tests.factories import YAOUNDE, DriverFactory, RideFactory, UserFactory, ride_in_status

from .helpers import (
    assert_envelope,
    assert_iso_utc,
    assert_nothing_more,
    assert_uuid_str,
    db,
    open_socket,
    ping,
    receive,
    receive_type,
    send,
    socket,
)

pytestmark = pytest.mark.django_db(transaction=True)

DROPOFF = (3.866, 11.516)
KM_PER_DEGREE = 111.2


def north_of_yaounde(km):
    return {"latitude": YAOUNDE[0] + km / KM_PER_DEGREE, "longitude": YAOUNDE[1]}


def request_ride(passenger, ride_type=VehicleType.MOTO):
    return ride_services.request_ride(
        passenger=passenger,
        ride_type=ride_type,
        pickup_latitude=YAOUNDE[0],
        pickup_longitude=YAOUNDE[1],
        dropoff_latitude=DROPOFF[0],
        dropoff_longitude=DROPOFF[1],
    )


async def drain_until_pong(comm):
    """Every frame before the pong of a fresh ping (the ping is the barrier)."""
    await ping(comm, "drain")
    frames = []
    while True:
        message = await receive(comm)
        if message["type"] == "pong" and message["data"]["timestamp"] == "drain":
            return frames
        frames.append(message)


def assert_ride_requested(message, ride):
    data = assert_envelope(message, "ride_requested")
    assert_uuid_str(data["ride_id"], ride.pk)
    assert_uuid_str(data["passenger_id"], ride.passenger_id)
    assert data["ride_type"] == ride.ride_type
    for field in ("pickup_latitude", "pickup_longitude", "dropoff_latitude", "dropoff_longitude"):
        assert isinstance(data[field], float), field
        assert data[field] == pytest.approx(getattr(ride, field))
    assert isinstance(data["estimated_fare"], int) and data["estimated_fare"] == ride.estimated_fare
    assert message["metadata"]["ride_id"] == str(ride.pk)


# --- ride_requested ------------------------------------------------------------------------------


def _matching_fleet():
    radius = settings.RIDE_OFFER_RADII_KM[-1]  # the widest any wave reaches
    stale = timezone.now() - timedelta(seconds=settings.DRIVER_POSITION_MAX_AGE_SECONDS + 60)
    busy_ride = ride_in_status(RideStatus.STARTED)
    return {
        "passenger": UserFactory(),
        "near": DriverFactory(**north_of_yaounde(radius * 0.5)),
        "far": DriverFactory(**north_of_yaounde(radius + 1.0)),
        "offline": DriverFactory(is_online=False),
        "wrong_type": DriverFactory(vehicle_type=VehicleType.CAR),
        "stale_position": DriverFactory(location_updated_at=stale),
        "no_position": DriverFactory(latitude=None, longitude=None, location_updated_at=None),
        "busy": busy_ride.driver,
    }


async def test_ride_requested_reaches_only_the_nearby_online_idle_driver_of_the_ride_type():
    fleet = await db(_matching_fleet)()
    passenger = fleet.pop("passenger")
    users = {name: driver.user for name, driver in fleet.items()}
    users["passenger"] = passenger
    comms = {}
    try:
        for name, user in users.items():
            comms[name] = await open_socket(user)
        ride = await db(request_ride)(passenger)

        assert_ride_requested(await receive(comms["near"]), ride)
        for comm in comms.values():
            await assert_nothing_more(comm)  # nothing else for anyone
    finally:
        for comm in comms.values():
            await comm.disconnect()


async def test_a_passenger_who_is_also_a_nearby_driver_is_not_offered_their_own_ride():
    passenger_driver = await db(DriverFactory)()
    other = await db(DriverFactory)()
    async with socket(passenger_driver.user) as own, socket(other.user) as other_comm:
        ride = await db(request_ride)(passenger_driver.user)
        assert_ride_requested(await receive(other_comm), ride)
        await assert_nothing_more(own)


async def test_ride_requested_for_a_car_reaches_car_drivers_only():
    passenger = await db(UserFactory)()
    car = await db(DriverFactory)(vehicle_type=VehicleType.CAR)
    moto = await db(DriverFactory)(vehicle_type=VehicleType.MOTO)
    async with socket(car.user) as car_comm, socket(moto.user) as moto_comm:
        ride = await db(request_ride)(passenger, VehicleType.CAR)
        assert_ride_requested(await receive(car_comm), ride)
        await assert_nothing_more(moto_comm)
        await assert_nothing_more(car_comm)


# --- acceptance ----------------------------------------------------------------------------------


async def test_ride_accepted_reaches_the_passenger_with_every_guide_field_and_losers_get_unavailable():
    passenger = await db(UserFactory)()
    winner = await db(DriverFactory)(
        user__full_name="Jean Moto", vehicle_plate="CE-123-AB", vehicle_color="Black", average_rating=Decimal("4.7"),
        **north_of_yaounde(1.5),  # in the first wave's radius with the loser
    )
    loser = await db(DriverFactory)()
    async with socket(passenger) as p, socket(winner.user) as w, socket(loser.user) as lo:
        ride = await db(request_ride)(passenger)
        assert_ride_requested(await receive(w), ride)
        assert_ride_requested(await receive(lo), ride)

        await db(ride_services.accept_ride)(ride_id=ride.pk, user=winner.user)

        data = assert_envelope(await receive(p), "ride_accepted")
        assert_uuid_str(data["ride_id"], ride.pk)
        assert data["driver_id"] == str(winner.user.pk)  # the driver's user id
        assert data["driver_name"] == "Jean Moto"
        assert data["vehicle_type"] == "moto"
        assert data["vehicle_plate"] == "CE-123-AB"
        assert data["vehicle_color"] == "Black"
        assert isinstance(data["driver_rating"], (int, float)) and not isinstance(data["driver_rating"], bool)
        assert data["driver_rating"] == pytest.approx(4.7)
        assert isinstance(data["estimated_arrival"], int) and not isinstance(data["estimated_arrival"], bool)
        assert 1 <= data["estimated_arrival"] <= 15  # 2 km away in city traffic
        await assert_nothing_more(p)

        data = assert_envelope(await receive(lo), "ride_unavailable")
        assert data["ride_id"] == str(ride.pk)
        assert data["reason"] == "accepted_by_another_driver"
        await assert_nothing_more(lo)

        assert all(m["type"] != "ride_unavailable" for m in await drain_until_pong(w))


async def test_passenger_cancel_before_acceptance_tells_the_offered_drivers():
    passenger = await db(UserFactory)()
    d1 = await db(DriverFactory)()
    d2 = await db(DriverFactory)()
    async with socket(passenger) as p, socket(d1.user) as c1, socket(d2.user) as c2:
        ride = await db(request_ride)(passenger)
        for comm in (c1, c2):
            assert_ride_requested(await receive(comm), ride)

        await db(ride_services.cancel_ride)(ride_id=ride.pk, user=passenger, reason="Changed my mind")

        for comm in (c1, c2):
            data = assert_envelope(await receive(comm), "ride_unavailable")
            assert data["ride_id"] == str(ride.pk)
            assert data["reason"] == "cancelled"
            await assert_nothing_more(comm)
        data = assert_envelope(await receive(p), "ride_cancelled")
        assert data["ride_id"] == str(ride.pk)
        assert data["cancelled_by"] == "passenger"
        assert data["reason"] == "Changed my mind"
        await assert_nothing_more(p)


# --- the rest of the lifecycle -------------------------------------------------------------------


async def test_arrived_started_completed_reach_passenger_and_assigned_driver():
    ride = await db(ride_in_status)(RideStatus.ACCEPTED, estimated_fare=1500)
    driver_user = ride.driver.user
    bystander = await db(DriverFactory)()
    async with socket(ride.passenger) as p, socket(driver_user) as d, socket(bystander.user) as b:
        await db(ride_services.mark_arrived)(ride_id=ride.pk, user=driver_user)
        for comm in (p, d):
            data = assert_envelope(await receive(comm), "driver_arrived")
            assert data["ride_id"] == str(ride.pk)
            assert data["driver_id"] == str(driver_user.pk)

        await db(ride_services.start_ride)(ride_id=ride.pk, user=driver_user)
        started = await db(Ride.objects.get)(pk=ride.pk)
        for comm in (p, d):
            data = assert_envelope(await receive(comm), "ride_started")
            assert data["ride_id"] == str(ride.pk)
            assert_iso_utc(data["started_at"])
            assert data["started_at"].startswith(started.started_at.strftime("%Y-%m-%dT%H:%M:%S"))

        await db(ride_services.complete_ride)(ride_id=ride.pk, user=driver_user)
        completed = await db(Ride.objects.get)(pk=ride.pk)
        for comm in (p, d):
            data = assert_envelope(await receive(comm), "ride_completed")
            assert data["ride_id"] == str(ride.pk)
            assert isinstance(data["final_fare"], int) and not isinstance(data["final_fare"], bool)
            assert data["final_fare"] == completed.final_fare == 1500
            assert_iso_utc(data["completed_at"])
            assert data["completed_at"].startswith(completed.completed_at.strftime("%Y-%m-%dT%H:%M:%S"))
            assert data["can_rate"] is True  # the passenger's app shows its rating screen

        for comm in (p, d, b):
            await assert_nothing_more(comm)


@pytest.mark.parametrize("by", ["passenger", "driver", "admin"])
async def test_ride_cancelled_reaches_passenger_and_assigned_driver_with_who_and_why(by):
    ride = await db(ride_in_status)(RideStatus.DRIVER_ARRIVED)
    driver_user = ride.driver.user
    async with socket(ride.passenger) as p, socket(driver_user) as d:
        if by == "admin":
            await db(ride_services.cancel_ride_as)(ride_id=ride.pk, by=CancelledBy.ADMIN, reason="Fraud check")
        else:
            actor = ride.passenger if by == "passenger" else driver_user
            await db(ride_services.cancel_ride)(ride_id=ride.pk, user=actor, reason="Fraud check")
        for comm in (p, d):
            data = assert_envelope(await receive(comm), "ride_cancelled")
            assert data["ride_id"] == str(ride.pk)
            assert data["cancelled_by"] == by
            assert data["reason"] == "Fraud check"
            await assert_nothing_more(comm)


# --- driver_location_update ----------------------------------------------------------------------


def _location_scene():
    driver = DriverFactory()
    past = ride_in_status(RideStatus.COMPLETED, driver=driver)  # an earlier ride with the same driver
    active = ride_in_status(RideStatus.ACCEPTED, driver=driver)
    unrelated = RideFactory()
    return {
        "driver": driver,
        "active": active,
        "past": past,
        "unrelated": unrelated,
        "staff_active": UserFactory(is_staff=True),
        "staff_past": UserFactory(is_staff=True),
    }


async def test_driver_location_update_reaches_only_the_passenger_and_observers_of_the_active_ride():
    s = await db(_location_scene)()
    driver_user = s["driver"].user
    async with socket(s["active"].passenger) as p, socket(s["past"].passenger) as past_p, \
            socket(s["unrelated"].passenger) as other_p, socket(driver_user) as d, \
            socket(s["staff_active"]) as staff_active, socket(s["staff_past"]) as staff_past:
        await send(staff_active, {"type": "join_ride", "ride_id": str(s["active"].pk)})
        await receive_type(staff_active, "ride_joined")
        await send(staff_past, {"type": "join_ride", "ride_id": str(s["past"].pk)})
        await receive_type(staff_past, "ride_joined")

        await db(driver_services.update_location)(user=driver_user, latitude=3.851, longitude=11.503,
                                                  heading=45, speed=25.0)
        for comm in (p, staff_active):
            data = assert_envelope(await receive(comm), "driver_location_update")
            assert data["driver_id"] == str(driver_user.pk)
            assert data["ride_id"] == str(s["active"].pk)
            assert data["latitude"] == 3.851 and data["longitude"] == 11.503
            assert data["heading"] == 45 and data["speed"] == 25.0
        for comm in (p, past_p, other_p, d, staff_active, staff_past):
            await assert_nothing_more(comm)


async def test_driver_location_update_is_not_sent_when_the_driver_has_no_active_ride():
    ride = await db(ride_in_status)(RideStatus.COMPLETED)
    async with socket(ride.passenger) as p:
        await db(driver_services.update_location)(user=ride.driver.user, latitude=3.9, longitude=11.5)
        await assert_nothing_more(p)


# --- delivery semantics --------------------------------------------------------------------------


@pytest.mark.parametrize("joined", [False, True], ids=["without_join", "after_join"])
async def test_the_passenger_receives_each_event_exactly_once_with_or_without_join_ride(joined):
    ride = await db(ride_in_status)(RideStatus.ACCEPTED)
    async with socket(ride.passenger) as p:
        if joined:
            for _ in range(2):  # joining twice changes nothing either
                await send(p, {"type": "join_ride", "ride_id": str(ride.pk)})
                await receive_type(p, "ride_joined")
        await db(ride_services.mark_arrived)(ride_id=ride.pk, user=ride.driver.user)
        await receive_type(p, "driver_arrived")
        await db(driver_services.update_location)(user=ride.driver.user, latitude=3.85, longitude=11.5)
        await receive_type(p, "driver_location_update")
        await assert_nothing_more(p)


async def test_the_assigned_driver_receives_each_event_exactly_once_after_join_ride():
    ride = await db(ride_in_status)(RideStatus.ACCEPTED)
    async with socket(ride.driver.user) as d:
        await send(d, {"type": "join_ride", "ride_id": str(ride.pk)})
        await receive_type(d, "ride_joined")
        await db(ride_services.mark_arrived)(ride_id=ride.pk, user=ride.driver.user)
        await receive_type(d, "driver_arrived")
        await assert_nothing_more(d)


async def test_two_connections_of_the_same_user_both_receive():
    ride = await db(ride_in_status)(RideStatus.ACCEPTED)
    async with socket(ride.passenger) as phone, socket(ride.passenger) as tablet:
        await db(ride_services.mark_arrived)(ride_id=ride.pk, user=ride.driver.user)
        for comm in (phone, tablet):
            data = assert_envelope(await receive(comm), "driver_arrived")
            assert data["ride_id"] == str(ride.pk)
            await assert_nothing_more(comm)


async def test_second_passenger_cannot_join_or_hear_first_passengers_ride():
    ride = await db(ride_in_status)(RideStatus.ACCEPTED)
    intruder = await db(UserFactory)()
    async with socket(ride.passenger) as p, socket(intruder) as x:
        await send(x, {"type": "join_ride", "ride_id": str(ride.pk)})
        data = assert_envelope(await receive(x), "error")
        assert data["code"] == "ride_not_found"

        await db(ride_services.mark_arrived)(ride_id=ride.pk, user=ride.driver.user)
        await db(driver_services.update_location)(user=ride.driver.user, latitude=3.85, longitude=11.5)
        await receive_type(p, "driver_arrived")
        await receive_type(p, "driver_location_update")
        await assert_nothing_more(x)


async def test_staff_joining_a_ride_hears_its_events_until_leaving():
    ride = await db(ride_in_status)(RideStatus.ACCEPTED)
    staff = await db(UserFactory)(is_staff=True)
    async with socket(staff) as s:
        await db(ride_services.mark_arrived)(ride_id=ride.pk, user=ride.driver.user)
        await assert_nothing_more(s)  # not joined yet

        await send(s, {"type": "join_ride", "ride_id": str(ride.pk)})
        await receive_type(s, "ride_joined")
        await db(ride_services.start_ride)(ride_id=ride.pk, user=ride.driver.user)
        data = assert_envelope(await receive(s), "ride_started")
        assert data["ride_id"] == str(ride.pk)
        await assert_nothing_more(s)

        await send(s, {"type": "leave_ride", "ride_id": str(ride.pk)})
        await receive_type(s, "ride_left")
        await db(ride_services.complete_ride)(ride_id=ride.pk, user=ride.driver.user)
        await assert_nothing_more(s)


async def test_staff_hears_ride_accepted_of_a_joined_requested_ride():
    passenger = await db(UserFactory)()
    driver = await db(DriverFactory)()
    staff = await db(UserFactory)(is_staff=True)
    ride = await db(request_ride)(passenger)
    async with socket(staff) as s:
        await send(s, {"type": "join_ride", "ride_id": str(ride.pk)})
        await receive_type(s, "ride_joined")
        await db(ride_services.accept_ride)(ride_id=ride.pk, user=driver.user)
        data = assert_envelope(await receive(s), "ride_accepted")
        assert data["driver_id"] == str(driver.user.pk)
        await assert_nothing_more(s)


# --- driver_availability_changed -----------------------------------------------------------------


async def test_driver_availability_changed_reaches_all_the_drivers_connections():
    driver = await db(DriverFactory)(is_online=False)
    async with socket(driver.user) as phone, socket(driver.user) as tablet:
        await db(driver_services.set_online)(user=driver.user, online=True)  # e.g. the REST endpoint
        for comm in (phone, tablet):
            data = assert_envelope(await receive(comm), "driver_availability_changed")
            assert data["driver_id"] == str(driver.user.pk)
            assert data["is_online"] is True

        await send(phone, {"type": "driver_offline"})
        frames = {m["type"]: m for m in [await receive(phone), await receive(phone)]}
        assert set(frames) == {"driver_status", "driver_availability_changed"}
        assert frames["driver_availability_changed"]["data"]["is_online"] is False
        data = assert_envelope(await receive(tablet), "driver_availability_changed")
        assert data["is_online"] is False

        await db(driver_services.set_online)(user=driver.user, online=False)  # no change: no event
        for comm in (phone, tablet):
            await assert_nothing_more(comm)


async def test_driver_availability_changed_is_not_sent_to_other_users():
    driver = await db(DriverFactory)(is_online=False)
    other = await db(DriverFactory)()
    async with socket(other.user) as o:
        await db(driver_services.set_online)(user=driver.user, online=True)
        await assert_nothing_more(o)


# --- edge cases ------------------------------------------------------------------------------------


async def test_a_staff_driver_who_observed_a_ride_then_accepted_it_hears_each_event_once():
    passenger = await db(UserFactory)()
    staff_driver = await db(DriverFactory)(user__is_staff=True)
    async with socket(staff_driver.user) as d:
        ride = await db(request_ride)(passenger)
        await receive_type(d, "ride_requested")
        await send(d, {"type": "join_ride", "ride_id": str(ride.pk)})
        await receive_type(d, "ride_joined")
        await db(ride_services.accept_ride)(ride_id=ride.pk, user=staff_driver.user)
        await receive_type(d, "ride_accepted")  # as an observer
        await db(ride_services.mark_arrived)(ride_id=ride.pk, user=staff_driver.user)
        await receive_type(d, "driver_arrived")
        await assert_nothing_more(d)


async def test_ride_accepted_always_has_an_arrival_estimate_because_a_driver_without_a_position_cannot_accept():
    passenger = await db(UserFactory)()
    driver = await db(DriverFactory)(latitude=None, longitude=None, location_updated_at=None)
    ride = await db(request_ride)(passenger)
    async with socket(passenger) as p:
        with pytest.raises(Conflict) as refused:
            await db(ride_services.accept_ride)(ride_id=ride.pk, user=driver.user)
        assert refused.value.code == "driver_position_unknown"
        await assert_nothing_more(p)
