"""Hostile request bodies on every JSON endpoint: 400/413 in the error shape, never a 500."""

import json

import pytest
from django.test import override_settings

from rideshare.kernel import bounds
from rideshare.kernel.parsers import check_structure
from rideshare.kernel.renderers import JSONRenderer
from rideshare.tests.factories import TRIP, DriverFactory, UserFactory, api_client_for

REGISTRATION = {"phone_number": "6 71 23 45 67", "password": "mango-tree-2026", "full_name": "Awa Ngono"}
ANONYMOUS = ["/api/v1/auth/token/", "/api/v1/auth/register/", "/api/v1/auth/token/refresh/"]
AUTHENTICATED = ["/api/v1/rides/", "/api/v1/rides/estimate/", "/api/v1/drivers/me/location/"]

DEEP_ARRAY = "[" * 1000 + "]" * 1000  # 2 KB
DEEP_OBJECT = '{"a":' * 1000 + "1" + "}" * 1000
# Parses (well inside Python's recursion limit) but deeper than any request of the API.
MODERATELY_DEEP = json.dumps({**TRIP, "ride_type": json.loads("[" * 200 + "]" * 200)})


def post_raw(client, path, body):
    return client.post(path, data=body, content_type="application/json")


def assert_parse_error(response):
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "parse_error"
    assert isinstance(response.json()["detail"], str)


# --- item 2: nesting ---------------------------------------------------------------------------


@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT, MODERATELY_DEEP], ids=["array", "object", "200"])
@pytest.mark.parametrize("path", ANONYMOUS)
def test_deeply_nested_json_without_a_token_is_a_400(db, path, body):
    assert_parse_error(post_raw(api_client_for(None), path, body))


@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT, MODERATELY_DEEP], ids=["array", "object", "200"])
@pytest.mark.parametrize("path", AUTHENTICATED)
def test_deeply_nested_json_with_a_token_is_a_400(db, path, body):
    driver = DriverFactory()
    assert_parse_error(post_raw(api_client_for(driver.user), path, body))


def test_deeply_nested_json_on_a_patch_is_a_400(db):
    driver = DriverFactory()
    response = api_client_for(driver.user).patch("/api/v1/drivers/me/", data=DEEP_OBJECT, content_type="application/json")
    assert_parse_error(response)


def test_nesting_up_to_the_bound_is_parsed():
    check_structure(json.loads("[" * bounds.JSON_MAX_DEPTH + "]" * bounds.JSON_MAX_DEPTH))
    with pytest.raises(Exception, match="nested deeper"):
        check_structure(json.loads("[" * (bounds.JSON_MAX_DEPTH + 1) + "]" * (bounds.JSON_MAX_DEPTH + 1)))


# --- item 3: lone surrogates -------------------------------------------------------------------

LONE = '"\\ud800"'


@pytest.mark.parametrize("path", ["/api/v1/rides/", "/api/v1/rides/estimate/"])
def test_lone_surrogate_in_ride_type_is_a_400(passenger, path):
    body = json.dumps(TRIP).replace('"moto"', LONE)
    assert_parse_error(post_raw(api_client_for(passenger), path, body))


def test_lone_surrogate_in_vehicle_type_at_registration_is_a_400(db):
    body = json.dumps({**REGISTRATION, "driver": {"vehicle_type": "X", "vehicle_plate": "LT 1", "vehicle_color": "Red"}})
    assert_parse_error(post_raw(api_client_for(None), "/api/v1/auth/register/", body.replace('"X"', LONE)))


def test_lone_surrogate_in_vehicle_type_of_the_profile_is_a_400(db):
    driver = DriverFactory()
    response = api_client_for(driver.user).patch(
        "/api/v1/drivers/me/", data='{"vehicle_type": "\\udfff"}', content_type="application/json"
    )
    assert_parse_error(response)


@pytest.mark.parametrize(
    "body",
    [
        '{"phone_number": "\\ud800", "password": "x"}',  # any field, not only choices
        '{"\\ud800": 1, "phone_number": "670000001", "password": "x"}',  # a key
        '{"phone_number": ["ok", {"deep": "\\udc00"}], "password": "x"}',  # nested
    ],
)
def test_lone_surrogate_anywhere_is_a_400(db, body):
    assert_parse_error(post_raw(api_client_for(None), "/api/v1/auth/token/", body))


def test_a_surrogate_pair_is_text_and_accepted(db):
    body = json.dumps({**REGISTRATION, "full_name": "Awa \U0001f697"})  # json.dumps escapes it as a pair
    assert "\\ud83d\\ude97" in body
    response = post_raw(api_client_for(None), "/api/v1/auth/register/", body)
    assert response.status_code == 201, response.content
    assert response.json()["full_name"] == "Awa \U0001f697"


def test_renderer_writes_a_lone_surrogate_as_an_escape_instead_of_failing():
    rendered = JSONRenderer().render({"detail": '"\ud800" is not a valid choice.', "code": "validation_error"})
    assert json.loads(rendered) == {"detail": '"\ud800" is not a valid choice.', "code": "validation_error"}
    assert JSONRenderer().render({"detail": "Yaoundé"}) == '{"detail":"Yaoundé"}'.encode()


# --- body size ---------------------------------------------------------------------------------


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
@pytest.mark.parametrize("path", ["/api/v1/auth/token/", "/api/v1/rides/"])
def test_a_json_body_over_the_upload_limit_is_a_413(db, path):
    user = UserFactory()
    body = json.dumps({**TRIP, "padding": "x" * 2000})
    response = post_raw(api_client_for(user), path, body)
    assert response.status_code == 413, response.content
    assert response.json()["code"] == "request_too_large"
    assert isinstance(response.json()["detail"], str)


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_a_form_body_over_the_upload_limit_is_a_413(db):
    response = api_client_for(None).post(
        "/api/v1/auth/token/", {"phone_number": "670000001", "password": "x" * 2000}, format="multipart"
    )
    assert response.status_code == 413, response.content
    assert response.json()["code"] == "request_too_large"


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_a_body_under_the_upload_limit_is_parsed(passenger):
    response = post_raw(api_client_for(passenger), "/api/v1/rides/estimate/", json.dumps(TRIP))
    assert response.status_code == 200, response.content


# --- every error under /api/ is JSON -----------------------------------------------------------


def assert_error_shape(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert body["code"] == code
    assert isinstance(body["detail"], str)


@pytest.mark.parametrize("path", ["/api/v1/nope/", "/api/v1/rides/x/y/z/", "/api/nothing", "/api/"])
def test_unknown_api_path_is_a_json_404(db, path):
    assert_error_shape(api_client_for(None).get(path), 404, "not_found")


def test_unknown_api_path_is_a_json_404_for_a_user_too(passenger):
    assert_error_shape(api_client_for(passenger).post("/api/v1/rides/nope/nope/", {}, format="json"), 404, "not_found")


def test_wrong_method_is_a_json_405(passenger):
    response = api_client_for(passenger).delete("/api/v1/rides/estimate/")
    assert_error_shape(response, 405, "method_not_allowed")
    assert "POST" in response["Allow"]
    assert_error_shape(api_client_for(None).put("/api/v1/auth/token/", {}, format="json"), 405, "method_not_allowed")


def test_an_unhandled_exception_under_api_is_a_json_500(passenger, monkeypatch):
    from rides import selectors

    def broken(user):
        raise RuntimeError("boom")

    monkeypatch.setattr(selectors, "rides_of", broken)
    client = api_client_for(passenger)
    client.raise_request_exception = False
    response = client.get("/api/v1/rides/")
    assert_error_shape(response, 500, "server_error")
    assert "boom" not in response.content.decode()


def test_a_body_too_large_outside_drf_is_a_json_413(rf):
    from django.core.exceptions import RequestDataTooBig
    from django.http import HttpResponseBadRequest

    from rideshare.kernel.middleware import ApiErrorMiddleware

    request = rf.post("/api/v1/anything/")
    middleware = ApiErrorMiddleware(lambda r: HttpResponseBadRequest("<h1>Bad Request (400)</h1>"))
    middleware.process_exception(request, RequestDataTooBig())
    response = middleware(request)
    assert_error_shape(response, 413, "request_too_large")


def test_the_admin_keeps_its_html_errors(db):
    response = api_client_for(None).get("/admin/nope/")
    assert response.status_code in (302, 404)
    assert not response.get("Content-Type", "").startswith("application/json")
    response = api_client_for(None).get("/not-api/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@override_settings(DEBUG=True)
def test_with_debug_on_api_errors_are_json_too(passenger, monkeypatch):
    from rides import selectors

    assert_error_shape(api_client_for(None).get("/api/v1/nope/"), 404, "not_found")
    monkeypatch.setattr(selectors, "rides_of", lambda user: 1 / 0)
    client = api_client_for(passenger)
    client.raise_request_exception = False
    assert_error_shape(client.get("/api/v1/rides/"), 500, "server_error")
