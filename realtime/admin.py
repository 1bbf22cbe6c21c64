"""The ride page with what realtime knows about the ride: the event log and where its driver is.

Registered here, over rides' RideAdmin, because rides must not import realtime.
"""

import json

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from drivers.admin import position_link
from realtime.delivery.eventlog import ride_timeline_entries
from rides.admin import RideAdmin as BaseRideAdmin
from rides.models import Ride
from rideshare.accounts.models import User
from rideshare.kernel.display import to_the_second

TIMELINE_ROW = (
    "<tr><td>{}</td><td>{}</td><td><strong>{}</strong></td>"
    '<td><pre style="margin:0;white-space:pre-wrap">{}</pre></td><td>{}</td></tr>'
)


def _payload(entry):
    shown = {key: entry[key] for key in ("data", "metadata") if key in entry}
    return json.dumps(shown, indent=2, ensure_ascii=False, sort_keys=True)


admin.site.unregister(Ride)


@admin.register(Ride)
class RideAdmin(BaseRideAdmin):
    readonly_fields = [*BaseRideAdmin.readonly_fields, "driver_position", "event_timeline"]
    fieldsets = [
        ("Ride", {"fields": [*BaseRideAdmin.fieldsets[0][1]["fields"], "driver_position"]}),
        *BaseRideAdmin.fieldsets[1:],
        ("Event log", {"fields": ["event_timeline"]}),
    ]

    @admin.display(description="Driver's last position")
    def driver_position(self, ride):
        return position_link(ride.driver) if ride.driver_id else "no driver"

    @admin.display(description="Events")
    def event_timeline(self, ride):
        entries = ride_timeline_entries(ride.pk)
        if not entries:
            return "No events logged (or purged after EVENT_RETENTION_SECONDS)."
        recipient_ids = {user_id for entry in entries for user_id in entry["recipients"]}
        phones = {str(pk): phone for pk, phone in User.objects.filter(pk__in=recipient_ids).values_list("pk", "phone_number")}
        roles = {str(ride.passenger_id): "passenger", str(ride.driver_id): "driver"}

        def recipient(user_id):
            url = reverse("admin:accounts_user_change", args=[user_id])
            return format_html('<a href="{}">{}</a> ({})', url, phones.get(user_id, user_id), roles.get(user_id, "offered driver"))

        rows = format_html_join(
            "",
            TIMELINE_ROW,
            (
                (
                    entry["id"],
                    to_the_second(entry["timestamp"]),
                    entry["type"],
                    _payload(entry),
                    format_html_join(mark_safe("<br>"), "{}", ((recipient(u),) for u in entry["recipients"])),
                )
                for entry in entries
            ),
        )
        return format_html(
            "<table><thead><tr><th>id</th><th>time</th><th>type</th><th>payload</th><th>recipients</th></tr>"
            "</thead><tbody>{}</tbody></table>",
            rows,
        )
