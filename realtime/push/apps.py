from django.apps import AppConfig


class PushConfig(AppConfig):
    name = "realtime.push"
    label = "push"
    verbose_name = "Push notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import webpush  # noqa: F401  (registers the VAPID settings check)
