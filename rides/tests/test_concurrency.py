"""Real races on PostgreSQL: each thread has its own connection and transaction; a barrier
releases them together. Committed data (a transactional test), so every thread sees the setup.
"""

import threading
from collections import Counter

import pytest
from django.db import connection

from rides import services
from rides.models import Ride, RideStatus
from rideshare.kernel.errors import DomainError
from rideshare.tests.factories import DriverFactory, UserFactory, api_client_for, ride_in_status

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

ROUNDS = 20
API_ROUNDS = 5  # the same race through HTTP handling; the service-level test does the 20 rounds
EXTRA_ROUNDS = 5  # the other races: each round already exercises the lock path
S = RideStatus


def race(*calls):
    """Run each call in its own thread, all released at once; return what each one got.

    A call's result is ("ok", value) or (http_status, code, extra) for a DomainError.
    """
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        try:
            connection.ensure_connection()  # connected before the start line: only the calls race
            barrier.wait(timeout=10)
            results[index] = ("ok", call())
        except DomainError as exc:
            results[index] = (exc.status_code, exc.code, exc.extra)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            results[index] = ("crash", repr(exc))
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a racing thread hung"
    assert not [r for r in results if r[0] == "crash"], results
    return results


def test_ten_drivers_accepting_the_same_ride_at_once_one_wins_nine_get_409():
    drivers = DriverFactory.create_batch(10)
    assert connection.vendor == "postgresql"

    for round_number in range(ROUNDS):
        ride = ride_in_status(S.REQUESTED)
        results = race(*[
            (lambda user=d.user: services.accept_ride(ride_id=ride.pk, user=user).driver_id) for d in drivers
        ])

        winners = [value for kind, value, *_ in results if kind == "ok"]
        losers = [r for r in results if r[0] != "ok"]
        assert len(winners) == 1, (round_number, results)
        assert len(losers) == 9, (round_number, results)
        for status_code, code, extra in losers:
            assert (status_code, code) == (409, "invalid_transition")
            assert extra == {"current_status": "accepted"}
        ride.refresh_from_db()
        assert (ride.status, ride.driver_id) == (S.ACCEPTED, winners[0])
        assert Ride.objects.filter(driver_id__in=[d.pk for d in drivers], status=S.ACCEPTED).count() == 1

        services.cancel_ride_as(ride_id=ride.pk, by="system")  # frees the winner for the next round


def test_ten_drivers_accepting_over_the_api_at_once_get_one_200_and_nine_409():
    drivers = DriverFactory.create_batch(10)
    clients = [api_client_for(d.user) for d in drivers]

    for round_number in range(API_ROUNDS):
        ride = ride_in_status(S.REQUESTED)
        url = f"/api/v1/rides/{ride.pk}/accept/"
        results = race(*[(lambda client=c: client.post(url)) for c in clients])

        responses = [value for _, value in results]
        statuses = Counter(r.status_code for r in responses)
        assert statuses == Counter({200: 1, 409: 9}), (round_number, statuses)
        winner = next(r for r in responses if r.status_code == 200)
        for response in responses:
            if response.status_code == 409:
                assert response.data["code"] == "invalid_transition"
                assert response.data["current_status"] == "accepted"
        ride.refresh_from_db()
        assert ride.status == S.ACCEPTED
        assert str(ride.driver_id) == winner.data["driver_id"]

        services.cancel_ride_as(ride_id=ride.pk, by="system")


def test_passenger_cancel_racing_driver_start_exactly_one_wins():
    driver = DriverFactory()
    outcomes = Counter()

    for round_number in range(ROUNDS):
        passenger = UserFactory()
        ride = ride_in_status(S.DRIVER_ARRIVED, passenger=passenger, driver=driver)
        cancel, start = race(
            lambda: services.cancel_ride(ride_id=ride.pk, user=passenger).status,
            lambda: services.start_ride(ride_id=ride.pk, user=driver.user).status,
        )

        assert [cancel[0], start[0]].count("ok") == 1, (round_number, cancel, start)
        winner_status = cancel[1] if cancel[0] == "ok" else start[1]
        loser = start if cancel[0] == "ok" else cancel
        assert (loser[0], loser[1]) == (409, "invalid_transition")
        assert loser[2] == {"current_status": winner_status}
        ride.refresh_from_db()
        assert ride.status == winner_status
        if winner_status == S.CANCELLED:
            assert (ride.cancelled_by, ride.started_at) == ("passenger", None)
        else:
            assert winner_status == S.STARTED
            assert (ride.cancelled_at, ride.cancelled_by) == (None, "")
            services.complete_ride(ride_id=ride.pk, user=driver.user)  # free the driver
        outcomes[winner_status] += 1

    assert sum(outcomes.values()) == ROUNDS


def test_driver_cancel_racing_driver_arrival_leaves_a_consistent_ride():
    # The assigned driver's two devices: one cancels while the other marks arrival.
    driver = DriverFactory()
    for round_number in range(EXTRA_ROUNDS):
        ride = ride_in_status(S.ACCEPTED, driver=driver)
        cancel, arrive = race(
            lambda: services.cancel_ride(ride_id=ride.pk, user=driver.user).status,
            lambda: services.mark_arrived(ride_id=ride.pk, user=driver.user).status,
        )
        # Cancelling stays legal after arrival: the cancel always succeeds; arrival only if it came first.
        assert cancel == ("ok", S.CANCELLED), (round_number, cancel)
        ride.refresh_from_db()
        assert ride.status == S.CANCELLED
        if arrive[0] == "ok":
            assert ride.arrived_at is not None and ride.arrived_at <= ride.cancelled_at
        else:
            assert arrive == (409, "invalid_transition", {"current_status": "cancelled"})
            assert ride.arrived_at is None


def test_one_passenger_requesting_twice_at_once_gets_one_ride():
    trip = {
        "ride_type": "moto",
        "pickup_latitude": 3.848,
        "pickup_longitude": 11.502,
        "dropoff_latitude": 3.866,
        "dropoff_longitude": 11.516,
    }
    for round_number in range(EXTRA_ROUNDS):
        passenger = UserFactory()
        results = race(*[(lambda: services.request_ride(passenger=passenger, **trip).pk) for _ in range(4)])

        assert [r[0] for r in results].count("ok") == 1, (round_number, results)
        assert all((r[0], r[1]) == (409, "active_ride_exists") for r in results if r[0] != "ok")
        assert Ride.objects.filter(passenger=passenger).count() == 1


def test_one_driver_accepting_two_rides_at_once_gets_one():
    driver = DriverFactory()
    for round_number in range(EXTRA_ROUNDS):
        rides = [ride_in_status(S.REQUESTED) for _ in range(2)]
        results = race(*[(lambda ride=r: services.accept_ride(ride_id=ride.pk, user=driver.user).pk) for r in rides])

        assert [r[0] for r in results].count("ok") == 1, (round_number, results)
        loser = next(r for r in results if r[0] != "ok")
        assert (loser[0], loser[1]) == (409, "driver_busy")
        active = Ride.objects.filter(driver=driver, status=S.ACCEPTED)
        assert active.count() == 1
        for ride in rides:
            services.cancel_ride_as(ride_id=ride.pk, by="system")
