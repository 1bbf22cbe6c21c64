"""Event-log retention by hand (server processes also run it every 10 minutes): delete events older
than EVENT_RETENTION_SECONDS. Apps resuming from before them get `resync_required`."""

from django.conf import settings

from realtime.delivery import eventlog
from rideshare.kernel.cli import DatabaseCommand, human_duration


class Command(DatabaseCommand):
    help = "Delete logged events older than EVENT_RETENTION_SECONDS (realtime.delivery.eventlog.purge_expired())."

    def handle(self, *args, **options):
        deleted = eventlog.purge_expired()
        retention = settings.EVENT_RETENTION_SECONDS
        self.stdout.write(
            f"Purged {deleted} event(s) older than {human_duration(retention)} (EVENT_RETENTION_SECONDS={retention})."
        )
