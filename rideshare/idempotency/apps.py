from django.apps import AppConfig


class IdempotencyConfig(AppConfig):
    """The keys of idempotent REST writes and the answers they replay."""

    name = "rideshare.idempotency"
    label = "idempotency"
    default_auto_field = "django.db.models.BigAutoField"
