"""REST errors in French or English from Accept-Language (LocaleMiddleware); codes never change and
without the header every message is the English one the API always sent."""

import pytest

from rideshare.tests.factories import TRIP, DriverFactory, UserFactory, api_client_for, ride_in_status

pytestmark = pytest.mark.django_db


def answers(make_request):
    """{language: (status, code, detail)} for the same request without Accept-Language, in
    English and in French."""
    results = {}
    for language, header in (("none", None), ("en", "en-US,en;q=0.9"), ("fr", "fr-CM,fr;q=0.9,en;q=0.5")):
        extra = {} if header is None else {"HTTP_ACCEPT_LANGUAGE": header}
        response = make_request(extra)
        results[language] = (response.status_code, response.json()["code"], response.json()["detail"])
    return results


def assert_in_both_languages(results, status, code, english, french):
    assert results["none"] == results["en"] == (status, code, english)
    assert results["fr"] == (status, code, french)


def test_a_domain_error_accept_on_a_completed_ride():
    ride = ride_in_status("completed")
    driver = DriverFactory()
    results = answers(lambda extra: api_client_for(driver.user).post(f"/api/v1/rides/{ride.pk}/accept/", **extra))
    assert_in_both_languages(
        results, 409, "invalid_transition",
        "Cannot accept a ride that is completed.",
        "Vous ne pouvez pas accepter une course au statut «\u00a0terminée\u00a0».",
    )


def test_a_domain_error_with_values_a_trip_too_long():
    passenger = UserFactory()
    trip = {**TRIP, "dropoff_latitude": 5.5, "dropoff_longitude": 13.5}
    results = answers(lambda extra: api_client_for(passenger).post("/api/v1/rides/estimate/", trip, format="json",
                                                                   **extra))
    assert_in_both_languages(
        results, 400, "trip_too_long",
        "This trip is 287.7 km; the longest trip is 100 km.",
        "Ce trajet fait 287.7 km\u00a0; le trajet le plus long est de 100 km.",
    )


def test_a_validation_error_from_drf():
    passenger = UserFactory()
    results = answers(
        lambda extra: api_client_for(passenger).post("/api/v1/rides/", {**TRIP, "ride_type": "bus"}, format="json",
                                                     **extra)
    )
    assert_in_both_languages(
        results, 400, "validation_error",
        'ride_type: "bus" is not a valid choice.',
        "ride_type: «\u00a0bus\u00a0» n'est pas un choix valide.",
    )


def test_not_authenticated_from_drf():
    results = answers(lambda extra: api_client_for(None).get("/api/v1/rides/", **extra))
    assert_in_both_languages(
        results, 401, "not_authenticated",
        "Authentication credentials were not provided.",
        "Informations d'authentification non fournies.",
    )


def test_a_refused_login_from_simplejwt():
    body = {"phone_number": "+237650009999", "password": "wrong-password"}
    results = answers(lambda extra: api_client_for(None).post("/api/v1/auth/token/", body, format="json", **extra))
    assert_in_both_languages(
        results, 401, "no_active_account",
        "No active account found with the given credentials",
        "Aucun compte actif n'a été trouvé avec les identifiants fournis",
    )


def test_a_path_no_view_answers():
    results = answers(lambda extra: api_client_for(None).get("/api/v1/no-such-thing/", **extra))
    assert_in_both_languages(results, 404, "not_found", "Not found.", "Introuvable.")


def test_a_language_the_api_does_not_speak_is_english():
    ride = ride_in_status("completed")
    driver = DriverFactory()
    response = api_client_for(driver.user).post(f"/api/v1/rides/{ride.pk}/accept/", HTTP_ACCEPT_LANGUAGE="de, es")
    assert response.json()["detail"] == "Cannot accept a ride that is completed."
    assert response["Content-Language"] == "en"
