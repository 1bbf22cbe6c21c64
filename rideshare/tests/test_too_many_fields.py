"""More query parameters than DATA_UPLOAD_MAX_NUMBER_FIELDS (1,000): 400 `bad_request` in the
`{detail, code}` shape, with DEBUG on as with it off (on, DRF and Django's debug page read the
parameters again, failed again, and the answer was a 500)."""

import logging

import pytest

from rideshare.tests.factories import DriverFactory, UserFactory, api_client_for

MANY = "&".join(f"p{i}=1" for i in range(2013))


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("method, path, who", [
    ("get", "/api/v1/ws/stats", "staff"),
    ("get", "/api/v1/rides/", "passenger"),
    ("post", "/api/v1/auth/token/", None),
    ("post", "/api/v1/drivers/me/location/", "driver"),
    ("get", "/api/v1/ws/asyncapi.json", None),
])
def test_too_many_query_parameters_are_a_400_with_debug_on_or_off(settings, caplog, debug, method, path, who):
    settings.DEBUG = debug
    user = {"staff": lambda: UserFactory(is_staff=True), "passenger": UserFactory,
            "driver": lambda: DriverFactory().user, None: lambda: None}[who]()
    client = api_client_for(user)
    body = {"latitude": 3.848, "longitude": 11.502} if method == "post" else None

    response = getattr(client, method)(f"{path}?{MANY}", body, format="json")

    assert response.status_code == 400
    assert response.json() == {"detail": "Bad request.", "code": "bad_request"}
    security = [r for r in caplog.records if r.name == "django.security.TooManyFieldsSent"]
    assert len(security) == 1 and not security[0].exc_info  # one line, no traceback per request
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]


@pytest.mark.django_db
def test_the_answer_is_in_the_requests_language(settings):
    settings.DEBUG = True
    response = api_client_for(UserFactory()).get(f"/api/v1/rides/?{MANY}", HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 400
    assert response.json() == {"detail": "Requête invalide.", "code": "bad_request"}
