import json
from dataclasses import dataclass

import pytest

from realtime.push import fcm, sender
from realtime.push.management.commands.generate_vapid_keys import new_key_pair

# The realtime suite's per-test channel layer and server loop, for these tests too.
from realtime.tests.conftest import fresh_channel_layer_and_fast_hasher, server_loop_owns_the_sends  # noqa: F401

from .fakes import FakeService, service_account

VAPID_SUBJECT = "mailto:ops@example.cm"


@dataclass
class PushServices:
    webpush: FakeService  # a browser vendor's push service
    fcm: FakeService  # FCM's messages:send
    google: FakeService  # the OAuth2 token endpoint the service account names
    vapid_public_key: str
    account: dict  # the service account's key file
    account_public_key: object
    tokens_issued: list


@pytest.fixture
def push_services(settings, tmp_path, monkeypatch):
    """Web Push and FCM configured against fakes on loopback ports."""
    tokens_issued = []

    def issue_token(received):
        tokens_issued.append(received)
        token = f"fake-access-token-{len(tokens_issued)}"
        body = json.dumps({"access_token": token, "expires_in": 3600, "token_type": "Bearer"}).encode()
        return 200, {"Content-Type": "application/json"}, body

    webpush_service = FakeService()
    fcm_service = FakeService()
    fcm_service.answer_with(200, {"name": "projects/rideshare-test/messages/0:1"})
    google = FakeService(answer=issue_token)
    private, public = new_key_pair()
    account, account_public_key = service_account(f"{google.url}/token")
    key_file = tmp_path / "fcm-service-account.json"
    key_file.write_text(json.dumps(account))
    settings.WEBPUSH_VAPID_PRIVATE_KEY = private
    settings.WEBPUSH_VAPID_PUBLIC_KEY = public
    settings.WEBPUSH_VAPID_SUBJECT = VAPID_SUBJECT
    settings.WEBPUSH_ENDPOINT_HOSTS = ["127.0.0.1"]
    settings.FCM_CREDENTIALS_FILE = str(key_file)
    settings.FCM_PROJECT_ID = ""
    settings.FCM_ENDPOINT = fcm_service.url
    monkeypatch.setattr(fcm, "tokens", fcm.AccessTokens())
    try:
        yield PushServices(webpush_service, fcm_service, google, public, account, account_public_key, tokens_issued)
    finally:
        for service in (webpush_service, fcm_service, google):
            service.stop()


@pytest.fixture(autouse=True)
async def push_sessions_closed():
    """The sender's HTTP sessions belong to the test's event loop: closed with it."""
    yield
    await sender.sender.close()
