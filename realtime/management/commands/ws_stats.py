"""The figures of GET /api/v1/ws/stats (realtime.presence.presence.stats()): in the Redis mode from Redis
and the database, true across every server process without going through HTTP or needing a staff
token. Embedded, connections are counted in the server process's memory, which this command
cannot see: its connection figures are 0 (ask GET /api/v1/ws/stats)."""

import argparse
import json as json_module

from django.utils import timezone

from realtime.presence import presence
from rideshare.kernel.cli import DatabaseCommand, duration, human_duration, repeat


class Command(DatabaseCommand):
    help = "WebSocket connections, online drivers and rides across all server processes (as GET /api/v1/ws/stats)."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="one JSON object per reading instead of a table")
        parser.add_argument(
            "--watch", type=duration, metavar="SECONDS", help="print again every SECONDS (5, 5s, 1m) until interrupted"
        )
        parser.add_argument("--count", type=int, default=None, help=argparse.SUPPRESS)  # readings, for tests

    def handle(self, *args, json, watch, count, **options):
        self.as_json = json
        if watch is None:
            self.show()
            return
        if not self.as_json:
            self.stdout.write(f"Every {human_duration(watch)}; Ctrl-C to stop.")
        repeat(self.show, interval=watch, iterations=count)

    def show(self):
        figures = presence.stats()
        if self.as_json:
            self.stdout.write(json_module.dumps(figures))
            return
        width = max(map(len, figures))
        self.stdout.write(f"{timezone.localtime():%Y-%m-%d %H:%M:%S}")
        for name, value in figures.items():
            self.stdout.write(f"  {name:<{width}}  {value:>6}")
