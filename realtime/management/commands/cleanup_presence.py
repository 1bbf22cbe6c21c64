"""Sweep presence by hand (server processes also do it every PRESENCE_REFRESH_SECONDS): drop the
Connection rows of processes that died without closing their sockets, and take their drivers
offline so they stop being offered rides."""

from django.conf import settings

from realtime import presence
from rideshare.accounts.models import User
from rideshare.kernel.cli import DatabaseCommand


class Command(DatabaseCommand):
    help = (
        "Remove WebSocket connections not refreshed for PRESENCE_TTL_SECONDS and mark their drivers "
        "offline (realtime.presence.sweep())."
    )

    def handle(self, *args, **options):
        removed, went_offline = presence.sweep()
        self.stdout.write(
            f"Removed {removed} stale connection(s) (not refreshed for {settings.PRESENCE_TTL_SECONDS}s); "
            f"{len(went_offline)} driver(s) went offline."
        )
        for phone, name in User.objects.filter(pk__in=went_offline).values_list("phone_number", "full_name"):
            self.stdout.write(f"  offline: {phone}  {name}")
