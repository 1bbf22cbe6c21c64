"""A refresh token is used once: of the requests that send it, however close together, one is
answered with new tokens and the others 401 `token_not_valid` (issue 20, item 4)."""

import pytest
from django.db import DatabaseError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import BlacklistMixin, RefreshToken, Token

from rideshare.tests.factories import PASSWORD, UserFactory, api_client_for

TOKEN = "/api/v1/auth/token/"
REFRESH = "/api/v1/auth/token/refresh/"


def login(user):
    response = api_client_for(None).post(TOKEN, {"phone_number": user.phone_number, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    return response.data


def refresh(token):
    return api_client_for(None).post(REFRESH, {"refresh": token}, format="json")


def assert_token_not_valid(response):
    assert response.status_code == 401, response.content
    assert response.data["code"] == "token_not_valid"
    assert set(response.data) == {"detail", "code"}


@pytest.fixture
def blacklist_read_before_the_other_request_wrote(monkeypatch):
    """The race's window, made to last: every request reads the token as not blacklisted yet, as
    concurrent requests do when each reads it before any of them has written."""
    monkeypatch.setattr(BlacklistMixin, "verify", Token.verify)  # the read without its blacklist check


def test_a_token_rotated_while_this_request_checked_it_is_refused(db, monkeypatch, blacklist_read_before_the_other_request_wrote):
    first = login(UserFactory())["refresh"]
    winner = refresh(first)
    assert winner.status_code == 200, winner.content
    outstanding = OutstandingToken.objects.count()

    raced = refresh(first)

    assert_token_not_valid(raced)
    assert OutstandingToken.objects.count() == outstanding  # no second token was issued
    monkeypatch.undo()
    assert raced.data == refresh(first).data  # the answer a later reuse gets


def test_a_rotation_that_fails_leaves_the_token_usable(db, monkeypatch):
    """Blacklisting the old token and recording the new one are one transaction: a failure in
    between does not burn the token the app still holds."""
    first = login(UserFactory())["refresh"]

    def outstand_fails(token):
        raise DatabaseError("the database went away")

    with monkeypatch.context() as patch:
        patch.setattr(RefreshToken, "outstand", outstand_fails)
        with pytest.raises(DatabaseError):
            refresh(first)

    assert not BlacklistedToken.objects.filter(token__jti=RefreshToken(first, verify=False)["jti"]).exists()
    retried = refresh(first)
    assert retried.status_code == 200, retried.content
    assert_token_not_valid(refresh(first))
