"""Cancel ride requests that no driver accepted in time, as `system` with reason `no_driver_found`.

Through rides.services like every other cancel, so the passenger hears `ride_cancelled` and the
drivers whose offer still stood hear `ride_unavailable` (realtime's signal receivers). The
dispatcher (`manage.py dispatch`) does the same at RIDE_REQUEST_TIMEOUT_SECONDS; this command is
for another cut-off, once or in a loop.

A ride accepted between the query and the cancel must be left alone. The service's own check does
not cover that (an accepted ride is still cancellable), so each ride is locked here, its status
checked, and cancelled while the lock is held: an accept waits for the lock and then finds the
ride cancelled (409), or came first and the ride is skipped.
"""

import argparse
from datetime import timedelta

from django.db import DatabaseError
from django.utils import timezone

from rides.models import Ride, RideStatus
from rides.services import expire_request
from rideshare.kernel.cli import DatabaseCommand, duration, human_duration, repeat
from rideshare.kernel.errors import DomainError

REASON = "no_driver_found"


class Command(DatabaseCommand):
    help = "Cancel (as system, reason no_driver_found) ride requests that no driver accepted in time."

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than", type=duration, default=duration("2m"), metavar="DURATION",
            help="cancel requests made longer ago than this: 90s, 2m, 1h (default 2m)",
        )
        parser.add_argument("--loop", action="store_true", help="keep running, every --interval, until interrupted")
        parser.add_argument(
            "--interval", type=duration, default=duration("10s"), metavar="DURATION",
            help="pause between rounds with --loop (default 10s)",
        )
        parser.add_argument("--iterations", type=int, default=None, help=argparse.SUPPRESS)  # for tests

    def handle(self, *args, older_than, loop, interval, iterations, **options):
        self.older_than = older_than
        if not loop:
            self.expire()
            return
        self.stdout.write(
            f"Expiring requests older than {human_duration(older_than)} every {human_duration(interval)}; "
            "Ctrl-C to stop."
        )
        repeat(self.expire_round, interval=interval, iterations=iterations)

    def expire_round(self):
        # A deployment loop outlives a database restart: report the failed round, try the next one.
        try:
            self.expire(quiet=True)
        except DatabaseError as exc:
            self.stderr.write(f"Round failed, retrying next time: {exc}")

    def expire(self, *, quiet=False):
        cutoff = timezone.now() - timedelta(seconds=self.older_than)
        candidates = list(
            Ride.objects.filter(status=RideStatus.REQUESTED, requested_at__lt=cutoff)
            .order_by("requested_at")
            .values_list("pk", "requested_at", "passenger__phone_number")
        )
        cancelled = skipped = 0
        for ride_id, requested_at, phone in candidates:
            age = human_duration((timezone.now() - requested_at).total_seconds())
            try:
                self.expire_one(ride_id)
            except DomainError as exc:  # accepted or cancelled meanwhile: not ours to cancel any more
                skipped += 1
                self.stdout.write(f"Skipped ride {ride_id}: {exc.detail}")
                continue
            cancelled += 1
            self.stdout.write(f"Cancelled ride {ride_id} (passenger {phone}, requested {age} ago): {REASON}")
        if cancelled or skipped or not quiet:
            self.stdout.write(
                f"{timezone.localtime():%H:%M:%S} expired {cancelled} ride request(s) older than "
                f"{human_duration(self.older_than)}" + (f", skipped {skipped}" if skipped else "")
            )
        return cancelled, skipped

    @staticmethod
    def expire_one(ride_id):
        expire_request(ride_id=ride_id, reason=REASON)
