"""How the admin shows times: to the second, in TIME_ZONE (UTC), as `2026-03-02 08:15:30`.

Django's default format (`N j, Y, P`) drops the seconds, and a ride's steps (accepted, arrived,
the events logged for them) are often seconds apart; operators also match them with log lines.
"""

from datetime import datetime

from django.contrib import admin
from django.utils import timezone
from django.utils.dateformat import format as date_format

SECONDS = "Y-m-d H:i:s"


def to_the_second(value):
    """A datetime, or an ISO 8601 string such as an event's `timestamp`; "-" for none."""
    if not value:
        return "-"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return date_format(timezone.localtime(value), SECONDS)


def timestamp(field, description=None):
    """A read-only admin field or list column showing model field `field` to the second:
    `requested = timestamp("requested_at")` in a ModelAdmin, then "requested" in its fieldsets."""

    @admin.display(description=description or field.removesuffix("_at").replace("_", " "), ordering=field)
    def show(self, obj):
        return to_the_second(getattr(obj, field))

    return show
