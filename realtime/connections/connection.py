"""A socket's life, below the protocol: every message in and out goes through here, and so does
every way it can end.

- `dispatch` wraps every handler channels calls (connect, each frame, each channel-layer message,
  disconnect): an exception escaping any of them, or a send that raised (a socket the server
  already closed, e.g. 4009: "Attempt to send on a closed protocol"), is logged once, closes the
  socket with 1011 if it was still ours to close, runs the clean-up and ends the consumer.
- `clean_up` runs exactly once however the socket ended (a close by the client, by the server,
  a failure): presence forgotten (a driver whose last connection it was goes offline), the
  open-connections metric decremented, groups left, the token-expiry timer stopped.
  Each step runs even if one before it failed.
- `send_text` is the one way out to the app; a failed send raises `SocketGone`, which handlers
  let through (there is nobody left to answer).
- Redis unreachable (realtime.delivery.outages) is not a bug: a socket that meets it closes with 1011 like
  any failure (its channel's receive failing included), logged once per outage instead of once
  per socket with a traceback. A handshake meets it before any handler runs, when channels makes
  the connection's channel: with the channel layer away nothing could reach the socket, so it is
  accepted and closed with 1011 (the app reconnects with backoff) rather than served deaf or
  answered 500.
"""

import asyncio
import logging

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils import translation
from django.utils.translation import gettext_lazy

from realtime.delivery import dispatch, events, metrics, outages
from realtime.presence import presence
from realtime.protocol import close_codes
from rideshare.kernel.translation import language_for

from . import auth

logger = logging.getLogger(__name__)

# Worded in the connection's language (send_error).
TOKEN_EXPIRED = gettext_lazy("The access token expired: refresh it and reconnect.")
ACCOUNT_DISABLED = gettext_lazy("This account can no longer connect.")


class SocketGone(Exception):
    """A send to the app raised: the socket is closed or broken; only the clean-up is left."""


class ConnectionBase(AsyncJsonWebsocketConsumer):
    user = None
    counted = False  # in metrics.open_connections
    expiry_timer = None  # the access token's expiry (a loop timer)
    expiry_task = None  # the close it started
    closing = False  # a close was sent (or the client's arrived): nothing more goes out
    cleaned_up = False
    clean_up_done = None  # an asyncio.Event while or once the clean-up ran
    failed = False
    observed_rides = frozenset()
    language = None  # of this connection's `error` messages (see __call__)
    channel_name = None  # until channels made it (the channel layer answered)

    async def __call__(self, scope, receive, send):
        # `?lang=` (fr, en), else the handshake's Accept-Language, else English. Active for the
        # whole connection, which runs in a task of its own: whatever is worded while handling its
        # frames (DRF's validation messages included) is in its language.
        self.language = language_for(auth.query_param(scope, "lang"), auth.header(scope, b"accept-language"))
        try:
            with translation.override(self.language):
                await super().__call__(scope, receive, send)
        except outages.UNREACHABLE as exc:
            if self.channel_name is None:
                await self._refuse_without_channel(receive, send, exc)
            else:  # the channel layer's receive (the core Redis layer's pops)
                await self.fail("channel layer receive", exc)
        finally:
            if not self.cleaned_up:
                # Cancelled (daphne's application_close_timeout, shutdown): no await is safe here.
                # Stop counting it; the presence heartbeat settles a driver whose last one it was
                # (and rewrites this process's shared entries from what it holds).
                self.cleaned_up = True
                self._forget()

    async def _refuse_without_channel(self, receive, send, exc):
        outages.redis.failed("a WebSocket handshake, closed with 1011", exc)
        self.base_send = send
        if (await receive())["type"] == "websocket.connect":
            await self.base_send({"type": "websocket.accept"})  # so that a browser reads the code
            await self._close_after_failure()

    async def dispatch(self, message):
        try:
            await self._handle(message)
        except StopConsumer:
            raise
        except Exception as exc:
            await self.fail(message.get("type"), exc)
            raise StopConsumer() from None

    async def _handle(self, message):
        """channels' AsyncConsumer.dispatch without its `aclose_old_connections()`: that is a hop
        to the thread-sensitive executor thread and back for every frame and every channel-layer
        message (two per relayed position), and closes nothing here: no handler touches the ORM on
        the loop; every query goes through rideshare.kernel.db.db_call, which closes its connection on the
        way in and out of its own thread."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def fail(self, during, exc):
        """The one failure path: log once, close with 1011 if still open, clean up once."""
        if not self.failed:
            self.failed = True
            user_id = getattr(self.user, "pk", None)
            if isinstance(exc, SocketGone):
                logger.warning("socket of user %s gone during %s: %s", user_id, during, exc.__cause__ or exc)
            elif outages.redis_unreachable(exc):
                outages.redis.failed(f"a connection, closed with 1011 during {during}", exc)
            else:
                logger.error("connection of user %s failed during %s", user_id, during, exc_info=exc)
        if not self.closing:
            await self._close_after_failure()
        await self.clean_up()

    async def _close_after_failure(self):
        try:
            await self.close(code=close_codes.CLOSE_INTERNAL_ERROR)
            return
        except Exception:
            pass
        try:
            # Plain daphne refuses 1011 from an application (realtime.server passes it on): 1000.
            await self.base_send({"type": "websocket.close", "code": 1000, "reason": "internal error"})
        except Exception:
            pass  # the transport is gone already; the clean-up is what matters

    async def close(self, code=None, reason=None):
        self.closing = True
        await super().close(code=code, reason=reason)

    async def websocket_receive(self, message):
        if not self.closing:  # frames still queued behind our close are not handled
            await super().websocket_receive(message)

    async def websocket_disconnect(self, message):
        self.closing = True
        await super().websocket_disconnect(message)

    async def disconnect(self, code):
        await self.clean_up()

    async def clean_up(self):
        if self.user is None:
            return
        if self.cleaned_up:
            if self.clean_up_done is not None:
                await self.clean_up_done.wait()  # begun by another task of this connection
            return
        self.cleaned_up = True
        self.clean_up_done = asyncio.Event()
        try:
            await self._clean_up()
        finally:
            self.clean_up_done.set()

    async def _clean_up(self):
        forgotten = self._forget()  # before any await
        if self.expiry_timer is not None:
            self.expiry_timer.cancel()
        task = self.expiry_task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        steps = [lambda: dispatch.stop_listening(self.channel_name, self.user.pk, set(self.observed_rides))]
        if forgotten is not None:
            steps.append(lambda: presence.closed(self.channel_name, forgotten))
        for step in steps:
            try:
                await step()
            except Exception as exc:
                # The presence heartbeat settles drivers and rewrites this process's entries.
                if outages.redis_unreachable(exc):
                    outages.redis.failed("a connection's clean-up", exc)
                else:
                    logger.exception("clean-up step failed for user %s", self.user.pk)

    def _forget(self):
        """The clean-up's synchronous part; what presence.closed needs, or None."""
        if self.counted:
            metrics.open_connections.dec()
            self.counted = False
        return presence.forget(self.channel_name) if self.user is not None else None

    async def observe(self, ride_id):
        """Join the ride's group (staff observing a ride); left at the clean-up."""
        if ride_id not in self.observed_rides:
            await dispatch.observe_ride(self.channel_name, ride_id)
            self.observed_rides = self.observed_rides | {ride_id}

    async def stop_observing(self, ride_id):
        if ride_id in self.observed_rides:
            await dispatch.stop_observing(self.channel_name, ride_id)
            self.observed_rides = self.observed_rides - {ride_id}

    # --- the other ways it ends: the token expires, a newer socket replaces it, the account goes

    def _close_when_token_expires(self):
        # A timer, not a sleeping task: a few hundred bytes per socket instead of a few KB.
        seconds = auth.seconds_until_expiry(self.scope)
        if seconds is not None:
            self.expiry_timer = asyncio.get_running_loop().call_later(seconds, self._token_expired)

    def _token_expired(self):
        self.expiry_task = asyncio.create_task(self.guarded("token expiry", self._close_for_expired_token()))

    async def _close_for_expired_token(self):
        await self.send_error("token_expired", TOKEN_EXPIRED)
        await self.close(code=close_codes.CLOSE_TOKEN_EXPIRED)

    async def realtime_replaced(self, message):
        """A newer connection of this user took this one's place (realtime.presence.cap)."""
        # Clean up first: it no longer counts (row, metric, groups) by the time the app sees 4010.
        await self.clean_up()
        await self.close(code=close_codes.CLOSE_REPLACED, reason="replaced by a newer connection")

    async def realtime_disconnect(self, message):
        """The account was deactivated or deleted (realtime.signals, the presence heartbeat)."""
        await self.send_error(message.get("reason", "account_disabled"), ACCOUNT_DISABLED)
        await self.close(code=close_codes.CLOSE_ACCOUNT_DISABLED)

    async def guarded(self, during, coroutine):
        """Run a background coroutine of this connection under the same failure path."""
        try:
            await coroutine
        except Exception as exc:
            await self.fail(during, exc)

    # --- outbound -------------------------------------------------------------------------

    async def send_text(self, text, event_type, *, committed_at=None, latest_key=None):
        """Every server message leaves through here: one place to count, time and check them."""
        if self.closing:
            return  # a socket being closed takes no more messages
        metrics.count_sent(event_type, committed_at)
        if latest_key:
            # The server (realtime.server) may merge these for a client that lags behind.
            message = {"type": "websocket.send", "text": text, "latest_key": latest_key}
        else:
            message = {"type": "websocket.send", "text": text}
        try:
            await self.base_send(message)
        except Exception as exc:
            raise SocketGone(str(exc)) from exc

    async def send_event(self, message):
        await self.send_text(events.encode(message), message["type"])

    async def send_error(self, code, message, *, request_id=None, **extra):
        if request_id is not None:  # the refused message's `id` (realtime.connections.acks)
            extra["request_id"] = request_id
        with translation.override(self.language):
            message = str(message)  # a lazy message is worded here, in the connection's language
        await self.send_event(events.error(code, message, **extra))
