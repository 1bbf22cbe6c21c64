"""POST/GET /api/v1/devices/, DELETE /api/v1/devices/{id}/, GET /api/v1/devices/vapid-public-key/:
where a user's apps can be pushed to, one device per Web Push endpoint or FCM token."""

import pytest
from django.core import checks

from realtime.push.models import Device, PushDelivery
from realtime.push.webpush import public_key_of
from rideshare.tests.factories import TRIP, DriverFactory, UserFactory, api_client_for
from rideshare.tests.test_openapi import assert_documented

from .fakes import BrowserSubscription

pytestmark = pytest.mark.django_db

DEVICES = "/api/v1/devices/"


@pytest.fixture(scope="module")
def document(django_db_blocker):
    with django_db_blocker.unblock():
        return api_client_for(None).get("/api/schema/?format=json").json()


def post(document, client, body, expect):
    response = client.post(DEVICES, body, format="json")
    assert response.status_code == expect, response.json()
    assert_documented(document, "post", DEVICES, response)
    return response.json()


def test_a_browser_registers_its_subscription_and_sees_it_listed(document, push_services, passenger):
    client = api_client_for(passenger)
    subscription = BrowserSubscription(push_services.webpush).as_json()

    device = post(document, client, {"kind": "webpush", "subscription": subscription}, 201)

    assert device["kind"] == "webpush" and device["endpoint"] == subscription["endpoint"] and device["token"] is None
    listed = client.get(DEVICES)
    assert_documented(document, "get", DEVICES, listed)
    assert [d["id"] for d in listed.json()] == [device["id"]]
    stored = Device.objects.get()
    assert (stored.user, stored.p256dh, stored.auth) == (passenger, *subscription["keys"].values())


def test_registering_the_same_endpoint_again_updates_the_device(document, push_services, passenger):
    client = api_client_for(passenger)
    browser = BrowserSubscription(push_services.webpush)
    first = post(document, client, {"kind": "webpush", "subscription": browser.as_json()}, 201)
    renewed = BrowserSubscription(push_services.webpush).as_json()  # new keys, same endpoint
    renewed["endpoint"] = browser.endpoint

    again = post(document, client, {"kind": "webpush", "subscription": renewed}, 200)

    assert again["id"] == first["id"]
    assert Device.objects.get().p256dh == renewed["keys"]["p256dh"]


def test_a_native_app_registers_its_fcm_token(document, push_services, passenger):
    device = post(document, api_client_for(passenger), {"kind": "fcm", "token": "fcm-token:APA91b-1"}, 201)
    assert device["kind"] == "fcm" and device["token"] == "fcm-token:APA91b-1" and device["endpoint"] is None


def test_a_token_registered_by_another_user_moves_to_them_without_the_first_users_pushes(push_services, passenger):
    driver = DriverFactory()
    api_client_for(driver.user).post(DEVICES, {"kind": "fcm", "token": "shared-phone"}, format="json")
    api_client_for(passenger).post("/api/v1/rides/", TRIP, format="json")  # an offer for the driver's phone
    assert PushDelivery.objects.filter(user=driver.user).count() == 1

    response = api_client_for(passenger).post(DEVICES, {"kind": "fcm", "token": "shared-phone"}, format="json")

    assert response.status_code == 200
    assert Device.objects.get().user == passenger
    assert PushDelivery.objects.count() == 0


@pytest.mark.parametrize(
    "body, field",
    [
        ({"kind": "webpush"}, "subscription"),
        ({"kind": "fcm"}, "token"),
        ({"kind": "fcm", "token": "has spaces"}, "token"),
        ({"kind": "apns", "token": "x"}, "kind"),
    ],
)
def test_a_registration_without_what_its_kind_needs_is_a_validation_error(push_services, passenger, body, field):
    response = api_client_for(passenger).post(DEVICES, body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error" and field in response.json()["errors"]


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://push.example.com/send/abc",  # not a push service the server may POST to
        "http://fcm.googleapis.com/fcm/send/abc",  # not https
        "http://10.0.0.8/internal",
        # Read as fcm.googleapis.com by urllib's urlsplit, as localhost by the HTTP client that sends.
        "https://localhost\\@fcm.googleapis.com/x",
        "https://localhost:8080\\@fcm.googleapis.com/x",
        "https://fcm.googleapis.com:6379/x",  # a listed host, another port
        "https://user:secret@fcm.googleapis.com/x",
        "https://fcm.googleapis.com/x\ty",
        "https://fcm.googleapis.com\\x",
    ],
)
def test_an_endpoint_that_is_not_a_known_push_service_is_refused(push_services, passenger, settings, endpoint):
    settings.WEBPUSH_ENDPOINT_HOSTS = ["fcm.googleapis.com", "127.0.0.1"]
    subscription = {**BrowserSubscription(push_services.webpush).as_json(), "endpoint": endpoint}
    response = api_client_for(passenger).post(DEVICES, {"kind": "webpush", "subscription": subscription}, format="json")
    assert response.status_code == 400
    assert "endpoint" in response.json()["errors"]["subscription"]
    assert not Device.objects.exists()


@pytest.mark.parametrize("endpoint", [
    "https://10.0.0.8/internal", "https://169.254.169.254/latest/meta-data", "https://[::1]/x",
    "https://[::ffff:127.0.0.1]/x", "https://2130706433/x", "https://192.168.1.1/x", "https://224.0.0.1/x",
])
def test_with_any_host_allowed_an_internal_address_is_still_refused(push_services, passenger, settings, endpoint):
    settings.WEBPUSH_ENDPOINT_HOSTS = ["*"]
    subscription = {**BrowserSubscription(push_services.webpush).as_json(), "endpoint": endpoint}
    response = api_client_for(passenger).post(DEVICES, {"kind": "webpush", "subscription": subscription}, format="json")
    assert response.status_code == 400, response.json()
    assert "endpoint" in response.json()["errors"]["subscription"]
    assert not Device.objects.exists()


def test_an_endpoint_is_stored_in_the_normal_form_it_is_sent_to(push_services, passenger, settings):
    settings.WEBPUSH_ENDPOINT_HOSTS = ["fcm.googleapis.com"]
    subscription = {**BrowserSubscription(push_services.webpush).as_json(),
                    "endpoint": "https://FCM.googleapis.com.:443/fcm/send/AbC?x=1"}
    response = api_client_for(passenger).post(DEVICES, {"kind": "webpush", "subscription": subscription}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["endpoint"] == Device.objects.get().address == "https://fcm.googleapis.com/fcm/send/AbC?x=1"


def test_known_push_services_are_accepted_by_default(settings):
    from realtime.push.webpush import endpoint_allowed

    settings.WEBPUSH_ENDPOINT_HOSTS = settings.WEBPUSH_ENDPOINT_HOSTS  # the defaults
    for endpoint in ("https://fcm.googleapis.com/fcm/send/x", "https://updates.push.services.mozilla.com/wpush/v2/x",
                     "https://wns2-par02p.notify.windows.com/w/?token=x", "https://web.push.apple.com/QGx"):
        assert endpoint_allowed(endpoint), endpoint
    assert not endpoint_allowed("https://evil.example.com/fcm.googleapis.com")
    assert not endpoint_allowed("https://notfcm.googleapis.com.evil.com/x")


@pytest.mark.parametrize("keys", [{"p256dh": "AAAA", "auth": "AAAAAAAAAAAAAAAAAAAAAA"}, {"p256dh": None, "auth": "x"}])
def test_subscription_keys_must_be_a_p256_point_and_a_16_byte_secret(push_services, passenger, keys):
    subscription = {**BrowserSubscription(push_services.webpush).as_json(), "keys": keys}
    response = api_client_for(passenger).post(DEVICES, {"kind": "webpush", "subscription": subscription}, format="json")
    assert response.status_code == 400 and "keys" in response.json()["errors"]["subscription"]


def test_without_credentials_registering_and_the_key_are_push_not_configured(document, settings, passenger):
    settings.WEBPUSH_VAPID_PRIVATE_KEY = ""
    settings.FCM_CREDENTIALS_FILE = ""
    client = api_client_for(passenger)
    subscription = {"endpoint": "https://fcm.googleapis.com/fcm/send/x",
                    "keys": {"p256dh": "B" + "A" * 86, "auth": "A" * 22}}
    for body in ({"kind": "webpush", "subscription": subscription}, {"kind": "fcm", "token": "t"}):
        answer = post(document, client, body, 503)
        assert answer["code"] == "push_not_configured"
    key = client.get(f"{DEVICES}vapid-public-key/")
    assert key.status_code == 503 and key.json()["code"] == "push_not_configured"


def test_the_vapid_public_key_is_served_to_users(document, push_services, passenger):
    assert api_client_for(None).get(f"{DEVICES}vapid-public-key/").status_code == 401
    response = api_client_for(passenger).get(f"{DEVICES}vapid-public-key/")
    assert_documented(document, "get", f"{DEVICES}vapid-public-key/", response)
    assert response.json() == {"public_key": push_services.vapid_public_key}


def test_removing_a_device_is_for_its_user_only(document, push_services, passenger):
    mine = post(document, api_client_for(passenger), {"kind": "fcm", "token": "mine"}, 201)
    stranger = api_client_for(UserFactory())

    for other in (stranger.delete(f"{DEVICES}{mine['id']}/"), stranger.delete(f"{DEVICES}not-a-uuid/")):
        assert other.status_code == 404 and other.json()["code"] == "device_not_found"
    removed = api_client_for(passenger).delete(f"{DEVICES}{mine['id']}/")

    assert_documented(document, "delete", f"{DEVICES}{mine['id']}/", removed)
    assert removed.json() == {"id": mine["id"], "deleted": True}
    assert not Device.objects.exists()
    assert api_client_for(passenger).delete(f"{DEVICES}{mine['id']}/").status_code == 404


def test_a_user_keeps_the_most_recently_registered_devices(push_services, passenger, settings):
    settings.PUSH_MAX_DEVICES_PER_USER = 2
    client = api_client_for(passenger)
    for token in ("old-phone", "tablet", "new-phone"):
        client.post(DEVICES, {"kind": "fcm", "token": token}, format="json")
    assert sorted(Device.objects.values_list("address", flat=True)) == ["new-phone", "tablet"]


def test_the_settings_check_names_a_public_key_that_is_not_the_private_keys(push_services, settings):
    from realtime.push.webpush import check_vapid_settings

    assert check_vapid_settings() == []
    settings.WEBPUSH_VAPID_PUBLIC_KEY = public_key_of(push_services_other_private_key())
    settings.WEBPUSH_VAPID_SUBJECT = "ops@example.cm"
    assert {problem.id for problem in check_vapid_settings()} == {"push.E002", "push.E003"}
    settings.WEBPUSH_VAPID_PRIVATE_KEY = "not a key"
    assert [problem.id for problem in check_vapid_settings()] == ["push.E001"]
    assert all(isinstance(problem, checks.Error) for problem in check_vapid_settings())


def push_services_other_private_key():
    from realtime.push.management.commands.generate_vapid_keys import new_key_pair

    return new_key_pair()[0]


def test_a_registration_retried_with_its_idempotency_key_replays_the_first_answer(push_services, passenger):
    client = api_client_for(passenger)
    body = {"kind": "fcm", "token": "phone-on-a-bad-network"}
    first = client.post(DEVICES, body, format="json", HTTP_IDEMPOTENCY_KEY="register-phone-1")
    retry = client.post(DEVICES, body, format="json", HTTP_IDEMPOTENCY_KEY="register-phone-1")
    assert (first.status_code, retry.status_code) == (201, 201) and first.json() == retry.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    other = client.post(DEVICES, {"kind": "fcm", "token": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="register-phone-1")
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
