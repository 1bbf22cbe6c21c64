"""Operator endpoints: liveness, readiness with the failing part named, metrics access."""

import json
import logging

import pytest
from django.test import Client

from rideshare.kernel.logs import ContextAndRedactionFilter, JsonFormatter, bind, log_context, redact
from rideshare.tests.factories import UserFactory, access_token_for

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_touching_dependencies():
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_the_database_and_the_channel_layer():
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_names_the_channel_layer_when_it_is_down(settings):
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                    "CONFIG": {"hosts": [{"address": "redis://127.0.0.1:1/0", "socket_connect_timeout": 0.2}]}}
    }
    settings.READINESS_TIMEOUT_SECONDS = 1
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "failing": ["channel_layer"]}


def test_readyz_names_the_database_when_it_is_down(monkeypatch):
    from rideshare import health

    def broken():
        raise RuntimeError("database is away")

    monkeypatch.setattr(health, "_database_ok", broken)
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["database"]


def test_metrics_are_served_to_the_allowed_network():
    response = Client(REMOTE_ADDR="127.0.0.1").get("/metrics")
    assert response.status_code == 200
    body = response.content.decode()
    for name in ("rideshare_ws_open_connections", "rideshare_ws_events_sent_total",
                 "rideshare_event_commit_to_send_seconds_bucket"):
        assert name in body


def test_metrics_are_refused_to_other_networks_unless_staff(settings):
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    outsider = Client(REMOTE_ADDR="192.0.2.7")
    assert outsider.get("/metrics").status_code == 403
    user = UserFactory()
    assert outsider.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {access_token_for(user)}").status_code == 403
    staff = UserFactory(is_staff=True)
    assert outsider.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {access_token_for(staff)}").status_code == 200


# --- logs --------------------------------------------------------------------------------------------


def _record(message, *args, exc_info=None):
    return logging.LogRecord("rideshare.test", logging.INFO, __file__, 1, message, args, exc_info)


def test_tokens_are_redacted_from_query_strings_headers_and_bare_jwts():
    token = access_token_for(UserFactory())
    line = f'GET /api/v1/ws/connect?token={token}&last_event_id=4 Authorization: Bearer {token} raw {token}'
    redacted = redact(line)
    assert token not in redacted
    assert "last_event_id=4" in redacted
    assert redacted.count("[redacted]") == 3


def test_the_log_filter_redacts_arguments_and_adds_the_bound_context():
    token = access_token_for(UserFactory())
    reset = log_context.set({})
    try:
        bind(user_id="u-1", ride_id="r-1")
        record = _record("connect %s", f"/ws?token={token}")
        assert ContextAndRedactionFilter().filter(record)
        line = json.loads(JsonFormatter().format(record))
    finally:
        log_context.reset(reset)
    assert token not in json.dumps(line)
    assert line["message"] == "connect /ws?token=[redacted]"
    assert (line["user_id"], line["ride_id"], line["level"], line["logger"]) == ("u-1", "r-1", "INFO", "rideshare.test")
    assert line["time"].endswith("Z")


@pytest.mark.parametrize("forwarded_for", ["127.0.0.1", "127.0.0.1, 203.0.113.9", "::1,203.0.113.9"])
def test_a_forged_forwarded_for_through_the_local_proxy_does_not_open_metrics(forwarded_for):
    """Behind nginx on the same host the peer is 127.0.0.1 and nginx appends the real client:
    a client-written `X-Forwarded-For: 127.0.0.1` ends up on the left, and is not believed."""
    through_proxy = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=f"{forwarded_for}, 198.51.100.4")
    assert through_proxy.get("/metrics").status_code == 403


def test_a_scraper_on_the_proxy_host_reads_metrics_through_it():
    assert Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="127.0.0.1").get("/metrics").status_code == 200


def test_forwarded_for_from_an_untrusted_peer_is_ignored(settings):
    settings.METRICS_ALLOWED_NETWORKS = ["192.0.2.0/24"]
    direct = Client(REMOTE_ADDR="192.0.2.7", HTTP_X_FORWARDED_FOR="198.51.100.4")
    assert direct.get("/metrics").status_code == 200
