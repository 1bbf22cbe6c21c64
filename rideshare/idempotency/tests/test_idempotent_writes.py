"""A state-changing POST with an `Idempotency-Key` is done once: its retries replay the first answer."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from realtime.models import Event
from realtime.push.models import Device
from rides.models import Rating, Ride, RideStatus
from rideshare.accounts.models import User
from rideshare.idempotency.models import IdempotencyKey
from rideshare.tests.factories import TRIP, UserFactory, api_client_for, ride_in_status

pytestmark = pytest.mark.django_db

RIDES = "/api/v1/rides/"
REGISTER = "/api/v1/auth/register/"
NEW_PASSENGER = {"phone_number": "+237655123456", "password": "mango-tree-2026", "full_name": "Ngono Marie"}


def new_key():
    return str(uuid.uuid4())


def post(client, path, body=None, *, key=None):
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return client.post(path, body, format="json", **headers)


def replayed(response):
    return response.headers.get("Idempotent-Replayed") == "true"


def test_a_ride_request_sent_twice_with_one_key_makes_one_ride_and_two_identical_answers(passenger):
    client, key = api_client_for(passenger), new_key()

    first = post(client, RIDES, TRIP, key=key)
    second = post(client, RIDES, TRIP, key=key)

    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert (replayed(first), replayed(second)) == (False, True)
    assert Ride.objects.filter(passenger=passenger).count() == 1
    assert IdempotencyKey.objects.filter(user=passenger, key=key).count() == 1


def test_the_replay_is_the_first_answer_even_after_the_ride_changed(passenger):
    client, key = api_client_for(passenger), new_key()
    first = post(client, RIDES, TRIP, key=key)
    post(client, f"{RIDES}{first.json()['ride_id']}/cancel/")

    again = post(client, RIDES, TRIP, key=key)

    assert (again.status_code, again.json()["status"]) == (201, "requested") and replayed(again)
    assert Ride.objects.filter(passenger=passenger).count() == 1  # the cancel freed the passenger: still no new ride


def test_the_same_key_with_another_body_is_refused_with_422(passenger):
    client, key = api_client_for(passenger), new_key()
    post(client, RIDES, TRIP, key=key)

    other = post(client, RIDES, {**TRIP, "ride_type": "car"}, key=key)

    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert Ride.objects.filter(passenger=passenger).count() == 1


def test_the_same_key_on_another_path_is_refused_with_422(passenger):
    client, key = api_client_for(passenger), new_key()
    ride_id = post(client, RIDES, TRIP, key=key).json()["ride_id"]

    cancel = post(client, f"{RIDES}{ride_id}/cancel/", key=key)

    assert (cancel.status_code, cancel.json()["code"]) == (422, "idempotency_key_reused")
    assert Ride.objects.get(pk=ride_id).status == RideStatus.REQUESTED


def test_another_user_with_the_same_key_is_independent(passenger):
    other_passenger, key = UserFactory(), new_key()

    mine = post(api_client_for(passenger), RIDES, TRIP, key=key)
    theirs = post(api_client_for(other_passenger), RIDES, TRIP, key=key)

    assert mine.status_code == theirs.status_code == 201
    assert not replayed(theirs)
    assert mine.json()["ride_id"] != theirs.json()["ride_id"]
    assert Ride.objects.filter(passenger=other_passenger).count() == 1


def test_an_accept_retried_with_its_key_replays_the_accept_and_announces_it_once(driver):
    ride = ride_in_status(RideStatus.REQUESTED)
    client, key = api_client_for(driver.user), new_key()
    path = f"{RIDES}{ride.pk}/accept/"

    first = post(client, path, key=key)
    second = post(client, path, key=key)

    assert first.status_code == second.status_code == 200  # without the key, the retry is a 409
    assert second.content == first.content and replayed(second)
    assert Event.objects.filter(ride=ride, type="ride_accepted").count() == 1


def test_without_the_header_nothing_changes(passenger):
    client = api_client_for(passenger)

    first = post(client, RIDES, TRIP)
    second = post(client, RIDES, TRIP)

    assert first.status_code == 201 and not replayed(first)
    assert (second.status_code, second.json()["code"]) == (409, "active_ride_exists")
    assert not IdempotencyKey.objects.exists()


@pytest.mark.parametrize(
    "key",
    ["", "x" * 256, "clé-123", "tab\there", "new\x7fline"],
    ids=["empty", "256 characters", "not ASCII", "control character", "DEL"],
)
def test_an_invalid_key_is_refused_with_400_and_nothing_is_done(passenger, key):
    response = post(api_client_for(passenger), RIDES, TRIP, key=key)

    assert (response.status_code, response.json()["code"]) == (400, "invalid_idempotency_key")
    assert not Ride.objects.filter(passenger=passenger).exists()


def test_the_longest_key_of_printable_characters_is_accepted(passenger):
    key = ("a b~!" * 51)[:255]
    client = api_client_for(passenger)

    first = post(client, RIDES, TRIP, key=key)
    second = post(client, RIDES, TRIP, key=key)

    assert first.status_code == second.status_code == 201 and replayed(second)


def test_a_failed_request_is_not_recorded_so_its_key_may_be_retried(passenger):
    client, key = api_client_for(passenger), new_key()
    outside_cameroon = {**TRIP, "pickup_latitude": 48.85, "pickup_longitude": 2.35}

    refused = post(client, RIDES, outside_cameroon, key=key)
    refused_again = post(client, RIDES, outside_cameroon, key=key)
    corrected = post(client, RIDES, TRIP, key=key)

    assert refused.json()["code"] == refused_again.json()["code"] == "outside_service_area"
    assert not replayed(refused_again)
    assert corrected.status_code == 201 and not replayed(corrected)
    assert Ride.objects.filter(passenger=passenger).count() == 1


def test_a_key_past_its_ttl_is_new_again(passenger, settings):
    client, key = api_client_for(passenger), new_key()
    first = post(client, RIDES, TRIP, key=key)
    post(client, f"{RIDES}{first.json()['ride_id']}/cancel/")
    IdempotencyKey.objects.filter(key=key).update(
        created_at=timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL_SECONDS + 1)
    )

    later = post(client, RIDES, TRIP, key=key)

    assert later.status_code == 201 and not replayed(later)
    assert later.json()["ride_id"] != first.json()["ride_id"]
    assert IdempotencyKey.objects.filter(key=key).count() == 1


def test_a_registration_retried_with_its_key_replays_and_makes_one_account(db):
    key = new_key()

    first = post(api_client_for(None), REGISTER, NEW_PASSENGER, key=key)
    second = post(api_client_for(None), REGISTER, NEW_PASSENGER, key=key)

    assert first.status_code == second.status_code == 201  # without the key: 400, number taken
    assert second.content == first.content and replayed(second)
    assert User.objects.filter(phone_number=NEW_PASSENGER["phone_number"]).count() == 1
    assert IdempotencyKey.objects.get(key=key).user is None


def test_anonymous_keys_share_one_scope_so_another_registration_with_the_key_is_refused(db):
    key = new_key()
    post(api_client_for(None), REGISTER, NEW_PASSENGER, key=key)

    other = post(api_client_for(None), REGISTER, {**NEW_PASSENGER, "phone_number": "+237655123457"}, key=key)

    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    assert not User.objects.filter(phone_number="+237655123457").exists()


def test_the_body_is_kept_as_a_keyed_hash_never_in_clear(db):
    key = new_key()
    post(api_client_for(None), REGISTER, NEW_PASSENGER, key=key)

    stored = IdempotencyKey.objects.get(key=key)
    assert NEW_PASSENGER["password"] not in stored.request_fingerprint + stored.response_body
    assert len(stored.request_fingerprint) == 64


@pytest.mark.parametrize("path", ["arrived", "start", "complete", "cancel"])
def test_every_ride_step_replays_with_its_key(path):
    status_before = {
        "arrived": RideStatus.ACCEPTED, "start": RideStatus.DRIVER_ARRIVED,
        "complete": RideStatus.STARTED, "cancel": RideStatus.ACCEPTED,
    }[path]
    ride = ride_in_status(status_before)
    client, key = api_client_for(ride.driver.user), new_key()

    first = post(client, f"{RIDES}{ride.pk}/{path}/", key=key)
    second = post(client, f"{RIDES}{ride.pk}/{path}/", key=key)

    assert first.status_code == second.status_code == 200
    assert second.content == first.content and replayed(second)


def test_decline_and_going_online_and_offline_replay_with_their_key(driver):
    ride = ride_in_status(RideStatus.REQUESTED)  # its first wave offers it to `driver`, the only one
    client = api_client_for(driver.user)
    for path in [f"{RIDES}{ride.pk}/decline/", "/api/v1/drivers/me/offline/", "/api/v1/drivers/me/online/"]:
        key = new_key()
        first = post(client, path, key=key)
        second = post(client, path, key=key)
        assert first.status_code == second.status_code == 200, (path, first.content)
        assert second.content == first.content and replayed(second), path
    assert IdempotencyKey.objects.filter(user=driver.user).count() == 3


def test_a_driver_going_offline_then_retrying_going_online_keeps_the_offline(driver):
    """The retry replays the earlier answer; it does not redo the change over a later one."""
    client, key = api_client_for(driver.user), new_key()
    post(client, "/api/v1/drivers/me/online/", key=key)
    post(client, "/api/v1/drivers/me/offline/")

    retry = post(client, "/api/v1/drivers/me/online/", key=key)

    assert retry.json()["is_online"] is True and replayed(retry)
    driver.refresh_from_db()
    assert driver.is_online is False


def test_an_unauthenticated_request_is_refused_before_its_key_is_looked_at(db):
    response = post(api_client_for(None), RIDES, TRIP, key="")
    assert response.status_code == 401
    assert not IdempotencyKey.objects.exists()



def test_a_rating_retried_with_its_key_replays_and_rates_once(driver):
    ride = ride_in_status(RideStatus.COMPLETED, driver=driver)
    client, key = api_client_for(ride.passenger), new_key()
    path = f"{RIDES}{ride.pk}/rate/"

    first = post(client, path, {"stars": 4, "comment": "Très bien"}, key=key)
    second = post(client, path, {"stars": 4, "comment": "Très bien"}, key=key)

    assert first.status_code == second.status_code == 201  # without the key, the retry is a 409 already_rated
    assert second.content == first.content and replayed(second)
    assert Rating.objects.filter(ride=ride).count() == 1


def test_a_device_registration_retried_with_its_key_replays_the_201(passenger, settings):
    settings.FCM_CREDENTIALS_FILE = "/nowhere/fcm-service-account.json"  # configured; registering reads nothing
    client, key, body = api_client_for(passenger), new_key(), {"kind": "fcm", "token": "fcm-token:APA91b-1"}

    first = post(client, "/api/v1/devices/", body, key=key)
    second = post(client, "/api/v1/devices/", body, key=key)

    assert first.status_code == second.status_code == 201  # without the key, registering again is a 200
    assert second.content == first.content and replayed(second)
    assert Device.objects.filter(user=passenger).count() == 1


@pytest.mark.parametrize(
    "language, invalid, reused",
    [
        (None, "The Idempotency-Key header must be 1 to 255 printable ASCII characters.",
         "This Idempotency-Key was already used for another request."),
        ("fr-CM,fr;q=0.9", "L'en-tête Idempotency-Key doit compter de 1 à 255 caractères ASCII imprimables.",
         "Cette Idempotency-Key a déjà servi pour une autre requête."),
    ],
    ids=["English", "French"],
)
def test_the_key_errors_speak_the_apps_language_with_the_same_codes(passenger, language, invalid, reused):
    client, key = api_client_for(passenger), new_key()
    extra = {} if language is None else {"HTTP_ACCEPT_LANGUAGE": language}
    post(client, RIDES, TRIP, key=key)

    bad = client.post(RIDES, TRIP, format="json", HTTP_IDEMPOTENCY_KEY="", **extra)
    other = client.post(RIDES, {**TRIP, "ride_type": "car"}, format="json", HTTP_IDEMPOTENCY_KEY=key, **extra)

    assert bad.json() == {"detail": invalid, "code": "invalid_idempotency_key"}
    assert other.json() == {"detail": reused, "code": "idempotency_key_reused"}
