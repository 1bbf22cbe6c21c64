"""Ride events reach the devices of users whose app is closed (no open socket), as the socket
would have sent them; a user with a socket open gets nothing pushed; what fails is retried with
backoff, a device its service says is gone is deleted, and no send ever holds up a request."""

import asyncio
import json
import threading
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from py_vapid.utils import b64urldecode

from realtime.models import Event
from realtime.push import devices, outbox, sender
from realtime.push.fcm import JWT_BEARER, SCOPE
from realtime.push.models import Device, PushDelivery
from realtime.tests.helpers import db, receive_type, socket
from rides import services as ride_services
from rides.models import RideStatus
from rideshare.tests.factories import TRIP, DriverFactory, UserFactory, api_client_for, ride_in_status

from .conftest import VAPID_SUBJECT
from .fakes import BrowserSubscription

pytestmark = pytest.mark.django_db(transaction=True)


def subscribe(user, service):
    """The user's browser subscribes and registers (as POST /api/v1/devices/ does)."""
    browser = BrowserSubscription(service)
    subscription = browser.as_json()
    devices.register_device(user=user, kind="webpush", address=browser.endpoint, **subscription["keys"])
    return browser


def logged(event_type):
    """The envelope of the one logged event of this type, as the socket sends it."""
    return json.loads(Event.objects.get(type=event_type).text)


def pending():
    return list(PushDelivery.objects.order_by("id"))


async def accepted_ride_of_a_subscribed_passenger(push_services):
    ride = await db(ride_in_status)(RideStatus.REQUESTED)
    driver = await db(DriverFactory)()
    browser = await db(subscribe)(ride.passenger, push_services.webpush)
    await db(ride_services.accept_ride)(ride_id=ride.pk, user=driver.user)
    return ride, driver, browser


async def test_a_passenger_whose_app_is_closed_gets_ride_accepted_pushed_as_the_socket_sends_it(push_services):
    _, _, browser = await accepted_ride_of_a_subscribed_passenger(push_services)

    assert await sender.run_round() == {"sent": 1}

    (received,) = push_services.webpush.wait_for(1)
    assert received.path == browser.endpoint.removeprefix(push_services.webpush.url)
    envelope = json.loads(browser.decrypt(received))
    assert envelope == await db(logged)("ride_accepted")
    assert set(envelope) == {"id", "type", "data", "timestamp", "metadata"}
    assert 3500 < int(received.headers["ttl"]) <= settings.PUSH_TTL_SECONDS
    assert received.headers["urgency"] == "high"
    assert await db(pending)() == []


async def test_web_push_requests_are_signed_with_the_servers_vapid_key(push_services):
    await accepted_ride_of_a_subscribed_passenger(push_services)
    await sender.run_round()
    (received,) = push_services.webpush.wait_for(1)

    scheme, params = received.headers["authorization"].split(" ", 1)
    fields = dict(part.strip().split("=", 1) for part in params.split(","))
    assert scheme == "vapid" and fields["k"] == push_services.vapid_public_key
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64urldecode(fields["k"].encode()))
    claims = jwt.decode(fields["t"], key, algorithms=["ES256"], audience=push_services.webpush.url)
    assert claims["sub"] == VAPID_SUBJECT and claims["exp"] > timezone.now().timestamp()


async def test_a_user_with_a_socket_open_gets_nothing_pushed_and_after_closing_it_does(push_services):
    ride = await db(ride_in_status)(RideStatus.REQUESTED)
    driver = await db(DriverFactory)()
    browser = await db(subscribe)(ride.passenger, push_services.webpush)
    async with socket(ride.passenger) as passenger_socket:
        await db(ride_services.accept_ride)(ride_id=ride.pk, user=driver.user)
        await receive_type(passenger_socket, "ride_accepted")

        assert await sender.run_round() == {"on_socket": 1}

    assert push_services.webpush.received == []
    assert await db(pending)() == []
    await db(ride_services.mark_arrived)(ride_id=ride.pk, user=driver.user)  # the app is closed now
    assert await sender.run_round() == {"sent": 1}
    assert json.loads(browser.decrypt(push_services.webpush.wait_for(1)[0]))["type"] == "driver_arrived"


async def test_a_rolled_back_change_pushes_nothing(push_services):
    ride = await db(ride_in_status)(RideStatus.REQUESTED)
    driver = await db(DriverFactory)()
    await db(subscribe)(ride.passenger, push_services.webpush)

    def accept_then_roll_back():
        with pytest.raises(RuntimeError), transaction.atomic():
            ride_services.accept_ride(ride_id=ride.pk, user=driver.user)
            raise RuntimeError("rolled back")

    await db(accept_then_roll_back)()

    assert await db(pending)() == []
    assert await sender.run_round() == {}
    assert push_services.webpush.received == []


async def test_a_subscription_answered_410_is_deleted_with_its_pushes(push_services):
    push_services.webpush.answer_with(410, b"subscription expired")
    await accepted_ride_of_a_subscribed_passenger(push_services)

    assert await sender.run_round() == {"gone": 1}

    assert not await db(Device.objects.exists)()
    assert await db(pending)() == []


async def test_a_failing_push_service_is_retried_with_growing_waits_then_given_up(push_services, settings):
    settings.PUSH_MAX_ATTEMPTS, settings.PUSH_RETRY_BASE_SECONDS = 3, 2
    push_services.webpush.answer_with(500, b"try later")
    await accepted_ride_of_a_subscribed_passenger(push_services)
    start = timezone.now() + timedelta(seconds=1)

    def at(seconds):
        return start + timedelta(seconds=seconds)

    assert await sender.run_round(now=at(0)) == {"retry": 1}
    (row,) = await db(pending)()
    assert (row.due_at, row.attempts, row.last_error) == (at(2), 1, "500 try later")
    assert await sender.run_round(now=at(1.9)) == {}  # not due yet
    assert await sender.run_round(now=at(2)) == {"retry": 1}
    assert (await db(pending)())[0].due_at == at(2 + 4)
    assert await sender.run_round(now=at(6)) == {"retry": 1}  # the third and last attempt

    assert await db(pending)() == []
    assert len(push_services.webpush.received) == 3
    assert await db(Device.objects.count)() == 1  # a failing service is not a reason to forget the device


async def test_a_retry_after_longer_than_the_backoff_is_honoured(push_services):
    push_services.webpush.answer_with(429, b"slow down", headers={"Retry-After": "120"})
    await accepted_ride_of_a_subscribed_passenger(push_services)
    now = timezone.now() + timedelta(seconds=1)

    assert await sender.run_round(now=now) == {"retry": 1}
    assert (await db(pending)())[0].due_at == now + timedelta(seconds=120)


async def test_a_push_held_by_its_service_holds_up_no_request_and_no_socket(push_services):
    push_services.webpush.hold()
    await accepted_ride_of_a_subscribed_passenger(push_services)
    push_round = asyncio.create_task(sender.run_round())
    await asyncio.to_thread(push_services.webpush.wait_for, 1)  # in flight, unanswered

    other_driver = await db(DriverFactory)()
    other_passenger = await db(UserFactory)()
    async with socket(other_driver.user) as driver_socket:
        response = await db(api_client_for(other_passenger).post)("/api/v1/rides/", TRIP, format="json")
        assert response.status_code == 201
        offer = await receive_type(driver_socket, "ride_requested")
        assert offer["data"]["ride_id"] == response.json()["ride_id"]
    assert not push_round.done()

    push_services.webpush.release()
    assert await asyncio.wait_for(push_round, 10) == {"sent": 1}


async def test_an_expired_push_is_dropped_unsent(push_services):
    await accepted_ride_of_a_subscribed_passenger(push_services)
    (row,) = await db(pending)()

    assert await sender.run_round(now=row.expires_at) == {}

    assert await db(pending)() == []
    assert push_services.webpush.received == []


async def test_an_offer_reaches_a_native_driver_app_through_fcm_with_a_minted_token(push_services):
    driver = await db(DriverFactory)()
    await db(devices.register_device)(user=driver.user, kind="fcm", address="driver-phone-token")
    passenger = await db(UserFactory)()
    await db(ride_services.request_ride)(passenger=passenger, **TRIP)

    assert await sender.run_round() == {"sent": 1}

    (token_request,) = push_services.google.wait_for(1)
    form = token_request.form()
    assert token_request.path == "/token" and form["grant_type"] == JWT_BEARER
    account = push_services.account
    claims = jwt.decode(form["assertion"], push_services.account_public_key, algorithms=["RS256"],
                        audience=account["token_uri"])
    assert claims["iss"] == account["client_email"] and claims["scope"] == SCOPE
    assert jwt.get_unverified_header(form["assertion"])["kid"] == account["private_key_id"]
    (sent,) = push_services.fcm.wait_for(1)
    assert sent.path == "/v1/projects/rideshare-test/messages:send"
    assert sent.headers["authorization"] == "Bearer fake-access-token-1"
    message = sent.json()["message"]
    envelope = await db(logged)("ride_requested")
    assert message["token"] == "driver-phone-token"
    assert message["data"] == {"type": "ride_requested", "id": str(envelope["id"]), "envelope": json.dumps(
        envelope, separators=(",", ":"), ensure_ascii=False)}
    assert message["android"]["priority"] == "HIGH"
    assert 0 < int(message["android"]["ttl"].removesuffix("s")) <= settings.RIDE_OFFER_TIMEOUT_SECONDS


async def test_one_access_token_serves_many_pushes(push_services):
    driver = await db(DriverFactory)()
    await db(devices.register_device)(user=driver.user, kind="fcm", address="driver-phone-token")
    for _ in range(2):
        ride = await db(ride_in_status)(RideStatus.REQUESTED, passenger=await db(UserFactory)())
        await db(ride_services.cancel_ride)(ride_id=ride.pk, user=ride.passenger, reason="changed my mind")
        assert await sender.run_round() == {"sent": 1}
    assert len(push_services.fcm.received) == 2 and len(push_services.tokens_issued) == 1


async def test_an_unregistered_fcm_token_is_deleted_and_a_404_of_a_wrong_project_is_not(push_services, settings):
    driver = await db(DriverFactory)()
    await db(devices.register_device)(user=driver.user, kind="fcm", address="stale-token")
    passenger = await db(UserFactory)()

    push_services.fcm.answer_with(404, {"error": {"code": 404, "status": "NOT_FOUND"}})
    await db(ride_services.request_ride)(passenger=passenger, **TRIP)
    assert await sender.run_round() == {"retry": 1}
    assert await db(Device.objects.count)() == 1

    push_services.fcm.answer_with(404, {"error": {"code": 404, "status": "NOT_FOUND", "details": [
        {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED"}]}})
    row = (await db(pending)())[0]
    assert await sender.run_round(now=row.due_at) == {"gone": 1}
    assert await db(Device.objects.count)() == 0


@pytest.mark.postgres_only
def test_senders_running_at_once_never_claim_the_same_push(push_services):
    """One sender's claimed rows are locked until its claim commits; another sender skips them
    (SKIP LOCKED) instead of waiting, and takes the others."""
    driver = DriverFactory()
    for n in range(8):
        devices.register_device(user=driver.user, kind="fcm", address=f"phone-{n}")
    ride_services.request_ride(passenger=UserFactory(), **TRIP)  # one offer: a row per device
    holding, second_claim = threading.Event(), {}

    def other_sender():
        holding.wait(10)
        try:
            second_claim["rows"] = outbox.claim_due(limit=4)
        finally:
            connection.close()  # this thread's own

    other = threading.Thread(target=other_sender)
    other.start()
    with transaction.atomic():  # the first sender's claim, not committed yet
        first = outbox.claim_due(limit=4)
        holding.set()
        other.join(10)
        assert not other.is_alive(), "the second sender waited for the first one's locks"
    assert len(first) == len(second_claim["rows"]) == 4
    assert not {p.delivery_id for p in first} & {p.delivery_id for p in second_claim["rows"]}


async def test_when_presence_cannot_be_read_everyone_is_pushed_to(push_services, monkeypatch):
    """Redis away: the sockets it serves cannot hear the event either."""
    await accepted_ride_of_a_subscribed_passenger(push_services)

    async def presence_down(user_ids):
        raise ConnectionError("Redis is away")

    monkeypatch.setattr("realtime.presence.presence.connected", presence_down)
    assert await sender.run_round() == {"sent": 1}
