"""Settings for the bare Channels relay: nothing but channels and the very channel layer the app
is configured with (the same environment variables, the same rideshare.settings logic)."""

from rideshare.settings import CHANNEL_LAYERS  # noqa: F401  (the layer under test)

SECRET_KEY = "bench-relay-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["channels"]
USE_TZ = True
DATABASES = {}
ASGI_APPLICATION = "bench.baselines.channels_relay.application"
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
