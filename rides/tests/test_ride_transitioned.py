"""Every status change goes through `Ride.transition`, which sends `rides.signals.ride_transitioned`
once, with the status left and the status reached, inside the changing transaction."""

import io

import pytest
from django.core.management import call_command
from django.db import transaction

from rides import dispatching, services
from rides.models import CancelledBy, Ride, RideStatus
from rides.signals import ride_transitioned
from rideshare.tests.factories import TRIP, DriverFactory, UserFactory, ride_in_status

pytestmark = pytest.mark.django_db

S = RideStatus


@pytest.fixture
def sent():
    """The ride_transitioned signals sent meanwhile: (ride id, previous, new, status saved then)."""
    calls = []

    def heard(sender, ride, previous, new, **kwargs):
        assert sender is Ride
        saved = Ride.objects.values_list("status", flat=True).get(pk=ride.pk)
        calls.append((ride.pk, previous, new, saved))

    ride_transitioned.connect(heard, dispatch_uid="test.heard")
    yield calls
    ride_transitioned.disconnect(dispatch_uid="test.heard")


def test_each_step_of_a_trip_is_sent_once_after_it_is_saved(sent):
    driver = DriverFactory()
    ride = services.request_ride(passenger=UserFactory(), **TRIP)
    assert sent == []  # a request is no transition (its offers announce it)

    services.accept_ride(ride_id=ride.pk, user=driver.user)
    services.mark_arrived(ride_id=ride.pk, user=driver.user)
    services.start_ride(ride_id=ride.pk, user=driver.user)
    services.complete_ride(ride_id=ride.pk, user=driver.user)

    assert sent == [
        (ride.pk, S.REQUESTED, S.ACCEPTED, S.ACCEPTED),
        (ride.pk, S.ACCEPTED, S.DRIVER_ARRIVED, S.DRIVER_ARRIVED),
        (ride.pk, S.DRIVER_ARRIVED, S.STARTED, S.STARTED),
        (ride.pk, S.STARTED, S.COMPLETED, S.COMPLETED),
    ]


@pytest.mark.parametrize("status", [S.REQUESTED, S.ACCEPTED, S.DRIVER_ARRIVED])
def test_a_cancel_is_sent_once_with_the_status_it_left(sent, status):
    ride = ride_in_status(status)
    services.cancel_ride(ride_id=ride.pk, user=ride.passenger, reason="changed my mind")
    assert sent == [(ride.pk, status, S.CANCELLED, S.CANCELLED)]


def test_the_other_ways_a_ride_ends_are_sent_too(sent):
    """The operator's end, the system's expiry, the dispatcher's timeout, `manage.py end_ride`."""
    started, requested, late = ride_in_status(S.STARTED), ride_in_status(S.REQUESTED), ride_in_status(S.REQUESTED)
    by_command = ride_in_status(S.ACCEPTED)
    services.end_ride_as_operator(ride_id=started.pk, reason="driver_unreachable")
    services.expire_request(ride_id=requested.pk)
    dispatching.run_due(now=dispatching.request_deadline(late))
    call_command("end_ride", str(by_command.pk), stdout=io.StringIO())

    assert sent == [
        (started.pk, S.STARTED, S.CANCELLED, S.CANCELLED),
        (requested.pk, S.REQUESTED, S.CANCELLED, S.CANCELLED),
        (late.pk, S.REQUESTED, S.CANCELLED, S.CANCELLED),
        (by_command.pk, S.ACCEPTED, S.CANCELLED, S.CANCELLED),
    ]


def test_a_refused_transition_sends_nothing(sent):
    ride = ride_in_status(S.COMPLETED)
    with pytest.raises(services.InvalidTransition):
        services.cancel_ride(ride_id=ride.pk, user=ride.passenger)
    assert sent == []


def test_the_transition_saves_only_the_fields_of_the_step():
    ride = ride_in_status(S.ACCEPTED)
    Ride.objects.filter(pk=ride.pk).update(cancel_reason="written meanwhile")  # a field not part of the step

    ride.transition(S.DRIVER_ARRIVED, arrived_at=ride.accepted_at)

    ride.refresh_from_db()
    assert (ride.status, ride.arrived_at, ride.cancel_reason) == (S.DRIVER_ARRIVED, ride.accepted_at, "written meanwhile")


def test_a_rolled_back_transition_leaves_the_ride_as_it_was(sent):
    ride = ride_in_status(S.ACCEPTED)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.cancel_ride_as(ride_id=ride.pk, by=CancelledBy.ADMIN)
        raise RuntimeError("abort")
    assert [(previous, new) for _, previous, new, _ in sent] == [(S.ACCEPTED, S.CANCELLED)]  # sent inside
    assert Ride.objects.get(pk=ride.pk).status == S.ACCEPTED
