"""manage.py generate_vapid_keys and send_push."""

import io
import os
import time

import pytest
from django.core.management import CommandError, call_command

from realtime.presence import shared_presence
from realtime.push import devices
from realtime.push.models import PushDelivery
from realtime.push.webpush import check_vapid_settings, public_key_of
from rides import services as ride_services
from rides.models import RideStatus
from rideshare.tests.factories import ride_in_status

pytestmark = pytest.mark.django_db


def test_generate_vapid_keys_prints_a_pair_the_settings_check_accepts(settings):
    out = io.StringIO()
    call_command("generate_vapid_keys", "--subject", "mailto:ops@moto.cm", stdout=out)

    lines = dict(line.split("=", 1) for line in out.getvalue().splitlines())
    assert set(lines) == {"WEBPUSH_VAPID_PRIVATE_KEY", "WEBPUSH_VAPID_PUBLIC_KEY", "WEBPUSH_VAPID_SUBJECT"}
    assert public_key_of(lines["WEBPUSH_VAPID_PRIVATE_KEY"]) == lines["WEBPUSH_VAPID_PUBLIC_KEY"]
    for name, value in lines.items():
        setattr(settings, name, value)
    assert check_vapid_settings() == []


def test_send_push_needs_shared_presence(settings):
    settings.REDIS_URL = ""
    with pytest.raises(CommandError, match="needs REDIS_URL"):
        call_command("send_push", "--once")


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (set REDIS_URL); runs in CI's second pass")
def test_send_push_skips_users_connected_to_any_server_process(push_services):
    ride = ride_in_status(RideStatus.ACCEPTED)
    driver = ride.driver
    passenger_phone = devices.register_device(user=ride.passenger, kind="fcm", address="passenger-phone")[0]
    devices.register_device(user=driver.user, kind="fcm", address="driver-phone")
    # The driver's app has a socket open on some server process.
    shared_presence.add([("specific.abc!driver", driver.user.pk, True, time.time())], [], "another-server")

    ride_services.mark_arrived(ride_id=ride.pk, user=driver.user)  # to the passenger and the driver
    out = io.StringIO()
    call_command("send_push", "--once", stdout=out)

    assert "1 sent, 1 not needed (socket open)" in out.getvalue()
    (sent,) = push_services.fcm.wait_for(1)
    assert sent.json()["message"]["token"] == passenger_phone.address
    assert not PushDelivery.objects.exists()


def test_send_push_loops_until_its_iterations_are_done(push_services, settings, loop_clock):
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"  # only checked, never used: nothing is due
    out = io.StringIO()
    call_command("send_push", "--iterations", "3", "--interval", "2s", stdout=out)
    assert "every 2s" in out.getvalue() and loop_clock.sleeps == [2.0, 2.0]
