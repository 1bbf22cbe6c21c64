"""Two registrations of one number at the same moment (PostgreSQL, separate connections)."""

import threading

import pytest
from django.db import connection

from rideshare.accounts.models import User
from rideshare.tests.factories import api_client_for

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


def test_same_number_registered_twice_at_once_gives_one_201_and_one_400():
    for round_number in range(5):
        phone = f"+2376990000{round_number:02d}"
        barrier = threading.Barrier(2)
        responses = [None, None]

        def register(index):
            try:
                connection.ensure_connection()
                barrier.wait(timeout=10)
                responses[index] = api_client_for(None).post(
                    "/api/v1/auth/register/",
                    {"phone_number": phone, "password": "mango-tree-2026", "full_name": f"Twin {index}"},
                    format="json",
                )
            except BaseException as exc:  # noqa: BLE001
                responses[index] = exc
            finally:
                connection.close()

        threads = [threading.Thread(target=register, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

        assert not [r for r in responses if isinstance(r, BaseException)], responses
        assert sorted(r.status_code for r in responses) == [201, 400], (round_number, responses)
        refused = next(r for r in responses if r.status_code == 400)
        assert refused.data["code"] == "validation_error"
        assert list(refused.data["errors"]) == ["phone_number"]
        assert User.objects.filter(phone_number=phone).count() == 1
