from django.apps import AppConfig


class PushConfig(AppConfig):
    name = "realtime.push"
    label = "push"
    verbose_name = "Push notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from realtime.delivery import eventlog

        from . import (
            outbox,
            webpush,  # noqa: F401  (registers the VAPID settings check)
        )

        # The outbox is filled in the transaction that logs the events it pushes.
        eventlog.events_recorded.connect(outbox.enqueue_recorded, dispatch_uid="push.enqueue_recorded")
