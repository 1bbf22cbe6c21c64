"""Lift the login lockout of an account: `manage.py unlock_login +237671234567`.

Password guesses are counted per phone number from any address (LOGIN_ACCOUNT, 20 an hour): past
that, even the owner's right password is 429 `throttled` until the hour is over. Once the owner
has shown who they are (support's own check), this clears their count and they log in at once.
Run it with the server's settings: with REDIS_URL the counters are in Redis, shared by every
process. Embedded (no REDIS_URL) each server process counts in its own memory, which no other
process reaches: the command says so, and restarting the server is the way out there.
"""

from django.core.management.base import BaseCommand, CommandError
from redis.exceptions import RedisError

from rideshare.accounts.phone import InvalidPhoneNumber, normalize_phone_number
from rideshare.accounts.throttles import LoginAccountThrottle


class Command(BaseCommand):
    help = "Clear the per-account login attempt count (LOGIN_ACCOUNT) of these phone numbers."

    def add_arguments(self, parser):
        parser.add_argument("phones", nargs="+", metavar="phone",
                            help="a phone number in any format the app accepts (6 71 23 45 67)")

    def handle(self, *args, phones, **options):
        throttle = LoginAccountThrottle()
        numbers = [self._normalized(phone) for phone in phones]
        if throttle.counted_in_this_process():
            self.stderr.write("The login counters are in each server process's memory (no REDIS_URL), out of this "
                              "command's reach: restart the server to unlock an account.")
        for number in numbers:
            try:
                counted = throttle.forget(number)
            except (RedisError, OSError) as exc:
                raise CommandError(f"the throttle cache cannot be reached: {exc}") from None
            if throttle.num_requests is not None and counted >= throttle.num_requests:
                self.stdout.write(f"unlocked {number}: {counted} attempts were counted (limit {throttle.rate})")
            else:
                self.stdout.write(f"no login lockout for {number} ({counted} attempts counted, limit {throttle.rate})")

    def _normalized(self, phone):
        try:
            return normalize_phone_number(phone)
        except InvalidPhoneNumber:
            raise CommandError(f"{phone!r} is not a phone number") from None
