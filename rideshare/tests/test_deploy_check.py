"""Production settings pass `manage.py check --deploy` with nothing above INFO."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]


def run_manage(*args, **env_overrides):
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "JWT_SIGNING_KEY"}}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_reports_nothing_above_info_with_production_settings():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="api.example.com",
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNING" not in output and "ERROR" not in output, output


def test_production_refuses_to_start_without_a_secret_key():
    result = run_manage("check", DEBUG="false", ALLOWED_HOSTS="api.example.com")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


PROBE = """
from django.test import Client
client = Client(HTTP_HOST="api.example.com")
for path in ("/healthz", "/readyz", "/metrics", "/api/v1/auth/me/"):
    response = client.get(path)
    print(path, response.status_code, response.get("Location", "-"))
"""


def test_with_production_settings_probes_are_not_redirected_to_https_but_the_api_is(tmp_path):
    result = run_manage(
        "shell", "-c", PROBE,
        DEBUG="false", SECRET_KEY=secrets.token_urlsafe(64), ALLOWED_HOSTS="api.example.com",
        SQLITE_PATH=str(tmp_path / "probe.sqlite3"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    answers = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines() if line.startswith("/")}
    assert answers["/healthz"] == ["200", "-"]
    assert answers["/readyz"][0] in ("200", "503")  # whatever the dependencies say, not a redirect
    assert answers["/metrics"] == ["200", "-"]  # the test client's address is loopback
    assert answers["/api/v1/auth/me/"] == ["301", "https://api.example.com/api/v1/auth/me/"]
