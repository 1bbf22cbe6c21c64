"""Run the demo fleet (realtime/clients/demo) against a server started otherwise, until Ctrl-C.

`make run` runs the same fleet inside the server (DEMO_FLEET). This command reads the fleet's
accounts from the database the server uses (same settings) and talks to the server only through
its public API: a WebSocket per driver and REST for their actions.
"""

import argparse
import asyncio

from django.conf import settings

from realtime.clients.demo.runner import run_fleet
from rideshare.kernel.cli import DatabaseCommand


class Command(DatabaseCommand):
    help = "Run the demo fleet's drivers (positions over WebSockets; with --auto-accept they take rides) until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument(
            "--url", default=None, metavar="URL",
            help="the server (default: DEMO_FLEET_URL)",
        )
        parser.add_argument("--size", type=int, default=None, help="drivers (at most 12; default DEMO_FLEET_SIZE)")
        parser.add_argument(
            "--auto-accept", action=argparse.BooleanOptionalAction, default=None,
            help="accept (or decline) offers and drive the rides (default DEMO_AUTO_ACCEPT)",
        )
        parser.add_argument("--seed", type=int, default=None, help="random seed (repeatable paths and answers)")

    def handle(self, *args, url, size, auto_accept, seed, **options):
        self.stdout.write(f"Demo fleet on {url or settings.DEMO_FLEET_URL}; Ctrl-C to stop.")
        try:
            asyncio.run(run_fleet(url, size=size, auto_accept=auto_accept, seed=seed))
        except KeyboardInterrupt:
            self.stdout.write("Demo fleet stopped.")
