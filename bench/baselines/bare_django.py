"""Baseline for `/healthz` (bench.http_path): the project's view, an async view returning the same
small JSON object, in a bare Django project (settings: bare_django_settings: no middleware, no app).

    DJANGO_SETTINGS_MODULE=bench.baselines.bare_django_settings \
        python -m realtime.server bench.baselines.bare_django:application
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.baselines.bare_django_settings")

from django.core.asgi import get_asgi_application  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402


async def healthz(request):
    return JsonResponse({"status": "ok"})


urlpatterns = [path("healthz", healthz)]

application = get_asgi_application()
