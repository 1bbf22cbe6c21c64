"""Baseline: the least a Channels app can do for a driver position. A passenger and a driver
join per-ride groups; the driver's message goes to the passenger with group_send. No auth, no
database, no validation: what is left is daphne + Channels + the channel layer.

    DJANGO_SETTINGS_MODULE=bench.baselines.relay_settings python -m daphne bench.baselines.channels_relay:application
    ws://HOST/relay?ride=<id>&role=driver|passenger
"""

import os
from urllib.parse import parse_qs

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.baselines.relay_settings")

import django  # noqa: E402

django.setup()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402


class RelayConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        query = parse_qs(self.scope["query_string"].decode())
        self.ride = query["ride"][0]
        self.role = query["role"][0]
        if self.role == "passenger":
            await self.channel_layer.group_add(f"relay.{self.ride}", self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if getattr(self, "role", None) == "passenger":
            await self.channel_layer.group_discard(f"relay.{self.ride}", self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        await self.channel_layer.group_send(
            f"relay.{self.ride}",
            {"type": "relay.position", "text": '{"type":"driver_location_update","data":' + text_data + "}"},
        )

    async def relay_position(self, message):
        await self.send(text_data=message["text"])


application = ProtocolTypeRouter({"websocket": URLRouter([re_path(r"^relay/?$", RelayConsumer.as_asgi())])})
