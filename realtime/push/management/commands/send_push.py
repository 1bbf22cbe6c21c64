"""Send the push outbox (realtime.push.sender) every PUSH_INTERVAL_SECONDS until interrupted, or
once with --once: for deployments whose server processes do not (PUSH_IN_SERVER=false), e.g. to
keep requests to push services off the machines that hold the sockets.

Needs REDIS_URL: whether a user has a socket open is known across processes only through the
presence the servers share in Redis (on the embedded default only the server knows, and sends
itself). Any number may run, beside each other and beside servers that send too: each due row is
claimed under a row lock the others skip (PostgreSQL's SKIP LOCKED)."""

import argparse

from django.conf import settings
from django.core.management.base import CommandError
from django.db import DatabaseError

from realtime.presence import presence
from realtime.push import sender
from rideshare.kernel.cli import DatabaseCommand, duration, human_duration, repeat


class Command(DatabaseCommand):
    help = "Send pushes to the devices of users with no open socket (loop; --once for one round)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one round, then exit")
        parser.add_argument("--interval", type=duration, default=None, metavar="DURATION",
                            help="pause between rounds (default PUSH_INTERVAL_SECONDS)")
        parser.add_argument("--iterations", type=int, default=None, help=argparse.SUPPRESS)  # for tests

    def handle(self, *args, once, interval, iterations, **options):
        if not presence.shared():
            raise CommandError("send_push needs REDIS_URL: without it only the server knows who is connected, "
                               "and sends the pushes itself (PUSH_IN_SERVER).")
        if once:
            self.stdout.write(self.summary(sender.run_round_sync()))
            return
        interval = interval or settings.PUSH_INTERVAL_SECONDS
        self.stdout.write(f"Sending pushes every {human_duration(interval)}; Ctrl-C to stop.")
        repeat(self.push_round, interval=interval, iterations=iterations)

    def push_round(self):
        # A deployment loop outlives a database restart: report the failed round, try the next one.
        try:
            done = sender.run_round_sync()
            if done:
                self.stdout.write(self.summary(done))
        except DatabaseError as exc:
            self.stderr.write(f"Round failed, retrying next time: {exc}")

    @staticmethod
    def summary(done):
        return f"Pushes: {done['sent']} sent, {done['on_socket']} not needed (socket open), " \
               f"{done['retry']} to retry, {done['gone'] + done['rejected']} dropped."
