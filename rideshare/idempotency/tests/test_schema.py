"""The OpenAPI document shows which operations take an `Idempotency-Key` and what it can answer."""

import re

import pytest
from drf_spectacular.generators import SchemaGenerator

CODE = re.compile(r"`([a-z_]+)`")
IDEMPOTENT = [
    "/api/v1/auth/register/",
    "/api/v1/rides/",
    "/api/v1/rides/{ride_id}/accept/",
    "/api/v1/rides/{ride_id}/arrived/",
    "/api/v1/rides/{ride_id}/start/",
    "/api/v1/rides/{ride_id}/complete/",
    "/api/v1/rides/{ride_id}/decline/",
    "/api/v1/rides/{ride_id}/cancel/",
    "/api/v1/rides/{ride_id}/rate/",
    "/api/v1/devices/",
    "/api/v1/drivers/me/online/",
    "/api/v1/drivers/me/offline/",
]


@pytest.fixture(scope="module")
def document():
    return SchemaGenerator().get_schema(request=None, public=True)


def post(document, path):
    return document["paths"][path]["post"]


def header_names(operation):
    return {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}


def codes(operation, status):
    return set(CODE.findall(operation["responses"][status]["description"]))


@pytest.mark.parametrize("path", IDEMPOTENT)
def test_each_state_changing_post_documents_the_header_and_its_errors(document, path):
    operation = post(document, path)
    assert header_names(operation) == {"Idempotency-Key"}
    assert "invalid_idempotency_key" in codes(operation, "400")
    assert codes(operation, "422") == {"idempotency_key_reused"}


def test_the_header_is_optional_and_says_how_to_use_it(document):
    (header,) = [p for p in post(document, "/api/v1/rides/")["parameters"] if p["in"] == "header"]
    assert not header.get("required", False)
    assert "replays" in header["description"] and "Idempotent-Replayed" in header["description"]


def test_reads_estimates_and_positions_take_no_key(document):
    for path in ["/api/v1/rides/estimate/", "/api/v1/drivers/me/location/", "/api/v1/auth/token/"]:
        assert header_names(post(document, path)) == set(), path
        assert "422" not in post(document, path)["responses"], path


def test_a_header_parameter_is_not_a_query_to_validate(document):
    accept = post(document, "/api/v1/rides/{ride_id}/accept/")  # no body, no query
    assert codes(accept, "400") == {"invalid_idempotency_key"}
    assert "validation_error" in codes(document["paths"]["/api/v1/rides/"]["get"], "400")  # its query is
