"""The one WebSocket per app: authenticate, route each client message to a handler, send."""

import json
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from rest_framework.exceptions import ValidationError

from rideshare.errors import DomainError, first_error_message

from . import actions, events, presence
from .auth import CLOSE_INVALID_TOKEN
from .groups import ride_group_name, user_group_name

logger = logging.getLogger(__name__)


class RealtimeConsumer(AsyncJsonWebsocketConsumer):
    user = None

    # --- connection -----------------------------------------------------------------------

    async def connect(self):
        self.user = self.scope.get("user")
        self.observed_rides = set()
        await self.accept()
        if self.user is None:
            # Accept-then-close: browsers cannot read a refused handshake's status, only this code.
            await self.close(code=self.scope.get("auth_close_code") or CLOSE_INVALID_TOKEN)
            return
        await self.channel_layer.group_add(user_group_name(self.user.pk), self.channel_name)
        await database_sync_to_async(presence.register)(self.channel_name, self.user)
        presence.ensure_heartbeat()
        await self.send_event(events.connected(self.user))

    async def disconnect(self, code):
        if self.user is None:
            return
        await self.channel_layer.group_discard(user_group_name(self.user.pk), self.channel_name)
        for ride_id in self.observed_rides:
            await self.channel_layer.group_discard(ride_group_name(ride_id), self.channel_name)
        await database_sync_to_async(presence.unregister)(self.channel_name, self.user)

    # --- inbound --------------------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        if text_data is None:
            return await self.send_error("binary_not_supported", "Send JSON text frames, not binary.")
        if not text_data.strip():
            return await self.send_error("empty_message", "Empty message.")
        try:
            content = json.loads(text_data)
        except ValueError:
            return await self.send_error("invalid_json", "The message is not valid JSON.")
        await self.receive_json(content)

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict):
            return await self.send_error("invalid_message", "A message is a JSON object with a 'type'.")
        message_type = content.get("type")
        if not isinstance(message_type, str) or not message_type:
            return await self.send_error("missing_type", "The message has no 'type'.")
        handler = self.HANDLERS.get(message_type)
        if handler is None:
            return await self.send_error("unknown_type", f"Unknown message type {message_type[:50]!r}.")
        try:
            await handler(self, content)
        except DomainError as exc:
            await self.send_error(exc.code, exc.detail, request_type=message_type)
        except ValidationError as exc:
            await self.send_error(
                "validation_error", first_error_message(exc.detail), request_type=message_type, errors=exc.detail
            )
        except Exception:
            logger.exception("handler for %s failed (user %s)", message_type, self.user.pk)
            await self.send_error("internal_error", "The server could not handle this message.")

    async def handle_ping(self, content):
        client_timestamp = content.get("timestamp")
        await self.send_event(events.pong(client_timestamp if isinstance(client_timestamp, str) else None))

    async def _ride_access(self, content):
        if "ride_id" not in content:
            raise DomainError("The message needs a 'ride_id'.", code="missing_field", field="ride_id")
        return await database_sync_to_async(actions.ride_access)(self.user, content["ride_id"])

    async def handle_join_ride(self, content):
        ride_id, is_participant = await self._ride_access(content)
        # Participants already hear their rides through their user group; only observers (staff)
        # join the ride group, so every event reaches every connection once.
        if not is_participant and ride_id not in self.observed_rides:
            await self.channel_layer.group_add(ride_group_name(ride_id), self.channel_name)
            self.observed_rides.add(ride_id)
        await self.send_event(events.ride_joined(ride_id))

    async def handle_leave_ride(self, content):
        ride_id, _ = await self._ride_access(content)
        if ride_id in self.observed_rides:
            await self.channel_layer.group_discard(ride_group_name(ride_id), self.channel_name)
            self.observed_rides.discard(ride_id)
        await self.send_event(events.ride_left(ride_id))

    async def handle_driver_online(self, content):
        driver = await database_sync_to_async(actions.set_driver_online)(self.user, True)
        await self.send_event(events.driver_status(driver))

    async def handle_driver_offline(self, content):
        driver = await database_sync_to_async(actions.set_driver_online)(self.user, False)
        await self.send_event(events.driver_status(driver))

    async def handle_location_update(self, content):
        payload = {k: v for k, v in content.items() if k != "type"}
        await database_sync_to_async(actions.update_location)(self.user, payload)

    HANDLERS = {
        "ping": handle_ping,
        "join_ride": handle_join_ride,
        "leave_ride": handle_leave_ride,
        "driver_online": handle_driver_online,
        "driver_offline": handle_driver_offline,
        "location_update": handle_location_update,
    }

    # --- outbound -------------------------------------------------------------------------

    async def send_event(self, message):
        await self.send(text_data=events.encode(message))

    async def send_error(self, code, message, **extra):
        await self.send_event(events.error(code, message, **extra))

    async def realtime_event(self, message):
        """An event from the channel layer, already encoded once for all its recipients."""
        await self.send(text_data=message["text"])
