"""Every OpenAPI operation is documented for a reader: a summary, its request and response bodies,
and each error status with the `Error` schema and the codes this operation can answer with."""

import re

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from rideshare.kernel.schema import ERROR_CODES
from rideshare.tests.factories import UserFactory, access_token_for

ERROR_REF = {"$ref": "#/components/schemas/Error"}
CODE = re.compile(r"`([a-z_]+)`")


@pytest.fixture(scope="module")
def document():
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(document):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def codes(response):
    """The error codes a response's description lists (each written `code`, and known)."""
    return {code for code in CODE.findall(response["description"]) if code in ERROR_CODES}


def test_there_are_operations(document):
    assert len(list(operations(document))) >= 20


def test_every_operation_has_a_summary(document):
    missing = [name for name, operation in operations(document) if not operation.get("summary", "").strip()]
    assert missing == []


def test_every_operation_documents_a_success_body(document):
    for name, operation in operations(document):
        success = [status for status in operation["responses"] if status.startswith("2")]
        assert success, name
        for status in success:
            assert operation["responses"][status]["content"]["application/json"]["schema"], name


def test_every_post_with_a_body_documents_it(document):
    for name, operation in operations(document):
        if "requestBody" in operation:
            assert operation["requestBody"]["content"]["application/json"]["schema"], name


def test_every_operation_requiring_a_token_documents_401_with_the_error_schema(document):
    requiring = [(name, op) for name, op in operations(document) if any("jwtAuth" in s for s in op.get("security", []))]
    assert len(requiring) >= 15
    for name, operation in requiring:
        unauthorized = operation["responses"].get("401")
        assert unauthorized, f"{name} does not document 401"
        assert unauthorized["content"]["application/json"]["schema"] == ERROR_REF, name
        assert {"not_authenticated", "token_not_valid"} <= codes(unauthorized), name


def test_every_error_response_uses_the_error_schema_and_lists_codes_of_its_status(document):
    for name, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            assert response["content"]["application/json"]["schema"] == ERROR_REF, f"{name} {status}"
            listed = codes(response)
            assert listed, f"{name} {status} lists no code: {response['description']!r}"
            assert {ERROR_CODES[code][0] for code in listed} == {int(status)}, f"{name} {status}: {listed}"


def operation(document, method, path):
    return document["paths"][path][method]


@pytest.mark.parametrize(
    "method, path, status, expected",
    [
        ("post", "/api/v1/rides/{ride_id}/accept/", "409", {"invalid_transition", "driver_busy", "driver_offline"}),
        ("post", "/api/v1/rides/{ride_id}/accept/", "403", {"not_a_driver", "wrong_vehicle_type", "own_ride"}),
        ("post", "/api/v1/rides/{ride_id}/accept/", "404", {"ride_not_found"}),
        ("post", "/api/v1/rides/{ride_id}/start/", "403", {"not_ride_driver"}),
        ("post", "/api/v1/rides/", "409", {"active_ride_exists"}),
        ("post", "/api/v1/rides/", "400", {"validation_error", "trip_too_long", "outside_service_area"}),
        ("post", "/api/v1/rides/", "429", {"throttled"}),
        ("post", "/api/v1/auth/token/", "401", {"no_active_account"}),
        ("get", "/api/v1/ws/stats/", "403", {"permission_denied"}),
    ],
)
def test_an_operation_lists_the_codes_it_can_answer_with(document, method, path, status, expected):
    assert expected <= codes(operation(document, method, path)["responses"][status])


def test_codes_an_operation_cannot_answer_are_not_listed(document):
    start = operation(document, "post", "/api/v1/rides/{ride_id}/start/")["responses"]["409"]
    assert "driver_busy" not in codes(start) and "invalid_transition" in codes(start)
    assert "409" not in operation(document, "get", "/api/v1/rides/{ride_id}/")["responses"]


def test_the_401_codes_listed_are_the_ones_a_token_check_answers(document, db):
    user = UserFactory()
    token = access_token_for(user)
    headers = [None, "Bearer not-a-token", f"Bearer {token} extra"]
    answered = {me(header).json()["code"] for header in headers}
    user.is_active = False
    user.save()
    answered.add(me(f"Bearer {token}").json()["code"])
    assert answered == codes(operation(document, "get", "/api/v1/auth/me/")["responses"]["401"])


def me(authorization):
    client = APIClient()
    if authorization:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    response = client.get("/api/v1/auth/me/")
    assert response.status_code == 401
    return response


def test_operations_are_grouped_by_area(document):
    tags = {name: operation["tags"] for name, operation in operations(document)}
    assert tags["POST /api/v1/rides/{ride_id}/accept/"] == ["rides"]
    assert tags["POST /api/v1/auth/token/"] == ["auth"]
    assert {tag for names in tags.values() for tag in names} == {"auth", "devices", "drivers", "rides", "ws"}
