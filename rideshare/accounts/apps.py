from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "rideshare.accounts"
    label = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from rideshare.kernel import middleware  # noqa: F401 - registers its deploy check
