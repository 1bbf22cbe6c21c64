"""Under ASGI an API request never waits for a thread before its view: the hooks of the
middleware that do no I/O run on the event loop, and the browser session's middleware (sessions,
CSRF, the session's user, messages) run only for SESSION_PATHS (the admin, /metrics). Responses
keep what those middleware add: security headers, the language, {detail, code} errors."""

import asyncio

import pytest
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.middleware import clickjacking, common, csrf, locale, security
from django.test import AsyncClient

from rideshare.kernel.middleware import check_protective_middleware

pytestmark = pytest.mark.django_db(transaction=True)

IN_LOOP_HOOKS = [
    (security.SecurityMiddleware, "process_request"), (security.SecurityMiddleware, "process_response"),
    (locale.LocaleMiddleware, "process_request"), (locale.LocaleMiddleware, "process_response"),
    (common.CommonMiddleware, "process_request"), (common.CommonMiddleware, "process_response"),
    (clickjacking.XFrameOptionsMiddleware, "process_response"),
]
SESSION_HOOKS = [
    (sessions.SessionMiddleware, "process_request"), (auth.AuthenticationMiddleware, "process_request"),
    (messages.MessageMiddleware, "process_request"), (csrf.CsrfViewMiddleware, "process_view"),
]


def on_the_loop():
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@pytest.fixture
def hooks_seen(monkeypatch):
    """{(class name, hook): [ran on the event loop?, ...]} for the hooks above."""
    seen = {}
    for cls, name in IN_LOOP_HOOKS + SESSION_HOOKS:
        original = getattr(cls, name)

        def recording(self, *args, original=original, name=name):
            # By the instance's class: Django's 404 page checks CSRF through a subclass of its own.
            seen.setdefault((type(self).__name__, name), []).append(on_the_loop())
            return original(self, *args)

        monkeypatch.setattr(cls, name, recording)
    return seen


async def test_an_api_request_runs_its_middleware_on_the_event_loop(async_client, hooks_seen, passenger):
    response = await async_client.get("/api/v1/rides/not-a-ride/", headers={"Accept-Language": "fr"})

    assert response.status_code in (401, 404) and response.json()["code"]
    assert response["Content-Language"] == "fr"
    assert response["X-Content-Type-Options"] == "nosniff" and response["X-Frame-Options"] == "DENY"
    assert "Set-Cookie" not in response
    ran = {key: where for key, where in hooks_seen.items()}
    assert set(ran) == {(cls.__name__, name) for cls, name in IN_LOOP_HOOKS}, "a session hook ran for /api/"
    assert all(all(where) for where in ran.values()), f"a hook ran in a thread: {ran}"


async def test_healthz_and_a_missing_path_need_no_session_either(async_client, hooks_seen):
    assert (await async_client.get("/healthz")).status_code == 200
    missing = await async_client.get("/api/v1/no-such-thing/")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not found.", "code": "not_found"}
    assert not {key for key in hooks_seen if key[0] in {cls.__name__ for cls, _ in SESSION_HOOKS}}


async def test_the_admin_keeps_its_session_and_csrf(hooks_seen):
    browser = AsyncClient(enforce_csrf_checks=True)
    login = await browser.get("/admin/login/")

    assert login.status_code == 200 and "csrftoken" in login.cookies
    refused = await browser.post("/admin/login/", {"username": "x", "password": "y"})
    assert refused.status_code == 403  # no CSRF token: Django's protection still holds
    for cls, name in SESSION_HOOKS:
        assert hooks_seen.get((cls.__name__, name)), f"{cls.__name__}.{name} did not run for the admin"


def test_the_deploy_check_finds_the_protections_as_subclasses(settings):
    assert check_protective_middleware() == []  # as configured
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if not m.endswith((".SecurityMiddleware",
                                                                            ".CsrfViewMiddleware"))]
    assert [warning.id for warning in check_protective_middleware()] == ["rideshare.W001", "rideshare.W003"]
