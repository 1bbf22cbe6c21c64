"""Settings for the bare DRF project of `bench.http_path`: the project's apps (so its models and
tables are there), its database, channel layer and JWT keys, read from the same environment; no
middleware at all; DRF with simplejwt's own `JWTAuthentication`, `IsAuthenticated`, DRF's JSON
renderer and parser, no throttles; its own URLconf (bare_drf.py).

Every other setting is copied from the project's bench settings (bench.settings_bench): the
project's server (`python -m realtime.server`) reads its own from settings, and the views read
NEARBY_RADIUS_KM, NEARBY_LIMIT and DRIVER_POSITION_MAX_AGE_SECONDS as the project's do.
"""

import bench.settings_bench as _project

globals().update({name: value for name, value in vars(_project).items() if name.isupper()})

MIDDLEWARE = []
ROOT_URLCONF = "bench.baselines.bare_drf"
ASGI_APPLICATION = "bench.baselines.bare_drf.application"
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework_simplejwt.authentication.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_THROTTLE_CLASSES": [],
}
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
