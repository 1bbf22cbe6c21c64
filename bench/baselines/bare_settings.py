"""Settings for the bare Channels consumer: channels, the very channel layer the app is configured
with, and the app's JWT settings (same SECRET_KEY and SIMPLE_JWT signing key from the same
environment), so the plan's access tokens decode. No database."""

from rideshare.settings import CHANNEL_LAYERS, SECRET_KEY, SIMPLE_JWT  # noqa: F401  (the layer and keys under test)

DEBUG = False
ALLOWED_HOSTS = ["*"]
# simplejwt's token module imports the blacklist models (never queried here) and auth's models.
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "rest_framework_simplejwt.token_blacklist",
                  "channels"]
USE_TZ = True
DATABASES = {}
ASGI_APPLICATION = "bench.baselines.bare_consumer.application"
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
