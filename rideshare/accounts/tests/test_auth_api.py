"""Registration, JWT login and refresh (rotating), and /auth/me/."""

import pytest

from drivers.models import Driver
from rideshare.accounts.models import User
from rideshare.tests.factories import PASSWORD, DriverFactory, UserFactory, api_client_for

REGISTER = "/api/v1/auth/register/"
TOKEN = "/api/v1/auth/token/"
REFRESH = "/api/v1/auth/token/refresh/"
ME = "/api/v1/auth/me/"
NEW_PASSWORD = "mango-tree-2026"


def register(**body):
    payload = {"phone_number": "6 71 23 45 67", "password": NEW_PASSWORD, "full_name": "Awa Ngono", **body}
    return api_client_for(None).post(REGISTER, payload, format="json")


# --- Registration ----------------------------------------------------------------------------


def test_passenger_registers_with_a_local_number(db):
    response = register()

    assert response.status_code == 201, response.data
    assert response.data["phone_number"] == "+237671234567"
    assert response.data["full_name"] == "Awa Ngono"
    assert response.data["is_driver"] is False
    assert response.data["driver"] is None
    assert "password" not in response.data
    user = User.objects.get(pk=response.data["user_id"])
    assert user.phone_number == "+237671234567"
    assert user.check_password(NEW_PASSWORD)
    assert user.password != NEW_PASSWORD


def test_driver_registers_with_a_vehicle(db):
    response = register(driver={"vehicle_type": "car", "vehicle_plate": "lt 123 ab", "vehicle_color": "Yellow"})

    assert response.status_code == 201, response.data
    assert response.data["is_driver"] is True
    assert response.data["driver"]["vehicle_type"] == "car"
    driver = Driver.objects.get(pk=response.data["user_id"])
    assert (driver.vehicle_type, driver.vehicle_plate, driver.vehicle_color) == ("car", "LT 123 AB", "Yellow")
    assert driver.is_online is False
    assert driver.latitude is None


def test_registration_cannot_mass_assign_privileges(db):
    response = register(
        is_staff=True,
        is_superuser=True,
        is_active=False,
        user_id="00000000-0000-0000-0000-000000000001",
        id="00000000-0000-0000-0000-000000000001",
        date_joined="2000-01-01T00:00:00Z",
        driver={
            "vehicle_type": "moto",
            "vehicle_plate": "CE-1",
            "vehicle_color": "Red",
            "rating": 5.0,
            "is_online": True,
            "latitude": 3.8,
            "longitude": 11.5,
        },
    )
    assert response.status_code == 201, response.data
    user = User.objects.get(phone_number="+237671234567")
    assert (user.is_staff, user.is_superuser, user.is_active) == (False, False, True)
    assert str(user.pk) != "00000000-0000-0000-0000-000000000001"
    assert user.date_joined.year > 2000
    driver = user.driver
    assert (float(driver.rating), driver.is_online, driver.latitude, driver.longitude) == (5.0, False, None, None)


def test_registered_number_cannot_register_again_in_another_format(db):
    assert register().status_code == 201
    response = register(phone_number="+237 671 234 567", full_name="Impostor")
    assert response.status_code == 400
    assert response.data["code"] == "validation_error"
    assert list(response.data["errors"]) == ["phone_number"]
    assert User.objects.count() == 1


def test_number_taken_between_validation_and_insert_is_still_a_400(db, monkeypatch):
    # What a concurrent registration of the same number looks like to the slower request
    # (tested for real on PostgreSQL in test_registration_race.py).
    from rideshare.accounts.serializers import RegisterSerializer

    assert register().status_code == 201
    monkeypatch.setattr(RegisterSerializer, "validate_phone_number", lambda self, value: value)
    response = register(full_name="Twin")
    assert response.status_code == 400
    assert response.data["code"] == "validation_error"
    assert response.data["errors"] == {"phone_number": ["This phone number is already registered."]}
    assert response.data["errors"]["phone_number"][0].code == "phone_number_taken"
    assert User.objects.count() == 1


@pytest.mark.parametrize(
    "body, field",
    [
        ({"phone_number": "12345"}, "phone_number"),
        ({"phone_number": ""}, "phone_number"),
        ({"phone_number": None}, "phone_number"),
        ({"password": "short"}, "password"),
        ({"password": "12345678901"}, "password"),  # entirely numeric
        ({"password": "password123"}, "password"),  # too common
        ({"full_name": ""}, "full_name"),
        ({"full_name": "x" * 151}, "full_name"),
        ({"driver": {"vehicle_type": "bus", "vehicle_plate": "A", "vehicle_color": "Red"}}, "driver"),
        ({"driver": {"vehicle_type": "moto", "vehicle_color": "Red"}}, "driver"),
        ({"driver": "yes"}, "driver"),
    ],
)
def test_invalid_registration_is_a_400_naming_the_field(body, field, db):
    response = register(**body)
    assert response.status_code == 400
    assert response.data["code"] == "validation_error"
    assert list(response.data["errors"]) == [field]
    assert response.data["detail"].startswith(f"{field}: ")
    assert not User.objects.exists()


@pytest.mark.parametrize("missing", ["phone_number", "password", "full_name"])
def test_registration_needs_phone_password_and_name(missing, db):
    payload = {"phone_number": "671234567", "password": NEW_PASSWORD, "full_name": "Awa"}
    del payload[missing]
    response = api_client_for(None).post(REGISTER, payload, format="json")
    assert response.status_code == 400
    assert list(response.data["errors"]) == [missing]


def test_failed_driver_registration_creates_no_user(db):
    response = register(driver={"vehicle_type": "moto", "vehicle_plate": "P" * 21, "vehicle_color": "Red"})
    assert response.status_code == 400
    assert not User.objects.exists()


# --- Tokens ----------------------------------------------------------------------------------


def test_login_with_any_accepted_format_returns_access_and_refresh(db):
    user = UserFactory(phone_number="+237671234567")
    for typed in ["6 71 23 45 67", "+237671234567", "00237 671234567"]:
        response = api_client_for(None).post(TOKEN, {"phone_number": typed, "password": PASSWORD}, format="json")
        assert response.status_code == 200, (typed, response.data)
        assert set(response.data) == {"access", "refresh"}

    client = api_client_for(None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.data['access']}")
    me = client.get(ME)
    assert me.status_code == 200
    assert me.data["user_id"] == str(user.pk)


@pytest.mark.parametrize(
    "phone, password",
    [("671234567", "wrong-password"), ("699999999", PASSWORD), ("not a number", PASSWORD), ("", PASSWORD)],
)
def test_bad_credentials_are_refused(phone, password, db):
    UserFactory(phone_number="+237671234567")
    response = api_client_for(None).post(TOKEN, {"phone_number": phone, "password": password}, format="json")
    assert response.status_code in (400, 401)
    assert "access" not in response.data
    assert isinstance(response.data["detail"], str)
    assert response.data["code"]


def test_wrong_password_is_401(db):
    UserFactory(phone_number="+237671234567")
    response = api_client_for(None).post(
        TOKEN, {"phone_number": "671234567", "password": "wrong-password"}, format="json"
    )
    assert response.status_code == 401
    assert response.data["code"] == "no_active_account"


def test_inactive_user_cannot_log_in(db):
    UserFactory(phone_number="+237671234567", is_active=False)
    response = api_client_for(None).post(TOKEN, {"phone_number": "671234567", "password": PASSWORD}, format="json")
    assert response.status_code == 401


def test_refresh_rotates_the_refresh_token(db):
    UserFactory(phone_number="+237671234567")
    tokens = api_client_for(None).post(TOKEN, {"phone_number": "671234567", "password": PASSWORD}, format="json").data

    response = api_client_for(None).post(REFRESH, {"refresh": tokens["refresh"]}, format="json")

    assert response.status_code == 200, response.data
    assert set(response.data) == {"access", "refresh"}
    assert response.data["refresh"] != tokens["refresh"]
    client = api_client_for(None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.data['access']}")
    assert client.get(ME).status_code == 200


def test_refresh_with_a_garbage_or_access_token_is_401(db):
    user = UserFactory()
    access = api_client_for(None).post(
        TOKEN, {"phone_number": user.phone_number, "password": PASSWORD}, format="json"
    ).data["access"]
    for token in ["garbage", access]:
        response = api_client_for(None).post(REFRESH, {"refresh": token}, format="json")
        assert response.status_code == 401
        assert response.data["code"] == "token_not_valid"


def test_refresh_token_cannot_be_used_as_access_token(db):
    user = UserFactory()
    refresh = api_client_for(None).post(
        TOKEN, {"phone_number": user.phone_number, "password": PASSWORD}, format="json"
    ).data["refresh"]
    client = api_client_for(None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {refresh}")
    response = client.get(ME)
    assert response.status_code == 401
    assert response.data["code"] == "token_not_valid"


# --- Me --------------------------------------------------------------------------------------


def test_me_for_a_passenger(passenger):
    response = api_client_for(passenger).get(ME)
    assert response.status_code == 200
    assert response.data["user_id"] == str(passenger.pk)
    assert response.data["phone_number"] == passenger.phone_number
    assert response.data["full_name"] == "Awa Passenger"
    assert response.data["is_driver"] is False
    assert response.data["driver"] is None
    assert "password" not in response.data


def test_me_for_a_driver_includes_the_vehicle(driver):
    response = api_client_for(driver.user).get(ME)
    assert response.status_code == 200
    assert response.data["is_driver"] is True
    assert response.data["driver"]["vehicle_plate"] == driver.vehicle_plate


def test_me_needs_authentication(db):
    response = api_client_for(None).get(ME)
    assert response.status_code == 401
    assert response.data == {
        "detail": "Authentication credentials were not provided.",
        "code": "not_authenticated",
    }
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_token_of_a_deleted_user_is_refused(db):
    user = DriverFactory().user
    client = api_client_for(user)
    user.delete()
    response = client.get(ME)
    assert response.status_code == 401


def login(user):
    return api_client_for(None).post(TOKEN, {"phone_number": user.phone_number, "password": PASSWORD}, format="json").data


def test_refresh_token_of_a_deleted_user_is_401_token_not_valid(db):
    user = UserFactory()
    refresh = login(user)["refresh"]
    user.delete()

    response = api_client_for(None).post(REFRESH, {"refresh": refresh}, format="json")

    assert response.status_code == 401, response.content
    assert response.data["code"] == "token_not_valid"
    assert isinstance(response.data["detail"], str)


def test_refresh_token_of_an_inactive_user_is_401(db):
    user = UserFactory()
    refresh = login(user)["refresh"]
    User.objects.filter(pk=user.pk).update(is_active=False)

    response = api_client_for(None).post(REFRESH, {"refresh": refresh}, format="json")

    assert response.status_code == 401
    assert response.data["code"] == "no_active_account"


def test_a_refresh_token_rotated_out_is_refused(db):
    user = UserFactory()
    first = login(user)["refresh"]
    second = api_client_for(None).post(REFRESH, {"refresh": first}, format="json")
    assert second.status_code == 200

    replayed = api_client_for(None).post(REFRESH, {"refresh": first}, format="json")

    assert replayed.status_code == 401
    assert replayed.data["code"] == "token_not_valid"
    # The token it was rotated into still works, once.
    third = api_client_for(None).post(REFRESH, {"refresh": second.data["refresh"]}, format="json")
    assert third.status_code == 200
    assert api_client_for(None).post(REFRESH, {"refresh": second.data["refresh"]}, format="json").status_code == 401
