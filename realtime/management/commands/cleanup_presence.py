"""Sweep presence by hand (server processes also do it every PRESENCE_REFRESH_SECONDS): in the
Redis mode, drop the sockets of processes that stopped heartbeating for PRESENCE_TTL_SECONDS and
take their drivers offline (unless connected elsewhere) so they stop being offered rides.
Embedded, presence lives in the one server process's memory: there is nothing to sweep."""

from django.conf import settings

from realtime.presence import presence
from rideshare.accounts.models import User
from rideshare.kernel.cli import DatabaseCommand


class Command(DatabaseCommand):
    help = (
        "Remove the WebSocket connections of server processes silent for PRESENCE_TTL_SECONDS and mark "
        "their drivers offline (realtime.presence.presence.sweep(); Redis mode)."
    )

    def handle(self, *args, **options):
        removed, went_offline = presence.sweep()
        self.stdout.write(
            f"Removed {removed} stale connection(s) (process silent for {settings.PRESENCE_TTL_SECONDS}s); "
            f"{len(went_offline)} driver(s) went offline."
        )
        for phone, name in User.objects.filter(pk__in=went_offline).values_list("phone_number", "full_name"):
            self.stdout.write(f"  offline: {phone}  {name}")
