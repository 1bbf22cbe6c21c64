"""The one WebSocket per app: routing plus connection state. What a message does lives elsewhere:
the socket's life (every send, every failure, every way it ends, the clean-up run once) in
realtime.connections.connection, validation in realtime.protocol.wire, what it does in
realtime.connections.actions, a position's relay, store and approach in realtime.connections.positions,
acknowledgements (a message's `id`) in realtime.connections.acks, the delivery cursor in
realtime.delivery.cursor, the channel layer behind realtime.delivery.dispatch, payloads in
realtime.delivery.events."""

import logging
from functools import cached_property

from django.conf import settings
from django.utils.translation import gettext_lazy

from realtime.delivery import dispatch, events, metrics
from realtime.delivery.cursor import Decision, DeliveryCursor
from realtime.presence import presence
from realtime.protocol import close_codes, wire
from rideshare.kernel.errors import DomainError

from . import acks, actions, auth, fleet, positions
from .connection import ConnectionBase, SocketGone
from .limits import ConnectionLimiter

logger = logging.getLogger(__name__)

# What the socket itself says in `error` messages, worded in the connection's language (send_error).
BINARY_NOT_SUPPORTED = gettext_lazy("Send JSON text frames, not binary.")
INTERNAL_ERROR = gettext_lazy("The server could not handle this message.")
RATE_LIMITED_CLOSING = gettext_lazy("Too many messages; closing.")
RATE_LIMITED = gettext_lazy("Too many messages of this type; slow down.")


class RealtimeConsumer(ConnectionBase):
    # --- connection -----------------------------------------------------------------------

    async def connect(self):
        self.user = self.scope.get("user")
        self.cursor = DeliveryCursor()
        self.position_policy = positions.WriteThrough()
        await self.accept()
        if self.user is None:
            # Accept-then-close: browsers cannot read a refused handshake's status, only this code.
            await self.close(code=self.scope.get("auth_close_code") or close_codes.CLOSE_INVALID_TOKEN)
            return
        # Listen first: whatever commits from now on is queued for this connection, so the replay
        # below and the live stream meet without a gap (duplicates are dropped by id).
        await dispatch.listen_to_user(self.channel_name, self.user.pk)
        metrics.open_connections.inc()
        self.counted = True
        for channel_name in await presence.opened(self.channel_name, self.user):
            await dispatch.close_replaced(channel_name)  # over WS_MAX_CONNECTIONS_PER_USER: the oldest go (4010)
        requested = auth.query_param(self.scope, "last_event_id")
        opening = await actions.open_connection(self.user, requested)
        self.assignment = opening.assignment
        self.latest_position = positions.Latest(positions.stored_recorded_at(self.user))
        self._close_when_token_expires()
        await self.send_event(events.connected(self.user, last_event_id=opening.latest))
        if opening.resumed is None:
            self.cursor.position = opening.latest
        else:
            await self._resumed(opening.resumed)

    @cached_property
    def limiter(self):  # made on the first message: most sockets of a fleet only listen
        return ConnectionLimiter(settings.WS_RATE_LIMITS, settings.WS_ABUSE_REJECTIONS, settings.WS_ABUSE_WINDOW_SECONDS)

    async def resume(self, requested):
        """Replay the user's reliable events after `requested`, then the current driver position."""
        await self._resumed(await actions.resume(self.user, requested))

    async def _resumed(self, outcome):
        if outcome.problem:
            metrics.resumes.labels(f"resync_{outcome.problem}").inc()
            self.cursor.position = outcome.latest
            return await self.send_event(events.resync_required(outcome.problem, outcome.latest))
        metrics.resumes.labels("replayed").inc()
        # The app says what it has; what it asks for again is replayed even if sent before.
        self.cursor.position = outcome.after
        await self._send_logged(outcome.events)
        position = outcome.driver_position
        if position is not None:
            key = dispatch.position_key(position["data"]["driver_id"])
            # The live relay may have delivered it (or a newer one) while this socket was joining.
            if self.cursor.fresh_position(key, outcome.driver_position_at) is Decision.SEND:
                await self.send_event(position)

    async def _send_logged(self, rows):
        for _, event_type, text in self.cursor.replay(rows):
            await self.send_text(text, event_type)

    # --- inbound --------------------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        try:
            if text_data is None:
                raise wire.ClientMessageError("binary_not_supported", BINARY_NOT_SUPPORTED)
            message_type, raw = wire.message_type(text_data)
            request_id = wire.request_id(raw, message_type)
        except wire.ClientMessageError as exc:
            # Bad messages share one rate limit, so they cannot flood.
            return await self._refused(exc, bucket="*")
        if not self.limiter.allow(message_type):
            return await self._rate_limited(message_type, request_id)
        try:
            actions.require_role(self.user, message_type)
            await acks.handle(self, message_type, request_id, wire.client_message(message_type, raw))
        except wire.ClientMessageError as exc:
            await self.send_error(exc.code, exc.message, request_type=message_type, request_id=request_id, **exc.extra)
        except DomainError as exc:
            await self.send_error(exc.code, exc.detail, request_type=message_type, request_id=request_id, **exc.extra)
        except SocketGone:
            raise  # nobody to answer: realtime.connections.connection closes and cleans up
        except Exception:
            logger.exception("handler for %s failed (user %s)", message_type, self.user.pk)
            await self.send_error("internal_error", INTERNAL_ERROR, request_id=request_id)

    async def handle(self, message):
        match message:
            case wire.Ping(timestamp=timestamp):
                await self.send_event(events.pong(timestamp))
            case wire.Resume(last_event_id=last_event_id):
                await self.resume(last_event_id)
            case wire.JoinRide(ride_id=raw_ride_id):
                ride_id, is_participant = await actions.ride_access(self.user, raw_ride_id)
                # Participants already hear their rides through their user group; only observers
                # (staff) join the ride group, so every event reaches every connection once.
                if not is_participant:
                    await self.observe(ride_id)
                await self.send_event(events.ride_joined(ride_id))
            case wire.LeaveRide(ride_id=raw_ride_id):
                ride_id, _ = await actions.ride_access(self.user, raw_ride_id)
                await self.stop_observing(ride_id)
                await self.send_event(events.ride_left(ride_id))
            case wire.DriverOnline() | wire.DriverOffline():
                driver = await actions.set_driver_online(self.user, isinstance(message, wire.DriverOnline))
                await self.send_event(events.driver_status(driver))
            case wire.LocationUpdate():
                await self.location_update(message)
            case wire.DeclineRide(ride_id=ride_id):
                await actions.decline_ride(self.user, ride_id)
                await self.send_event(events.ride_declined(ride_id))
            case wire.WatchFleet():
                await fleet.watchers.watch(self)
            case wire.UnwatchFleet():
                fleet.watchers.unwatch(self)
                await self.send_event(events.fleet_unwatched())

    async def clean_up(self):
        fleet.watchers.unwatch(self)
        await super().clean_up()

    async def location_update(self, message):
        """Relayed, stored and checked for the approach by positions.report. A position older than
        the newest this connection knows (one queued while offline) is dropped: neither relayed
        nor stored."""
        position = positions.stamp(message)
        if not self.latest_position.is_newer(position["recorded_at"]):
            return
        assignment = self.assignment
        announced = await positions.report(self.user.pk, assignment, self.position_policy, position)
        if announced is not assignment and self.assignment is assignment:
            self.assignment = announced  # decided (by us or before): no more queries for it
        self.latest_position.took(position["recorded_at"])

    async def _refused(self, exc, bucket):
        if not self.limiter.allow(bucket):
            return await self._rate_limited(bucket)
        if exc.request_type is not None:  # a malformed `id`: the message's type is known
            return await self.send_error(exc.code, exc.message, request_type=exc.request_type, **exc.extra)
        await self.send_error(exc.code, exc.message, **exc.extra)

    async def _rate_limited(self, message_type, request_id=None):
        metrics.rate_limited.labels(message_type if message_type in settings.WS_RATE_LIMITS else "*").inc()
        if self.limiter.rejected():
            await self.send_error("rate_limited", RATE_LIMITED_CLOSING, request_type=message_type,
                                  request_id=request_id)
            return await self.close(code=close_codes.CLOSE_RATE_LIMITED)
        await self.send_error("rate_limited", RATE_LIMITED, request_type=message_type,
                              request_id=request_id)

    # --- from realtime.delivery.dispatch -------------------------------------------------------------

    async def realtime_event(self, message):
        """An event already encoded once for all its recipients: latest-wins (no id), observed
        (an id, no `prev`) or on the user's own stream (`id` and `prev`: see realtime.delivery.cursor)."""
        decision = self.cursor.decide(message)
        if decision is Decision.CATCH_UP:
            return await self._send_logged(await actions.events_after(self.user, self.cursor.position))
        if decision is Decision.SEND:
            await self.send_text(
                message["text"], message["event_type"], committed_at=message.get("committed_at"),
                latest_key=message.get("latest_key"),
            )

    async def realtime_assignment(self, message):
        """The driver's active ride changed (accepted, arrived, started, completed, cancelled)."""
        self.assignment = dispatch.assignment_in(message)
