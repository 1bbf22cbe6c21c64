"""Mint JWTs for an existing account, for curl, websocat or trying out token expiry (4002).

`TOKEN=$(python manage.py issue_token +237670000001)` — stdout is the bare access token unless
`--refresh` asks for both, then it is labelled lines.
"""

import argparse
from datetime import timedelta

from django.core.management.base import CommandError
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from rideshare.accounts.models import User
from rideshare.accounts.phone import InvalidPhoneNumber, normalize_phone_number
from rideshare.kernel.cli import DatabaseCommand


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


class Command(DatabaseCommand):
    help = "Print an access token (and with --refresh a refresh token) for the user with this phone number."

    def add_arguments(self, parser):
        parser.add_argument("phone", help="the user's phone number, in any format the app accepts (6 70 00 00 01)")
        parser.add_argument(
            "--lifetime", type=positive_int, metavar="SECONDS",
            help="access token lifetime instead of JWT_ACCESS_TOKEN_LIFETIME (a short one shows the 4002 close)",
        )
        parser.add_argument("--refresh", action="store_true", help="also print a refresh token (labelled output)")

    def handle(self, *args, phone, lifetime, refresh, **options):
        try:
            phone_number = normalize_phone_number(phone)
        except InvalidPhoneNumber as exc:
            raise CommandError(f"{phone!r}: {exc}") from None
        user = User.objects.filter(phone_number=phone_number).first()
        if user is None:
            raise CommandError(f"No user with phone number {phone_number}.")
        if not user.is_active:
            raise CommandError(f"The account {phone_number} is deactivated; its tokens would be refused.")

        refresh_token = RefreshToken.for_user(user) if refresh else None
        access = refresh_token.access_token if refresh else AccessToken.for_user(user)
        if lifetime:
            access.set_exp(lifetime=timedelta(seconds=lifetime))
        if not refresh:
            self.stdout.write(str(access))
            return
        self.stdout.write(f"access: {access}")
        self.stdout.write(f"refresh: {refresh_token}")
