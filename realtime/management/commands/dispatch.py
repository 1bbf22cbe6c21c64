"""Send offer waves and time out requests (rides.dispatching.run_due) as each wave falls due, and
at least every RIDE_DISPATCH_INTERVAL_SECONDS, until interrupted; or once with --once.

The production way to dispatch (the embedded default does it inside the server). The rules are
rides.dispatching's; the command lives in realtime because the waves it sends are published from
a loop of its own process (realtime.serving.lifecycle.publishing_loop), as a server publishes. Any number of
these may run at once: each due ride is claimed with a row lock that the others skip (PostgreSQL's
SKIP LOCKED), and a process killed mid-wave loses nothing (its transaction rolls back; the ride
stays due for the next tick of another).
"""

import argparse

from django.conf import settings
from django.db import DatabaseError

from realtime.serving.lifecycle import publishing_loop
from rides.dispatching import run_due, seconds_until_due
from rideshare.kernel.cli import DatabaseCommand, duration, human_duration, repeat


class Command(DatabaseCommand):
    help = "Send ride offer waves and time out requests nobody accepted (loop; --once for one round)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one round, then exit")
        parser.add_argument(
            "--interval", type=duration, default=None, metavar="DURATION",
            help="longest pause between rounds; sooner when a wave falls due (default RIDE_DISPATCH_INTERVAL_SECONDS)",
        )
        parser.add_argument("--iterations", type=int, default=None, help=argparse.SUPPRESS)  # for tests

    def handle(self, *args, once, interval, iterations, **options):
        with publishing_loop():
            if once:
                handled = run_due()
                self.stdout.write(f"Dispatched {handled} ride(s).")
                return
            interval = interval or settings.RIDE_DISPATCH_INTERVAL_SECONDS
            self.stdout.write(
                f"Dispatching as waves fall due, at least every {human_duration(interval)}; Ctrl-C to stop.")
            repeat(lambda: self.dispatch_round(interval), interval=interval, iterations=iterations)

    def dispatch_round(self, interval):
        """One round; returns the seconds until the next wave falls due (at most `interval`)."""
        # A deployment loop outlives a database restart: report the failed round, try the next one.
        try:
            run_due()
            return seconds_until_due(longest=interval)
        except DatabaseError as exc:
            self.stderr.write(f"Round failed, retrying next time: {exc}")
            return None
