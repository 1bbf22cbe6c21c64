"""Dispatch in a simulated city: drivers stand in rings at known distances from the pickup and the
dispatcher runs on a fixed clock (`now=`), so who hears each wave, and when, is exact.

Settings here: radii 2, 5, 10 km; waves of 2 drivers; offers stand 15 s; requests time out at 180 s.
"""

import json
import math
from datetime import timedelta

import pytest
from django.utils import timezone

from drivers import services as driver_services
from drivers.models import VehicleType
from realtime.models import Event
from rides import dispatching
from rides import services as ride_services
from rides.models import CancelledBy, OfferStatus, Ride, RideOffer, RideStatus
from rides.selectors import offer_figures
from rideshare.kernel.errors import Conflict, NotFound
from rideshare.tests.factories import DriverFactory, UserFactory, ride_in_status

pytestmark = pytest.mark.django_db

PICKUP = (3.848, 11.502)
DROPOFF = (3.866, 11.516)
KM_PER_DEGREE_LAT = 111.195  # the kernel's haversine on a 6371 km sphere
OFFER_SECONDS = 15
REQUEST_SECONDS = 180


@pytest.fixture(autouse=True)
def city_settings(settings):
    settings.RIDE_OFFER_RADII_KM = [2.0, 5.0, 10.0]
    settings.RIDE_OFFER_WAVE_SIZE = 2
    settings.RIDE_OFFER_TIMEOUT_SECONDS = OFFER_SECONDS
    settings.RIDE_REQUEST_TIMEOUT_SECONDS = REQUEST_SECONDS
    settings.RIDE_DISPATCH_INTERVAL_SECONDS = 1
    return settings


def at_km(km, *, pickup=PICKUP, bearing="north"):
    """A driver position `km` from the pickup, straight north or straight east."""
    lat, lon = pickup
    if bearing == "north":
        return {"latitude": lat + km / KM_PER_DEGREE_LAT, "longitude": lon}
    return {"latitude": lat, "longitude": lon + km / (KM_PER_DEGREE_LAT * math.cos(math.radians(lat)))}


def ring_driver(name, km, **kwargs):
    return DriverFactory(user__full_name=name, **at_km(km, **kwargs))


@pytest.fixture
def city():
    """Named drivers at known distances: three within 2 km, two within 5, two within 10, one beyond."""
    rings = {"a": 0.5, "b": 1.0, "c": 1.5, "d": 3.0, "e": 4.0, "f": 7.0, "g": 8.0, "far": 12.0}
    return {name: ring_driver(name, km) for name, km in rings.items()}


def request(passenger=None, pickup=PICKUP, ride_type=VehicleType.MOTO):
    return ride_services.request_ride(
        passenger=passenger or UserFactory(), ride_type=ride_type,
        pickup_latitude=pickup[0], pickup_longitude=pickup[1],
        dropoff_latitude=DROPOFF[0], dropoff_longitude=DROPOFF[1],
    )


def names(city, driver_ids):
    by_id = {driver.pk: name for name, driver in city.items()}
    return [by_id.get(driver_id, driver_id) for driver_id in driver_ids]


def wave(ride, number):
    """Driver ids offered in wave `number`, nearest first."""
    offers = RideOffer.objects.filter(ride=ride, wave=number).order_by("distance_km")
    return list(offers.values_list("driver_id", flat=True))


def recipients(ride, event_type):
    """Each logged event of `event_type` for the ride, as the list of its recipients, in log order."""
    events = Event.objects.filter(ride=ride, type=event_type).order_by("id")
    return [list(e.recipients.values_list("user_id", flat=True)) for e in events]


def data(event):
    return json.loads(event.text)["data"]


def after(ride, seconds):
    return ride.requested_at + timedelta(seconds=seconds)


# --- waves ----------------------------------------------------------------------------------------


def test_each_wave_goes_to_the_next_nearest_within_the_first_radius_that_has_any(city):
    ride = request()
    assert names(city, wave(ride, 1)) == ["a", "b"]  # the nearest two within 2 km
    assert recipients(ride, "ride_requested") == [[city["a"].pk], [city["b"].pk]]  # one event each

    dispatching.run_due(now=after(ride, OFFER_SECONDS))
    assert names(city, wave(ride, 2)) == ["c"]  # the last one within 2 km: a wave stays near while it can
    dispatching.run_due(now=after(ride, 2 * OFFER_SECONDS))
    assert names(city, wave(ride, 3)) == ["d", "e"]  # 2 km is exhausted: 5 km
    dispatching.run_due(now=after(ride, 3 * OFFER_SECONDS))
    assert names(city, wave(ride, 4)) == ["f", "g"]
    dispatching.run_due(now=after(ride, 4 * OFFER_SECONDS))
    assert wave(ride, 5) == []  # nobody left within 10 km; 12 km is beyond every radius
    ride.refresh_from_db()
    assert ride.offer_wave == 4 and ride.status == RideStatus.REQUESTED
    # An empty round looks again at the next tick, for a driver coming online.
    assert ride.next_wave_at == after(ride, 4 * OFFER_SECONDS + 1)


def test_a_wave_that_expires_tells_its_drivers_and_only_them(city):
    ride = request()
    dispatching.run_due(now=after(ride, OFFER_SECONDS))

    assert recipients(ride, "ride_unavailable") == [[city["a"].pk, city["b"].pk]]
    expired = Event.objects.get(ride=ride, type="ride_unavailable")
    assert data(expired) == {"ride_id": str(ride.pk), "reason": "offer_expired"}
    statuses = dict(RideOffer.objects.filter(ride=ride).values_list("driver_id", "status"))
    assert statuses == {city["a"].pk: OfferStatus.EXPIRED, city["b"].pk: OfferStatus.EXPIRED,
                        city["c"].pk: OfferStatus.OFFERED}


def test_ride_requested_says_how_long_the_offer_stands_and_how_far_the_pickup_is(city):
    ride = request()
    offer_a = Event.objects.filter(ride=ride, type="ride_requested").order_by("id").first()
    payload = data(offer_a)
    assert payload["offer_expires_at"] == (after(ride, OFFER_SECONDS)).isoformat().replace("+00:00", "Z")
    assert payload["pickup_distance_km"] == pytest.approx(0.5 * 1.3, abs=0.01)  # by road: 1.3 × straight
    assert payload["pickup_eta_minutes"] == 2  # 0.65 km at 25 km/h, rounded up


def test_the_dispatcher_leaves_a_wave_alone_until_it_is_due(city):
    ride = request()
    assert dispatching.run_due(now=after(ride, OFFER_SECONDS - 1)) == 0
    assert wave(ride, 2) == []
    assert dispatching.run_due(now=after(ride, OFFER_SECONDS)) == 1


def test_a_dispatcher_loop_waits_exactly_until_the_next_wave_falls_due(city):
    # Not for a tick: a wave replaced at the next round of a 1 s tick would be up to 1 s late.
    assert dispatching.seconds_until_due(now=timezone.now(), longest=5) == 5  # nothing requested
    ride = request()
    assert dispatching.seconds_until_due(now=after(ride, 0), longest=60) == OFFER_SECONDS
    assert dispatching.seconds_until_due(now=after(ride, OFFER_SECONDS - 2.5), longest=60) == 2.5
    assert dispatching.seconds_until_due(now=after(ride, 0), longest=1) == 1  # finds new rides in time
    # Overdue (a round is behind): the next round follows at once, with a pause that stops a
    # dispatcher from spinning on a ride another one holds.
    assert dispatching.seconds_until_due(now=after(ride, OFFER_SECONDS + 3), longest=60) == (
        dispatching.SHORTEST_PAUSE_SECONDS)
    ride_services.cancel_ride(ride_id=ride.pk, user=ride.passenger)
    assert dispatching.seconds_until_due(now=after(ride, 0), longest=60) == 60  # no longer requested


def test_a_ride_that_fails_to_advance_is_tried_again_later_and_the_others_go_on(city, monkeypatch):
    rides = [request() for _ in range(3)]
    broken = rides[1]
    real_advance = dispatching._advance

    def advance(ride, now):
        if ride.pk == broken.pk:
            raise RuntimeError("a bug in one ride's wave")
        real_advance(ride, now)

    monkeypatch.setattr(dispatching, "_advance", advance)
    due = max(r.requested_at for r in rides) + timedelta(seconds=OFFER_SECONDS)
    assert dispatching.run_due(now=due) == 3
    assert [Ride.objects.get(pk=r.pk).offer_wave for r in rides] == [2, 1, 2]
    broken.refresh_from_db()
    assert broken.next_wave_at == due + timedelta(seconds=1)  # a dispatch interval later: no spinning on it
    assert dispatching.run_due(now=due) == 0


def test_a_driver_is_never_offered_the_same_ride_twice(city):
    ride = request()
    for tick in range(1, REQUEST_SECONDS):  # every second of the request's life
        dispatching.run_due(now=after(ride, tick))

    offered = list(RideOffer.objects.filter(ride=ride).values_list("driver_id", flat=True))
    assert sorted(names(city, offered)) == ["a", "b", "c", "d", "e", "f", "g"]  # each once (unique index too)
    requested = [r for rs in recipients(ride, "ride_requested") for r in rs]
    assert sorted(requested) == sorted(offered)  # one ride_requested per driver, ever


def test_a_busy_offline_or_wrong_type_driver_is_skipped_and_the_wave_reaches_further():
    DriverFactory(is_online=False, **at_km(0.3))
    DriverFactory(vehicle_type=VehicleType.CAR, **at_km(0.4))
    ride_in_status(RideStatus.STARTED, driver=DriverFactory(**at_km(0.5)))
    near = ring_driver("near", 1.9)
    further = ring_driver("further", 4.5)
    ride = request()
    assert wave(ride, 1) == [near.pk]
    dispatching.run_due(now=after(ride, OFFER_SECONDS))
    assert wave(ride, 2) == [further.pk]


# --- declines -------------------------------------------------------------------------------------


def test_a_wave_everyone_declined_is_replaced_at_once(city):
    ride = request()
    dispatching.decline_ride(ride_id=ride.pk, user=city["a"].user, now=after(ride, 3))
    assert wave(ride, 2) == []  # b may still accept

    dispatching.decline_ride(ride_id=ride.pk, user=city["b"].user, now=after(ride, 4))
    assert names(city, wave(ride, 2)) == ["c"]
    offer = RideOffer.objects.get(ride=ride, driver=city["c"])
    assert offer.offered_at == after(ride, 4) and offer.expires_at == after(ride, 4 + OFFER_SECONDS)
    ride.refresh_from_db()
    assert ride.next_wave_at == offer.expires_at  # the next wave waits for this one, not the old one
    assert recipients(ride, "ride_unavailable") == []  # a driver who declined is told nothing more


def test_declines_skip_ahead_through_the_rings(city):
    ride = request()
    seconds = 1
    for expected in (["a", "b"], ["c"], ["d", "e"], ["f", "g"]):
        number = ride.offer_wave
        assert names(city, wave(ride, number)) == expected
        for driver_id in wave(ride, number):
            seconds += 1
            dispatching.decline_ride(ride_id=ride.pk, user=city[names(city, [driver_id])[0]].user,
                                     now=after(ride, seconds))
        ride.refresh_from_db()
    assert ride.offer_wave == 4  # four waves in 8 seconds, long before any offer expired
    assert RideOffer.objects.filter(ride=ride, status=OfferStatus.DECLINED).count() == 7


def test_declining_is_recorded_and_counts_against_the_acceptance_rate(city):
    ride = request()
    dispatching.decline_ride(ride_id=ride.pk, user=city["a"].user)
    dispatching.decline_ride(ride_id=ride.pk, user=city["a"].user)  # twice is still one decline
    dispatching.run_due(now=after(ride, OFFER_SECONDS))  # b lets it expire
    ride_services.accept_ride(ride_id=ride.pk, user=city["c"].user)  # c, in wave 2, takes it
    other = request()
    ride_services.accept_ride(ride_id=other.pk, user=city["a"].user)  # a takes the next one

    assert offer_figures(city["a"].pk) == {
        "offers": 2, "accepted": 1, "declined": 1, "expired": 0, "withdrawn": 0, "acceptance_rate": 0.5,
    }
    assert offer_figures(city["b"].pk)["expired"] == 1
    assert offer_figures(city["b"].pk)["withdrawn"] == 1  # b's offer of the second ride stood when a took it
    assert offer_figures(city["c"].pk)["acceptance_rate"] == 1.0
    assert offer_figures(city["far"].pk)["acceptance_rate"] is None


def test_declining_a_ride_never_offered_is_not_found_and_one_taken_is_a_conflict(city):
    ride = request()
    with pytest.raises(NotFound) as not_offered:
        dispatching.decline_ride(ride_id=ride.pk, user=city["far"].user)
    assert not_offered.value.code == "ride_not_found"

    ride_services.accept_ride(ride_id=ride.pk, user=city["b"].user)
    with pytest.raises(Conflict) as taken:
        dispatching.decline_ride(ride_id=ride.pk, user=city["a"].user)
    assert taken.value.code == "invalid_transition"
    assert RideOffer.objects.get(ride=ride, driver=city["a"]).status == OfferStatus.WITHDRAWN


# --- drivers coming online, accepting late --------------------------------------------------------


def test_a_driver_who_comes_online_during_a_wait_gets_the_next_wave():
    ride = request()  # nobody online: nothing to offer
    assert RideOffer.objects.filter(ride=ride).count() == 0
    late = DriverFactory(is_online=False, **at_km(1.0))
    driver_services.set_online(user=late.user, online=True)

    dispatching.run_due(now=after(ride, 1))  # the next tick
    assert wave(ride, 1) == [late.pk]


def test_a_driver_nearer_than_the_rest_who_comes_online_is_offered_before_them(city):
    ride = request()
    newcomer = DriverFactory(is_online=False, **at_km(0.2))
    driver_services.set_online(user=newcomer.user, online=True)
    dispatching.run_due(now=after(ride, OFFER_SECONDS))
    assert wave(ride, 2) == [newcomer.pk, city["c"].pk]


def test_a_driver_whose_offer_expired_may_still_accept_while_the_ride_is_requested(city):
    ride = request()
    dispatching.run_due(now=after(ride, OFFER_SECONDS))  # a's offer expired; c's stands

    accepted = ride_services.accept_ride(ride_id=ride.pk, user=city["a"].user)
    assert accepted.status == RideStatus.ACCEPTED and accepted.next_wave_at is None
    statuses = dict(RideOffer.objects.filter(ride=ride).values_list("driver_id", "status"))
    assert statuses[city["a"].pk] == OfferStatus.ACCEPTED
    assert statuses[city["c"].pk] == OfferStatus.WITHDRAWN
    # Only c's offer still stood: only c is told it was taken (b heard offer_expired already).
    assert recipients(ride, "ride_unavailable") == [[city["a"].pk, city["b"].pk], [city["c"].pk]]
    assert dispatching.run_due(now=after(ride, 2 * OFFER_SECONDS)) == 0  # no more waves


# --- the request's timeout ------------------------------------------------------------------------


def test_a_request_nobody_took_is_cancelled_by_system_with_no_driver_found(city):
    ride = request()
    for tick in range(OFFER_SECONDS, REQUEST_SECONDS, OFFER_SECONDS):
        dispatching.run_due(now=after(ride, tick))
    ride.refresh_from_db()
    assert ride.status == RideStatus.REQUESTED

    dispatching.run_due(now=after(ride, REQUEST_SECONDS))
    ride.refresh_from_db()
    assert (ride.status, ride.cancelled_by, ride.cancel_reason) == (
        RideStatus.CANCELLED, CancelledBy.SYSTEM, "no_driver_found")
    cancelled = Event.objects.get(ride=ride, type="ride_cancelled")
    assert data(cancelled)["cancelled_by"] == "system" and data(cancelled)["reason"] == "no_driver_found"
    assert list(cancelled.recipients.values_list("user_id", flat=True)) == [ride.passenger_id]
    assert not RideOffer.objects.filter(ride=ride, status=OfferStatus.OFFERED).exists()
    assert dispatching.run_due(now=after(ride, REQUEST_SECONDS + 60)) == 0


def test_the_last_wave_is_cut_short_by_the_request_timeout(settings, city):
    settings.RIDE_REQUEST_TIMEOUT_SECONDS = 20
    ride = request()
    dispatching.run_due(now=after(ride, OFFER_SECONDS))  # wave 2 would stand until 30 s
    ride.refresh_from_db()
    assert ride.next_wave_at == after(ride, 20)
    dispatching.run_due(now=after(ride, 20))
    ride.refresh_from_db()
    assert ride.cancel_reason == "no_driver_found"


def test_a_request_with_nobody_around_times_out_too():
    ride = request()
    dispatching.run_due(now=after(ride, REQUEST_SECONDS))
    assert Ride.objects.get(pk=ride.pk).cancel_reason == "no_driver_found"


# --- latitude and longitude near the equator ------------------------------------------------------


def test_near_the_equator_latitude_and_longitude_are_never_swapped():
    """At latitude 0.0005 a swap would put the pickup at (11.5, 0.0005), in the Sahara: nobody
    would be found. Drivers stand only east (longitude) or only north (latitude) of it."""
    pickup = (0.0005, 11.5)
    east = ring_driver("east", 1.0, pickup=pickup, bearing="east")
    north = ring_driver("north", 3.0, pickup=pickup, bearing="north")
    swapped = DriverFactory(latitude=pickup[1], longitude=pickup[0])  # where a swapped pickup would be

    ride = request(pickup=pickup)
    assert (ride.pickup_latitude, ride.pickup_longitude) == pickup
    offer = RideOffer.objects.get(ride=ride, wave=1)
    assert offer.driver_id == east.pk and offer.distance_km == pytest.approx(1.0, abs=0.01)
    payload = data(Event.objects.get(ride=ride, type="ride_requested"))
    assert (payload["pickup_latitude"], payload["pickup_longitude"]) == pickup
    assert payload["pickup_distance_km"] == pytest.approx(1.3, abs=0.01)

    dispatching.run_due(now=after(ride, OFFER_SECONDS))
    offer = RideOffer.objects.get(ride=ride, wave=2)
    assert offer.driver_id == north.pk and offer.distance_km == pytest.approx(3.0, abs=0.01)
    assert not RideOffer.objects.filter(ride=ride, driver=swapped).exists()


def test_a_requested_ride_made_outside_request_ride_is_offered_at_the_next_tick(city):
    ride = Ride.objects.create(  # as a shell or a data import would: no first wave, nothing scheduled
        passenger=UserFactory(), ride_type=VehicleType.MOTO, pickup_latitude=PICKUP[0],
        pickup_longitude=PICKUP[1], dropoff_latitude=DROPOFF[0], dropoff_longitude=DROPOFF[1],
        distance_km=2.5, estimated_fare=700,
    )
    assert ride.next_wave_at is None
    assert dispatching.run_due(now=after(ride, 1)) == 1
    assert names(city, wave(ride, 1)) == ["a", "b"]
