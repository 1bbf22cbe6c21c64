"""Small pieces shared by the management commands: durations typed as `90`, `90s`, `2m`, `1h`,
and running a job again and again until interrupted (for deployments without cron)."""

import argparse
import re
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connections

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600}


def duration(text):
    """argparse `type=`: seconds (float) from `90`, `90s`, `2m`, `1.5h`; must be above zero."""
    match = _DURATION.match(str(text))
    if not match or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 90s, 2m or 1h")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]


def human_duration(seconds):
    seconds = int(round(seconds))
    if seconds % 3600 == 0 and seconds >= 3600:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0 and seconds >= 60:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def _drop_stale_connections():
    # What Django does between requests; a connection inside a transaction (tests) is kept.
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()


def repeat(job, *, interval, iterations=None):
    """Run `job()` every `interval` seconds, `iterations` times (forever if None). Rounds start
    every `interval` (at once when one ran longer): a long round does not push the next one back.
    A job that knows its next round is due sooner returns the seconds until then.

    A long-running command keeps one database connection for its whole life; closing it between
    rounds (CONN_MAX_AGE=0) means a restarted database costs one failed round, not the process."""
    done = 0
    next_round = time.monotonic()
    try:
        while iterations is None or done < iterations:
            _drop_stale_connections()
            due_in = job()
            done += 1
            next_round = max(next_round + interval, time.monotonic())
            if due_in is not None:
                next_round = min(next_round, time.monotonic() + max(0.0, due_in))
            if iterations is None or done < iterations:
                time.sleep(max(0.0, next_round - time.monotonic()))
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a loop is meant to stop
    return done


class DatabaseCommand(BaseCommand):
    """A command whose database failures read as one line (exit 1), not a traceback: the usual
    cause is a database that is not migrated or not reachable."""

    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except DatabaseError as exc:
            raise CommandError(f"database error: {exc} (is DATABASE_URL/SQLITE_PATH right, and did migrate run?)") from exc
