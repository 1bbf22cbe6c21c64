"""End rides nobody else can end, as an operator: `end_ride RIDE_ID... --reason TEXT`, or
`end_ride --driver PHONE` for every active ride of a (deactivated) driver.

Through rides.services.end_ride_as_operator: any active ride, started ones included, ends
`cancelled` by `admin` with the reason given, and its passenger and driver hear `ride_cancelled`.
"""

import uuid

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from rides.services import OPERATOR_END_REASON, active_ride_ids_of, end_ride_as_operator
from rideshare.kernel.cli import DatabaseCommand
from rideshare.kernel.errors import DomainError


def ride_id(text):
    try:
        return uuid.UUID(text)
    except ValueError:
        raise CommandError(f"{text!r} is not a ride id (a UUID)") from None


class Command(DatabaseCommand):
    help = "End rides as an operator (cancelled by admin), started ones included."

    def add_arguments(self, parser):
        parser.add_argument("ride_ids", nargs="*", metavar="RIDE_ID", help="rides to end")
        parser.add_argument("--driver", metavar="PHONE", help="end every active ride of this driver (or passenger)")
        parser.add_argument(
            "--reason", default=OPERATOR_END_REASON, help=f"recorded as cancel_reason (default {OPERATOR_END_REASON})"
        )

    def handle(self, *args, ride_ids, driver, reason, **options):
        if not ride_ids and not driver:
            raise CommandError("give RIDE_ID(s) or --driver PHONE")
        targets = [ride_id(text) for text in ride_ids]
        if driver:
            try:
                user = get_user_model().objects.get_by_natural_key(driver)
            except get_user_model().DoesNotExist:
                raise CommandError(f"no user with phone number {driver}") from None
            found = active_ride_ids_of(user)
            if not found:
                self.stdout.write(f"{user.phone_number} has no active ride.")
            targets += found
        failed = 0
        for target in targets:
            try:
                ride = end_ride_as_operator(ride_id=target, reason=reason)
            except DomainError as exc:
                failed += 1
                self.stderr.write(f"Skipped ride {target}: {exc.detail}")
                continue
            self.stdout.write(f"Ended ride {ride.pk} (cancelled by admin: {ride.cancel_reason})")
        if failed and failed == len(targets):
            raise CommandError(f"no ride ended ({failed} skipped)")
