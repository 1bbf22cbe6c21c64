"""The outbox is written in the transaction that logs an event, for the pushed types only, and
costs the event log nothing for the events that are not pushed."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from realtime.models import Event
from realtime.protocol import asyncapi, wire
from realtime.push import devices, outbox
from realtime.push.models import PushDelivery
from rides import services as ride_services
from rides.models import RideStatus
from rideshare.tests.factories import TRIP, DriverFactory, UserFactory, ride_in_status

pytestmark = pytest.mark.django_db

PUSHED = {"ride_requested", "ride_accepted", "driver_approaching", "driver_arrived", "ride_started",
          "ride_completed", "ride_cancelled"}


def test_the_pushed_events_are_declared_with_the_protocol():
    assert outbox.PUSHED_TYPES == PUSHED
    messages = asyncapi.document()["components"]["messages"]
    assert {name for name, message in messages.items() if message.get("x-push")} == PUSHED
    assert "pushed to the devices" in messages["ride_accepted"]["description"]


def test_the_protocol_page_says_which_events_are_pushed(client):
    page = client.get("/api/docs/websocket/").content.decode()
    assert page.count("pushed to the recipient's devices when no socket is open") == len(PUSHED)


def test_only_reliable_events_can_be_pushed():
    with pytest.raises(TypeError, match="only reliable events"):
        wire.server_event("ride_nearby", audience="nobody", pushed=True)


def test_enqueue_asks_nothing_for_events_not_pushed_and_once_for_pushed_ones_nobody_can_receive(
    django_assert_num_queries, push_services
):
    user = UserFactory()
    unavailable = Event.objects.create(type="ride_unavailable", text="{}")
    accepted = Event.objects.create(type="ride_accepted", text="{}")
    with django_assert_num_queries(0):
        assert outbox.enqueue([unavailable], [[user.pk]]) == 0
    with django_assert_num_queries(1):
        assert outbox.enqueue([accepted], [[user.pk]]) == 0
    devices.register_device(user=user, kind="fcm", address="phone")
    devices.register_device(user=user, kind="fcm", address="tablet")
    with django_assert_num_queries(2):  # the devices, then one insert for all of them
        assert outbox.enqueue([accepted, unavailable], [[user.pk, str(user.pk)], [user.pk]]) == 2


def test_an_offer_is_worth_pushing_while_it_stands_and_other_events_for_push_ttl(push_services, settings):
    settings.PUSH_TTL_SECONDS = 600
    driver = DriverFactory()
    devices.register_device(user=driver.user, kind="fcm", address="driver-phone")
    before = timezone.now()
    ride = ride_services.request_ride(passenger=UserFactory(), **TRIP)
    ride_services.cancel_ride(ride_id=ride.pk, user=ride.passenger, reason="changed my mind")

    offer = PushDelivery.objects.get(event__type="ride_requested")
    assert offer.user == driver.user and offer.due_at >= before
    assert offer.expires_at - offer.due_at == timedelta(seconds=settings.RIDE_OFFER_TIMEOUT_SECONDS)
    assert not PushDelivery.objects.exclude(pk=offer.pk).exists()  # ride_unavailable is not pushed

    later = ride_in_status(RideStatus.STARTED, driver=driver)
    ride_services.complete_ride(ride_id=later.pk, user=driver.user)
    completed = PushDelivery.objects.get(event__type="ride_completed")
    assert completed.expires_at - completed.due_at == timedelta(seconds=600)


def test_a_device_that_changed_hands_since_is_not_sent_the_previous_users_events(push_services):
    driver = DriverFactory()
    device, _ = devices.register_device(user=driver.user, kind="fcm", address="shared-phone")
    ride_services.request_ride(passenger=UserFactory(), **TRIP)
    device.user = UserFactory()  # changed by other code than devices.register_device (which drops the rows)
    device.save()

    assert outbox.claim_due() == []
    assert not PushDelivery.objects.exists()


def test_backoff_doubles_from_the_base_up_to_the_maximum(settings):
    settings.PUSH_RETRY_BASE_SECONDS, settings.PUSH_RETRY_MAX_SECONDS = 2, 30
    assert [outbox.backoff_seconds(n) for n in range(1, 7)] == [2, 4, 8, 16, 30, 30]
    assert outbox.backoff_seconds(1, retry_after=20) == 20
    assert outbox.backoff_seconds(1, retry_after=3600) == 30


def test_a_claim_leases_its_rows_and_counts_the_attempt(push_services):
    user = UserFactory()
    devices.register_device(user=user, kind="fcm", address="phone")
    event = Event.objects.create(type="ride_accepted", text='{"type":"ride_accepted"}')
    now = timezone.now()
    outbox.enqueue([event], [[uuid.UUID(str(user.pk))]], now=now)

    (push,) = outbox.claim_due(now=now)

    assert (push.event_type, push.text, push.attempts, push.address) == ("ride_accepted", event.text, 1, "phone")
    row = PushDelivery.objects.get()
    assert row.attempts == 1 and row.due_at == now + timedelta(seconds=outbox.lease_seconds())
    assert outbox.claim_due(now=now + timedelta(seconds=outbox.lease_seconds() - 1)) == []
    assert len(outbox.claim_due(now=row.due_at)) == 1  # a sender that died: the row is due again
