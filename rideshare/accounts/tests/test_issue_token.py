"""issue_token: tokens the API and the WebSocket accept, and clear failures."""

import os
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from realtime.tests.servers import REPO_ROOT, LiveDatabase
from rideshare.tests.factories import UserFactory


def valid_user(**kwargs):
    # The shared factory's numbers (+2376000...) are not valid Cameroon numbers, and issue_token
    # normalises what it is given like the login does.
    return UserFactory(phone_number="+237677123456", **kwargs)


def issue(*args):
    out = StringIO()
    call_command("issue_token", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_prints_a_bare_access_token_for_a_phone_in_local_format(client_for):
    user = UserFactory(phone_number="+237670000001")
    output = issue("6 70 00 00 01")
    token = output.strip()
    assert output == token + "\n"
    assert AccessToken(token)["user_id"] == str(user.pk)
    response = client_for().get("/api/v1/auth/me/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200 and response.data["phone_number"] == "+237670000001"


@pytest.mark.django_db
def test_lifetime_and_refresh():
    user = valid_user()
    lines = issue(user.phone_number, "--refresh", "--lifetime", "5").splitlines()
    assert [line.split(": ")[0] for line in lines] == ["access", "refresh"]
    access = AccessToken(lines[0].split(": ")[1])
    assert access["exp"] - access["iat"] == 5
    assert RefreshToken(lines[1].split(": ")[1])["user_id"] == str(user.pk)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "phone, message",
    [("+237670009999", r"No user with phone number \+237670009999\."), ("12", "valid phone number")],
)
def test_unknown_or_invalid_phone(phone, message):
    with pytest.raises(CommandError, match=message):
        issue(phone)


@pytest.mark.django_db
def test_inactive_user():
    user = valid_user(is_active=False)
    with pytest.raises(CommandError, match="deactivated"):
        issue(user.phone_number)


@pytest.mark.django_db
@pytest.mark.parametrize("lifetime", ["0", "-3", "soon"])
def test_bad_lifetime(lifetime):
    user = valid_user()
    with pytest.raises(CommandError, match="positive number of seconds"):
        issue(user.phone_number, "--lifetime", lifetime)


@pytest.mark.live
def test_shell_usage_and_exit_codes(tmp_path):
    """`TOKEN=$(python manage.py issue_token ...)` gets the token alone; an unknown user exits 1."""
    database = LiveDatabase(tmp_path)
    env = dict(os.environ, **database.env)
    try:
        database.migrate(env)

        def manage(*args):
            return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO_ROOT, env=env,
                                  capture_output=True, text=True, timeout=120)

        assert manage("seed_demo").returncode == 0
        ok = manage("issue_token", "+237670000001")
        assert ok.returncode == 0 and len(ok.stdout.split()) == 1 and ok.stdout.count(".") == 2
        missing = manage("issue_token", "+237670009999")
        assert missing.returncode == 1 and missing.stdout == ""
        assert "CommandError: No user with phone number +237670009999." in missing.stderr
    finally:
        database.drop()
