"""`manage.py unlock_login PHONE`: an operator lifts the per-account login lockout (LOGIN_ACCOUNT,
20 attempts an hour, from any address) for its owner, who would otherwise wait up to an hour."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from rideshare.tests.factories import PASSWORD, UserFactory, api_client_for

TOKEN = "/api/v1/auth/token/"


def log_in(phone, password, address):
    return api_client_for(None).post(
        TOKEN, {"phone_number": phone, "password": password}, format="json", REMOTE_ADDR=address
    )


def unlock(*phones):
    out = StringIO()
    call_command("unlock_login", *phones, stdout=out)
    return out.getvalue()


def locked_out(phone):
    """20 wrong guesses from 20 addresses (the per-address limit is not what locks it)."""
    for n in range(20):
        assert log_in(phone, "wrong-guess", f"10.9.0.{n}").status_code == 401
    refused = log_in(phone, PASSWORD, "10.9.1.1")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 3000  # about an hour


def test_an_operator_unlocks_the_owners_account_and_the_right_password_works_at_once(db):
    owner, neighbour = UserFactory(phone_number="+237671234567"), UserFactory(phone_number="+237671234568")
    locked_out(owner.phone_number)
    locked_out(neighbour.phone_number)

    output = unlock("6 71 23 45 67")  # typed as the owner says it

    assert "+237671234567" in output and "unlocked" in output and "20 attempts" in output
    assert log_in(owner.phone_number, PASSWORD, "10.9.1.2").status_code == 200
    assert log_in(neighbour.phone_number, PASSWORD, "10.9.1.3").status_code == 429  # only the one named


def test_a_number_with_no_lockout_is_said_so_and_a_malformed_one_is_an_error(db):
    UserFactory(phone_number="+237671234569")
    assert "no login lockout for +237671234569" in unlock("+237671234569")
    with pytest.raises(CommandError, match="not a phone number"):
        unlock("12")


def test_embedded_the_command_says_it_cannot_reach_the_servers_counters(db, settings):
    settings.CACHES = {**settings.CACHES, "throttles": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "unlock-login-test",
    }}  # the embedded default's: each process's own memory
    err = StringIO()
    call_command("unlock_login", "+237671234570", stdout=StringIO(), stderr=err)
    assert "restart the server" in err.getvalue()


def test_with_a_cache_shared_by_the_processes_it_says_nothing_of_the_sort(db, settings):
    settings.CACHES = {**settings.CACHES, "throttles": {
        "BACKEND": "django.core.cache.backends.dummy.DummyCache",  # any cache shared across processes
    }}
    err = StringIO()
    call_command("unlock_login", "+237671234570", stdout=StringIO(), stderr=err)
    assert err.getvalue() == ""
