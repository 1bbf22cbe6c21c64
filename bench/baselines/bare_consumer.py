"""Baseline: the least a Channels app can do to accept an authenticated socket. Decodes the JWT
access token from the query string with simplejwt's `AccessToken` (signature and expiry, no
database), joins the user's group, accepts and sends one small JSON frame. What is left is
daphne + Channels + the channel layer + a JWT decode: the bar for the project's connect and
reconnect-with-resume (`last_event_id` is read and echoed, nothing replayed).

    DJANGO_SETTINGS_MODULE=bench.baselines.bare_settings python -m daphne bench.baselines.bare_consumer:application
    ws://HOST/api/v1/ws/connect?token=ACCESS_TOKEN[&last_event_id=N]
"""

import json
import os
from urllib.parse import parse_qs

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.baselines.bare_settings")

import django  # noqa: E402

django.setup()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402
from rest_framework_simplejwt.exceptions import TokenError  # noqa: E402
from rest_framework_simplejwt.tokens import AccessToken  # noqa: E402

CLOSE_INVALID_TOKEN = 4001  # as the project's consumer


class BareConsumer(AsyncWebsocketConsumer):
    group = None

    async def connect(self):
        query = parse_qs(self.scope["query_string"].decode())
        try:
            user_id = AccessToken(query.get("token", [""])[0])["user_id"]
        except (TokenError, KeyError):
            await self.accept()  # a close code reaches the client only on an accepted socket
            await self.close(code=CLOSE_INVALID_TOKEN)
            return
        self.group = f"user.{user_id}"
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        last_event_id = query.get("last_event_id", ["0"])[0]
        await self.send(text_data=json.dumps({"type": "connected",
                                              "data": {"user_id": user_id, "last_event_id": int(last_event_id) if last_event_id.isdigit() else 0}}))

    async def disconnect(self, code):
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)


application = ProtocolTypeRouter({"websocket": URLRouter([re_path(r"^api/v1/ws/connect/?$", BareConsumer.as_asgi())])})
