"""ASGI entry point: HTTP through Django, WebSocket through realtime's routing."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rideshare.settings")

# Django must be set up before the consumers (and the models they import) load. Django's handler,
# each request's sync work on a kept thread instead of a new one (rideshare/kernel/asgi_handler.py).
from rideshare.kernel.asgi_handler import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from realtime.connections.auth import JwtQueryAuthMiddleware, OriginValidator  # noqa: E402
from realtime.serving.lifecycle import ServerLifecycle  # noqa: E402
from realtime.serving.routing import websocket_urlpatterns  # noqa: E402

# ServerLifecycle starts and stops the process's background work with the server.
application = ServerLifecycle(ProtocolTypeRouter(
    {
        # In development the admin's static files are served here; in production by the proxy.
        "http": ASGIStaticFilesHandler(django_asgi_app) if settings.DEBUG else django_asgi_app,
        "websocket": OriginValidator(JwtQueryAuthMiddleware(URLRouter(websocket_urlpatterns))),
    }
))
