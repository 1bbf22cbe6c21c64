from rideshare.kernel.throttles import RateThrottle

from .phone import InvalidPhoneNumber, normalize_phone_number


class LoginAccountThrottle(RateThrottle):
    """Login attempts per account (the normalised phone number), from any address: guessing one
    user's password from many addresses. Numbers that do not parse are only counted per address."""

    scope = "login_account"

    def get_cache_key(self, request, view):
        data = request.data
        phone = data.get("phone_number") if hasattr(data, "get") else None
        if not isinstance(phone, str):
            return None
        try:
            return self.key_for(normalize_phone_number(phone))
        except InvalidPhoneNumber:
            return None
