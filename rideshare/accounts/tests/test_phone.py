"""Phone numbers are stored in E.164 whatever local format was typed; the default region is CM."""

import pytest

from rideshare.accounts.models import User
from rideshare.accounts.phone import InvalidPhoneNumber, normalize_phone_number


@pytest.mark.parametrize(
    "raw",
    [
        "6 71 23 45 67",
        "671234567",
        "671 23 45 67",
        "6-71-23-45-67",
        "+237 6 71 23 45 67",
        "+237671234567",
        "00237671234567",
        " 671234567 ",
    ],
)
def test_cameroonian_formats_normalise_to_e164(raw):
    assert normalize_phone_number(raw) == "+237671234567"


def test_landline_and_foreign_numbers_in_international_format():
    assert normalize_phone_number("2 22 23 45 67") == "+237222234567"  # Yaoundé landline
    assert normalize_phone_number("+33 6 12 34 56 78") == "+33612345678"


def test_region_can_be_given_explicitly():
    assert normalize_phone_number("06 12 34 56 78", region="FR") == "+33612345678"


def test_default_region_comes_from_settings(settings):
    settings.PHONE_DEFAULT_REGION = "FR"
    assert normalize_phone_number("06 12 34 56 78") == "+33612345678"


@pytest.mark.parametrize("raw", ["", "   ", "12345", "abc", "6712345", "67123456789012", "+999 123", None, 671234567])
def test_invalid_numbers_are_refused(raw):
    with pytest.raises(InvalidPhoneNumber):
        normalize_phone_number(raw)


def test_create_user_normalises_and_hashes(db):
    user = User.objects.create_user("6 99 00 11 22", "a-long-pass-2026", full_name="Awa")
    assert user.phone_number == "+237699001122"
    assert user.check_password("a-long-pass-2026")
    assert user.password != "a-long-pass-2026"
    assert User.objects.get_by_natural_key("699 00 11 22") == user


def test_user_id_is_a_uuid(db):
    import uuid

    user = User.objects.create_user("671234567", "a-long-pass-2026", full_name="Awa")
    assert isinstance(user.pk, uuid.UUID)


def test_phone_number_is_unique_in_the_database(db):
    from django.db import IntegrityError, transaction

    User.objects.create_user("671234567", "a-long-pass-2026", full_name="Awa")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user("+237 671 23 45 67", "a-long-pass-2026", full_name="Other")
