"""The one WebSocket per app: authenticate, route each client message to a handler, send."""

import asyncio
import logging
import time
from collections import deque

import msgspec
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from rideshare.kernel.errors import DomainError, first_error_message
from rideshare.kernel.logs import bind

from . import actions, events, metrics, positions, presence, wire
from .auth import (
    CLOSE_ACCOUNT_DISABLED,
    CLOSE_INVALID_TOKEN,
    CLOSE_RATE_LIMITED,
    CLOSE_TOKEN_EXPIRED,
    query_param,
)
from .db import db_call
from .groups import ride_group_name, user_group_name
from .limits import ConnectionLimiter
from .publish import publish_latest

logger = logging.getLogger(__name__)


class RealtimeConsumer(AsyncJsonWebsocketConsumer):
    user = None

    # --- connection -----------------------------------------------------------------------

    async def connect(self):
        self.user = self.scope.get("user")
        self.observed_rides = set()
        # The id of the last reliable event this connection delivered (or the client had).
        self.cursor = 0
        # Ids delivered lately by any route, so an event reaching this connection twice is sent once.
        self.recently_sent = deque(maxlen=256)
        self.expiry_task = None
        self.position_written_at = float("-inf")
        self.limiter = ConnectionLimiter(
            settings.WS_RATE_LIMITS, settings.WS_ABUSE_REJECTIONS, settings.WS_ABUSE_WINDOW_SECONDS
        )
        await self.accept()
        if self.user is None:
            # Accept-then-close: browsers cannot read a refused handshake's status, only this code.
            await self.close(code=self.scope.get("auth_close_code") or CLOSE_INVALID_TOKEN)
            return
        bind(user_id=self.user.pk)
        # Join first: whatever commits from now on is queued for this connection, so the replay
        # below and the live stream meet without a gap (duplicates are dropped by id).
        await self.channel_layer.group_add(user_group_name(self.user.pk), self.channel_name)
        metrics.open_connections.inc()
        self.counted = True
        latest, self.assignment = await db_call(actions.connection_opened)(
            self.channel_name, self.user
        )
        presence.ensure_background_tasks()
        self.expiry_task = asyncio.create_task(self._close_when_token_expires())
        await self.send_event(events.connected(self.user, last_event_id=latest))

        requested = query_param(self.scope, "last_event_id")
        if requested is None:
            self.cursor = latest
        else:
            await self.resume(requested)

    async def disconnect(self, code):
        if self.user is None:
            return
        presence.forget(self.channel_name)
        if getattr(self, "counted", False):
            metrics.open_connections.dec()
            self.counted = False
        if self.expiry_task is not None:
            self.expiry_task.cancel()
        await self.channel_layer.group_discard(user_group_name(self.user.pk), self.channel_name)
        for ride_id in self.observed_rides:
            await self.channel_layer.group_discard(ride_group_name(ride_id), self.channel_name)
        if presence.written_at_once(self.user):
            await db_call(presence.unregister)(self.channel_name, self.user)

    async def _close_when_token_expires(self):
        expires_at = self.scope.get("token_expires_at")
        if not expires_at:
            return
        await asyncio.sleep(max(0.0, expires_at - time.time()))
        await self.send_error("token_expired", "The access token expired: refresh it and reconnect.")
        await self.close(code=CLOSE_TOKEN_EXPIRED)

    # --- resume ---------------------------------------------------------------------------

    async def resume(self, requested):
        """Replay the user's reliable events after `requested`, then the current driver position."""
        outcome = await db_call(actions.resume)(self.user, requested)
        if outcome.problem:
            metrics.resumes.labels(f"resync_{outcome.problem}").inc()
            self.cursor = outcome.latest
            await self.send_event(events.resync_required(outcome.problem, outcome.latest))
            return
        metrics.resumes.labels("replayed").inc()
        # The app says what it has; what it asks for again is replayed even if sent before.
        self.cursor = outcome.after
        await self._deliver_logged(outcome.events)
        if outcome.driver_position is not None:
            await self.send_event(outcome.driver_position)

    async def _deliver_logged(self, rows):
        for event_id, event_type, text in rows:
            if event_id > self.cursor:
                await self.send_text(text, event_type)
                self.recently_sent.append(event_id)
                self.cursor = event_id

    async def _catch_up(self):
        rows = await db_call(actions.events_after)(self.user, self.cursor)
        await self._deliver_logged(rows)

    # --- inbound --------------------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        if text_data is None:
            return await self._refuse("*", "binary_not_supported", "Send JSON text frames, not binary.")
        try:
            message_type, content = wire.message_type(text_data)
        except wire.ClientMessageError as exc:
            return await self._refuse("*", exc.code, exc.message)
        await self._dispatch(message_type, content)

    async def receive_json(self, content, **kwargs):
        try:
            message_type = wire.content_type(content)
        except wire.ClientMessageError as exc:
            return await self._refuse("*", exc.code, exc.message)
        await self._dispatch(message_type, content)

    async def _dispatch(self, message_type, content):
        handler = self.HANDLERS[message_type]
        if not self.limiter.allow(message_type):
            return await self._rate_limited(message_type)
        try:
            if message_type == "location_update":
                actions.require_driver(self.user)  # not_a_driver comes before any field error
            message = wire.client_message(message_type, content)
            await handler(self, message)
        except wire.ClientMessageError as exc:
            await self.send_error(exc.code, exc.message, request_type=exc.request_type, **exc.extra)
        except DomainError as exc:
            await self.send_error(exc.code, exc.detail, request_type=message_type, **exc.extra)
        except ValidationError as exc:
            await self.send_error(
                "validation_error", first_error_message(exc.detail), request_type=message_type, errors=exc.detail
            )
        except Exception:
            logger.exception("handler for %s failed (user %s)", message_type, self.user.pk)
            await self.send_error("internal_error", "The server could not handle this message.")

    async def _refuse(self, bucket, code, message):
        """An error for a bad message; bad messages share a rate limit so they cannot flood."""
        if not self.limiter.allow(bucket):
            return await self._rate_limited(bucket)
        await self.send_error(code, message)

    async def _rate_limited(self, message_type):
        metrics.rate_limited.labels(message_type if message_type in settings.WS_RATE_LIMITS else "*").inc()
        if self.limiter.rejected():
            await self.send_error("rate_limited", "Too many messages; closing.", request_type=message_type)
            return await self.close(code=CLOSE_RATE_LIMITED)
        await self.send_error("rate_limited", "Too many messages of this type; slow down.", request_type=message_type)

    async def handle_ping(self, message: wire.Ping):
        await self.send_event(events.pong(message.timestamp))

    async def handle_resume(self, message: wire.Resume):
        await self.resume(message.last_event_id)

    async def _ride_access(self, message: wire.JoinRide | wire.LeaveRide):
        return await db_call(actions.ride_access)(self.user, message.ride_id)

    async def handle_join_ride(self, message: wire.JoinRide):
        ride_id, is_participant = await self._ride_access(message)
        # Participants already hear their rides through their user group; only observers (staff)
        # join the ride group, so every event reaches every connection once.
        if not is_participant and ride_id not in self.observed_rides:
            await self.channel_layer.group_add(ride_group_name(ride_id), self.channel_name)
            self.observed_rides.add(ride_id)
        await self.send_event(events.ride_joined(ride_id))

    async def handle_leave_ride(self, message: wire.LeaveRide):
        ride_id, _ = await self._ride_access(message)
        if ride_id in self.observed_rides:
            await self.channel_layer.group_discard(ride_group_name(ride_id), self.channel_name)
            self.observed_rides.discard(ride_id)
        await self.send_event(events.ride_left(ride_id))

    async def handle_driver_online(self, message: wire.DriverOnline):
        driver = await db_call(actions.set_driver_online)(self.user, True)
        await self.send_event(events.driver_status(driver))

    async def handle_driver_offline(self, message: wire.DriverOffline):
        driver = await db_call(actions.set_driver_online)(self.user, False)
        await self.send_event(events.driver_status(driver))

    async def handle_location_update(self, message: wire.LocationUpdate):
        """The hot path (every few seconds per driver): no database round trip. The position goes
        to the passenger of the active ride at once and to the database in the next batch."""
        location = msgspec.structs.asdict(message)
        recorded_at = timezone.now()
        buffer = positions.buffer_for_this_loop()
        if time.monotonic() - self.position_written_at > settings.LOCATION_WRITE_THROUGH_SECONDS:
            # The first position in a while is written at once: the driver may be matched right now.
            buffer.discard(self.user.pk)
            await db_call(positions.write)({self.user.pk: positions.row(**location, recorded_at=recorded_at)})
            self.position_written_at = time.monotonic()
        else:
            buffer.put(self.user.pk, **location, recorded_at=recorded_at)
        if self.assignment is None:
            return
        ride_id, passenger_id = self.assignment
        await publish_latest(
            events.driver_location_update(self.user.pk, ride_id, **location, recorded_at=recorded_at),
            [user_group_name(passenger_id), ride_group_name(ride_id)],
            latest_key=f"driver_location:{self.user.pk}",
        )

    HANDLERS = {
        "ping": handle_ping,
        "resume": handle_resume,
        "join_ride": handle_join_ride,
        "leave_ride": handle_leave_ride,
        "driver_online": handle_driver_online,
        "driver_offline": handle_driver_offline,
        "location_update": handle_location_update,
    }

    # --- outbound -------------------------------------------------------------------------

    async def send_text(self, text, event_type, *, committed_at=None, latest_key=None):
        """Every server message leaves through here: one place to count, time and check them."""
        metrics.count_sent(event_type)
        if committed_at is not None:
            metrics.commit_to_send_seconds.observe(max(0.0, time.time() - committed_at))
        if latest_key:
            # The server (realtime.server) may merge these for a client that lags behind.
            await self.base_send({"type": "websocket.send", "text": text, "latest_key": latest_key})
        else:
            await self.send(text_data=text)

    async def send_event(self, message):
        await self.send_text(events.encode(message), message["type"])

    async def send_error(self, code, message, **extra):
        await self.send_event(events.error(code, message, **extra))

    async def realtime_event(self, message):
        """An event from the channel layer, already encoded once for all its recipients.

        Reliable events to this user carry `id` and `prev` (the user's previous event id): an id
        already delivered is dropped; a `prev` not yet delivered means something was missed
        (a full channel, an out-of-order publish) and the log fills the gap.
        """
        event_id = message.get("id")
        if event_id is None:  # latest-wins positions
            return await self.send_text(
                message["text"], message["event_type"], committed_at=message.get("committed_at"),
                latest_key=message.get("latest_key"),
            )
        if "prev" not in message:
            # A ride observed by staff: live only. The same event may also come through the user's
            # own stream (a staff driver who joined, then accepted): send it once.
            if event_id in self.recently_sent:
                return
        else:
            if event_id <= self.cursor:
                return
            prev = message["prev"]
            if prev is not None and prev > self.cursor:
                return await self._catch_up()
            self.cursor = event_id
            if event_id in self.recently_sent:
                return
        self.recently_sent.append(event_id)
        await self.send_text(message["text"], message["event_type"], committed_at=message.get("committed_at"))

    async def realtime_assignment(self, message):
        """The driver's active ride changed (accepted, completed, cancelled)."""
        self.assignment = (message["ride_id"], message["passenger_id"]) if message["ride_id"] else None

    async def realtime_disconnect(self, message):
        await self.send_error(message.get("reason", "account_disabled"), "This account can no longer connect.")
        await self.close(code=CLOSE_ACCOUNT_DISABLED)
