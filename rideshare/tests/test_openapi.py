"""The OpenAPI document (/api/schema/) describes the responses the API really sends.

Real responses (a ride not cancelled, a cancelled one, a timeline as participant and as staff,
errors) are validated against the generated document with jsonschema. Objects are closed
(`additionalProperties: false` unless the document says otherwise) so an undocumented member
fails too; OpenAPI 3.0's `nullable` becomes JSON Schema's null type.
"""

import re

import jsonschema
import pytest

from rideshare.tests.factories import TRIP, DriverFactory, UserFactory, api_client_for, ride_in_status


@pytest.fixture(scope="module")
def document(django_db_blocker):
    with django_db_blocker.unblock():
        response = api_client_for(None).get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def to_json_schema(node):
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: to_json_schema(value) for key, value in node.items()}
    if node.get("type") == "object" and "properties" in node:
        node.setdefault("additionalProperties", False)
    if node.pop("nullable", False):
        return {"anyOf": [node, {"type": "null"}]}
    return node


def operation_for(document, method, path):
    for template, operations in document["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method in operations:
            return template, operations[method]
    raise AssertionError(f"{method.upper()} {path} is not in the document")


def assert_documented(document, method, path, response):
    template, operation = operation_for(document, method, path)
    documented = operation["responses"]
    status = str(response.status_code)
    assert status in documented, f"{method.upper()} {template}: {status} not documented ({sorted(documented)})"
    schema = documented[status]["content"]["application/json"]["schema"]
    root = {**to_json_schema(schema), "components": to_json_schema(document["components"])}
    jsonschema.Draft202012Validator(root).validate(response.json())


def call(document, client, method, path, body=None):
    response = getattr(client, method)(path, body, format="json") if body is not None else getattr(client, method)(path)
    assert_documented(document, method, path, response)
    return response


def test_a_ride_not_cancelled_matches(document, passenger):
    response = call(document, api_client_for(passenger), "post", "/api/v1/rides/", TRIP)
    assert response.status_code == 201
    assert response.json()["cancelled_by"] == ""  # what the apps read today, now documented
    call(document, api_client_for(passenger), "get", f"/api/v1/rides/{response.json()['ride_id']}/")
    call(document, api_client_for(passenger), "get", "/api/v1/rides/")


def test_an_accepted_and_a_cancelled_ride_match(document, passenger):
    ride = ride_in_status("accepted", passenger=passenger)
    assert call(document, api_client_for(passenger), "get", f"/api/v1/rides/{ride.pk}/").json()["driver"]
    cancelled = call(document, api_client_for(passenger), "post", f"/api/v1/rides/{ride.pk}/cancel/", {})
    assert cancelled.json()["cancelled_by"] == "passenger"


def test_a_timeline_as_participant_and_as_staff_matches(document, passenger):
    ride = call(document, api_client_for(passenger), "post", "/api/v1/rides/", TRIP).json()
    call(document, api_client_for(passenger), "post", f"/api/v1/rides/{ride['ride_id']}/cancel/", {"reason": "late"})

    mine = call(document, api_client_for(passenger), "get", f"/api/v1/rides/{ride['ride_id']}/events/").json()
    assert mine and all("recipients" not in event for event in mine)
    everything = call(
        document, api_client_for(UserFactory(is_staff=True)), "get", f"/api/v1/rides/{ride['ride_id']}/events/"
    ).json()
    assert everything and all("recipients" in event for event in everything)


def test_auth_responses_match(document, db):
    anonymous = api_client_for(None)
    body = {"phone_number": "6 71 23 45 67", "password": "mango-tree-2026", "full_name": "Awa Ngono"}
    call(document, anonymous, "post", "/api/v1/auth/register/", body)
    tokens = call(document, anonymous, "post", "/api/v1/auth/token/", {"phone_number": body["phone_number"],
                                                                       "password": body["password"]}).json()
    call(document, anonymous, "post", "/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]})


@pytest.mark.parametrize(
    "method, path, body, user, status, code",
    [
        ("post", "/api/v1/rides/", {**TRIP, "ride_type": "bus"}, "passenger", 400, "validation_error"),
        ("post", "/api/v1/rides/estimate/", {**TRIP, "dropoff_latitude": 4.0511, "dropoff_longitude": 9.7679},
         "passenger", 400, "trip_too_long"),
        ("post", "/api/v1/auth/register/", {"phone_number": "1", "driver": {"vehicle_type": "bus"}}, None, 400,
         "validation_error"),
        ("get", "/api/v1/rides/", None, None, 401, "not_authenticated"),
        ("post", "/api/v1/auth/token/refresh/", {"refresh": "garbage"}, None, 401, "token_not_valid"),
        ("post", "/api/v1/auth/token/", {"phone_number": "670000009", "password": "nope"}, None, 401,
         "no_active_account"),
        ("post", "/api/v1/drivers/me/online/", {}, "passenger", 403, "not_a_driver"),
        ("get", "/api/v1/ws/stats/", None, "passenger", 403, "permission_denied"),
        ("get", "/api/v1/rides/00000000-0000-0000-0000-000000000000/", None, "passenger", 404, "ride_not_found"),
        ("get", "/api/v1/rides/00000000-0000-0000-0000-000000000000/events/", None, "passenger", 404,
         "ride_not_found"),
        ("post", "/api/v1/rides/{ride}/start/", {}, "driver", 409, "invalid_transition"),
        ("post", "/api/v1/rides/", TRIP, "passenger_with_ride", 409, "active_ride_exists"),
    ],
)
def test_errors_match(document, db, method, path, body, user, status, code):
    passenger = UserFactory()
    driver = DriverFactory()
    ride = ride_in_status("accepted", passenger=passenger, driver=driver)
    users = {None: None, "passenger": UserFactory(), "driver": driver.user, "passenger_with_ride": passenger}
    response = call(document, api_client_for(users[user]), method, path.format(ride=ride.pk), body)
    assert response.status_code == status, response.content
    assert response.json()["code"] == code


def test_throttled_matches(document, passenger, settings):
    rest = settings.REST_FRAMEWORK
    settings.REST_FRAMEWORK = {**rest, "DEFAULT_THROTTLE_RATES": {**rest["DEFAULT_THROTTLE_RATES"], "ride_request": "1/min"}}
    client = api_client_for(passenger)
    call(document, client, "post", "/api/v1/rides/", TRIP)
    response = call(document, client, "post", "/api/v1/rides/", TRIP)
    assert response.status_code == 429
    _, operation = operation_for(document, "post", "/api/v1/rides/")
    assert "Retry-After" in operation["responses"]["429"]["headers"]


def test_every_operation_documents_its_errors(document):
    for template, operations in document["paths"].items():
        for method, operation in operations.items():
            statuses = {int(status) for status in operation["responses"]}
            errors = {status for status in statuses if status >= 400}
            assert errors, f"{method.upper()} {template} documents no error"
            for status in errors:
                schema = operation["responses"][str(status)]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}
            if template != "/api/v1/auth/register/":
                assert 401 in statuses, f"{method.upper()} {template}"
            if "{" in template:
                assert 404 in statuses
