from channels.security.websocket import WebsocketDenier
from django.urls import re_path

from realtime.connections.consumers import RealtimeConsumer

websocket_urlpatterns = [
    re_path(r"^api/v1/ws/connect/?$", RealtimeConsumer.as_asgi()),
    # Any other path: refuse the handshake instead of crashing the router.
    re_path(r"", WebsocketDenier.as_asgi()),
]
