"""What a push service can and cannot make the sender do: every send ends within
PUSH_TIMEOUT_SECONDS whatever the service does (answers a byte at a time, never answers), a slow
send holds no other back, a redirect is never followed, and a name that resolves to an internal
address is never connected to."""

import asyncio
import socket

import pytest
from aiohttp import ThreadedResolver

from realtime.push import sender
from realtime.push.endpoints import GuardedResolver
from realtime.push.models import Device, PushDelivery
from realtime.tests.helpers import db
from rides import services as ride_services
from rides.models import RideStatus
from rideshare.tests.factories import DriverFactory, ride_in_status

from .fakes import FakeService, SlowService
from .test_sender import subscribe

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def slow_services():
    services = {"trickle": SlowService("trickle", every=0.3), "hang": SlowService("hang")}
    yield services
    for service in services.values():
        service.stop()


async def ride_accepted_for_a_passenger_pushed_through(service):
    """A passenger subscribed on `service` whose app is closed; their ride is accepted (one push)."""
    ride = await db(ride_in_status)(RideStatus.REQUESTED)
    await db(subscribe)(ride.passenger, service)
    await db(ride_services.accept_ride)(ride_id=ride.pk, user=(await db(DriverFactory)()).user)
    return ride


def rows_by_error():
    return {row.last_error: row.attempts for row in PushDelivery.objects.all()}


async def test_a_send_ends_at_its_deadline_whatever_the_service_does(push_services, slow_services, settings):
    settings.PUSH_TIMEOUT_SECONDS = 1
    for service in (slow_services["trickle"], slow_services["hang"], push_services.webpush):
        await ride_accepted_for_a_passenger_pushed_through(service)

    # The trickling answer would take 45 bytes x 0.3 s = 13.5 s, and each byte resets a read timeout.
    assert await sender.run_round() == {"sent": 1, "retry": 2}

    assert len(push_services.webpush.wait_for(1)) == 1
    assert await db(rows_by_error)() == {"no answer within 1 s": 1}  # both slow ones, due again


async def test_a_send_in_flight_holds_back_no_later_push_and_is_abandoned_at_shutdown(
        push_services, slow_services, settings):
    settings.PUSH_TIMEOUT_SECONDS = 60
    await ride_accepted_for_a_passenger_pushed_through(slow_services["hang"])
    assert await sender.start_round() == 1
    await asyncio.to_thread(slow_services["hang"].wait_connected)

    await ride_accepted_for_a_passenger_pushed_through(push_services.webpush)
    assert await sender.start_round() == 1  # the next round does not wait for the hanging send

    assert len(await asyncio.to_thread(push_services.webpush.wait_for, 1)) == 1
    for _ in range(100):  # the fast send settles its own row and ends
        if len(sender.sender.in_flight) == 1 and await db(PushDelivery.objects.count)() == 1:
            break
        await asyncio.sleep(0.05)
    (hanging,) = sender.sender.in_flight
    await sender.stop(grace=0.1)
    assert hanging.cancelled()
    (row,) = await db(list)(PushDelivery.objects.all())
    assert row.attempts == 1 and row.last_error == ""  # still leased: sent again after the lease, not lost


async def test_a_redirect_is_never_followed(push_services):
    elsewhere = FakeService()
    try:
        push_services.webpush.answer_with(307, b"", headers={"Location": f"{elsewhere.url}/internal"})
        await ride_accepted_for_a_passenger_pushed_through(push_services.webpush)

        assert await sender.run_round() == {"rejected": 1}

        assert len(push_services.webpush.received) == 1 and elsewhere.received == []
        assert await db(PushDelivery.objects.count)() == 0  # a redirect will not change by trying again
    finally:
        elsewhere.stop()


async def test_a_device_registered_before_the_endpoint_rules_is_deleted_unsent(push_services, slow_services):
    inside = slow_services["hang"]
    port = int(inside.url.rsplit(":", 1)[1])

    class Service:  # as the check before issue 20 let through: urllib read fcm.googleapis.com here
        url = f"https://localhost:{port}\\@fcm.googleapis.com"

    await ride_accepted_for_a_passenger_pushed_through(Service)

    assert await sender.run_round() == {"gone": 1}
    assert not await db(Device.objects.exists)()
    assert not inside.connected.acquire(timeout=0.2)


def resolving_to(address, port):
    async def resolve(self, host, port_=0, family=socket.AF_INET):
        return [{"hostname": host, "host": address, "port": port, "family": socket.AF_INET, "proto": 0,
                 "flags": socket.AI_NUMERICHOST}]
    return resolve


async def test_a_listed_name_that_resolves_to_an_internal_address_is_never_connected_to(
        push_services, slow_services, settings, monkeypatch):
    inside = slow_services["hang"]  # anything listening on loopback: an internal service
    port = int(inside.url.rsplit(":", 1)[1])
    monkeypatch.setattr(ThreadedResolver, "resolve", resolving_to("127.0.0.1", port))
    settings.WEBPUSH_ENDPOINT_HOSTS = [".push.example"]

    class Service:
        url = "https://updates.push.example"

    await ride_accepted_for_a_passenger_pushed_through(Service)

    assert await sender.run_round() == {"rejected": 1}
    assert not inside.connected.acquire(timeout=0.2)


@pytest.mark.parametrize("listed, address, kept", [
    (["fcm.googleapis.com"], "142.250.180.10", True),
    (["fcm.googleapis.com"], "127.0.0.1", False),
    (["fcm.googleapis.com"], "10.1.2.3", False),
    (["fcm.googleapis.com"], "169.254.169.254", False),
    (["fcm.googleapis.com"], "::ffff:192.168.0.1", False),
    (["fcm.googleapis.com"], "fe80::1", False),
    (["fcm.googleapis.com", "127.0.0.1"], "127.0.0.1", True),  # the tests' push services
    (["fcm.googleapis.com", "localhost"], "::1", True),
])
async def test_the_resolver_keeps_public_addresses_and_listed_ones(settings, monkeypatch, listed, address, kept):
    settings.WEBPUSH_ENDPOINT_HOSTS = listed
    monkeypatch.setattr(ThreadedResolver, "resolve", resolving_to(address, 443))
    resolver = GuardedResolver()
    if kept:
        assert [r["host"] for r in await resolver.resolve("fcm.googleapis.com", 443)] == [address]
    else:
        with pytest.raises(OSError, match="not public"):
            await resolver.resolve("fcm.googleapis.com", 443)
