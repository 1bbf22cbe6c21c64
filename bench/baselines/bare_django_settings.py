"""Settings for the bare Django project of `bench.http_path` (`/healthz` only): no middleware, no
installed app, no database, its own URLconf.

Every other setting is copied from the project's bench settings (bench.settings_bench, which reads
the same environment): `python -m realtime.server` reads its own (send-buffer limits, GC
thresholds, trusted proxies) from settings, and this project runs on that same server. None of the
copied settings does anything for a request here: without middleware or apps, nothing reads them.
"""

import bench.settings_bench as _project

globals().update({name: value for name, value in vars(_project).items() if name.isupper()})

INSTALLED_APPS = []
MIDDLEWARE = []
ROOT_URLCONF = "bench.baselines.bare_django"
ASGI_APPLICATION = "bench.baselines.bare_django.application"
TEMPLATES = []
DATABASES = {}
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
