from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from drivers.signals import position_reported

        from . import signals  # noqa: F401  (connects the receivers)
        from .connections import positions

        # A position sent over REST takes the socket's way: relayed, stored, the approach checked.
        position_reported.connect(positions.report_from_rest, dispatch_uid="realtime.position_reported")
