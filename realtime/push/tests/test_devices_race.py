"""One user registering many devices at the same moment (separate connections, released at once)
keeps PUSH_MAX_DEVICES_PER_USER, as one registering them one after another does."""

import threading

import pytest
from django.conf import settings
from django.db import connection

from realtime.push.models import Device
from rideshare.tests.factories import UserFactory, api_client_for

pytestmark = pytest.mark.django_db(transaction=True)

DEVICES = "/api/v1/devices/"
AT_ONCE = 20


def register_at_once(user, tokens):
    """POST devices/ once per token, each from its own thread and database connection."""
    barrier = threading.Barrier(len(tokens))
    responses = [None] * len(tokens)

    def register(index):
        try:
            connection.ensure_connection()  # connected before the start line: only the requests race
            barrier.wait(timeout=30)  # twenty connections to open first, on a busy machine too
            responses[index] = api_client_for(user).post(
                DEVICES, {"kind": "fcm", "token": tokens[index]}, format="json"
            )
        except BaseException as exc:  # noqa: BLE001 - reported by the caller's assertion
            responses[index] = exc
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=register, args=(i,)) for i in range(len(tokens))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a registration hung"
    return responses


def test_twenty_registrations_at_once_keep_the_ten_most_recent(push_services):
    assert settings.PUSH_MAX_DEVICES_PER_USER == 10
    user, neighbour = UserFactory(), UserFactory()
    api_client_for(neighbour).post(DEVICES, {"kind": "fcm", "token": "neighbours-phone"}, format="json")

    responses = register_at_once(user, [f"phone-{i}" for i in range(AT_ONCE)])

    assert [getattr(r, "status_code", r) for r in responses] == [201] * AT_ONCE
    kept = Device.objects.filter(user=user)
    assert kept.count() == 10
    # The ones kept are the last ten registered: each registration saw every one before it.
    last_ten = sorted(r.json()["id"] for r in sorted(responses, key=lambda r: r.json()["updated_at"])[-10:])
    assert sorted(str(pk) for pk in kept.values_list("pk", flat=True)) == last_ten
    assert Device.objects.filter(user=neighbour).count() == 1  # another user's devices are not counted
