"""Phone numbers are the login: one canonical form (E.164) whatever the user typed."""

import phonenumbers
from django.conf import settings
from django.utils.translation import gettext_lazy as _


class InvalidPhoneNumber(ValueError):
    pass


INVALID = _("Enter a valid phone number.")


def normalize_phone_number(raw, region=None):
    """Return `raw` in E.164 (`+237671234567`), accepting local formats such as `6 71 23 45 67`."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidPhoneNumber(_("Enter a phone number."))
    try:
        parsed = phonenumbers.parse(raw, region or settings.PHONE_DEFAULT_REGION)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(INVALID) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber(INVALID)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
