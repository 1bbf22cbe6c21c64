"""The only code that talks to the channel layer: which groups a connection listens to, and
every send.

Three kinds of message, one verb each, and where each lands in `realtime.connections.consumers.RealtimeConsumer`:

- `send_reliable`: a logged event (realtime.delivery.eventlog) to each recipient's user group, with the
  recipient's previous event id (`prev`), and to the ride's observer group (staff who joined it,
  live only). Lands in `realtime_event`, which delivers each id once per connection.
- `send_position`: a driver's position, latest-wins (never logged, merged for a slow reader).
  Who hears it is decided here once, in `position_groups`. Lands in `realtime_event`.
- `send_control`: a message for the consumers themselves, never forwarded to the app: the
  driver's active ride changed (`realtime_assignment`), or the account was disabled or deleted
  (`realtime_disconnect`). `close_replaced` is its one-connection form: a user's newer
  connection replaced this one (`realtime_replaced`, realtime.presence.cap).
- `send_to_processes`: a message for every server process itself (its inbox, which
  realtime.serving.lifecycle runs through `read_inbox`): forget a user the handshake cache knows
  (`realtime.forget_user`, drivers.known_users).

Async code awaits the verbs. Sync code (an on-commit hook, in whatever thread committed) calls
`soon(verb, ...)`, which hands the send to the server's event loop and returns at once: a
database thread never waits on the loop, so a loop that is stopping (SIGTERM) cannot hang it.
What is handed over after the loop stopped is dropped; for reliable events the outbox relay
(realtime.delivery.eventlog) sends them again from the log. In a process without a server loop (a
management command, the shell, a test that runs no server) `soon` sends before it returns when the
channel layer is shared (Redis): a server process's consumers hear it. With an in-process layer
(the embedded default) nothing in such a process can hear it, so nothing is sent: reliable events
stay unpublished in the log and the server's relay sends them within
EVENT_RELAY_INTERVAL_SECONDS + EVENT_RELAY_GRACE_SECONDS; positions and control messages made
there are not relayed (the server's presence job closes sockets of accounts disabled elsewhere).
"""

import asyncio
import logging
import time
import uuid

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

from rides.matching import Assignment

from . import events, metrics, outages
from .groups import ride_group_name, user_group_name
from .layers import InProcessChannelLayer

logger = logging.getLogger(__name__)

# The consumer handlers, by channel-layer message type ("a.b" calls the method `a_b`).
EVENT = "realtime.event"  # RealtimeConsumer.realtime_event
ASSIGNMENT = "realtime.assignment"  # RealtimeConsumer.realtime_assignment
DISCONNECT = "realtime.disconnect"  # RealtimeConsumer.realtime_disconnect
REPLACED = "realtime.replaced"  # RealtimeConsumer.realtime_replaced
FORGET_USER = "realtime.forget_user"  # a server process's inbox (read_inbox), not a consumer
PROCESSES_GROUP = "server-processes"


async def _group_send(group, message, kind):
    """Best effort: a failed send is counted and logged; the caller goes on."""
    try:
        await get_channel_layer().group_send(group, message)
    except Exception as exc:
        metrics.layer_send_failures.labels(kind).inc()
        if outages.redis_unreachable(exc):
            outages.redis.failed(f"channel layer send to {group}", exc)
        else:
            logger.exception("channel layer send to %s failed", group)
        return False
    outages.redis.answered()
    return True


# --- membership: which groups a connection is in -----------------------------------------------


async def listen_to_user(channel_name, user_id):
    """A connection hears everything for its user (rides, offers, positions, control)."""
    await get_channel_layer().group_add(user_group_name(user_id), channel_name)


async def stop_listening(channel_name, user_id, observed_ride_ids=()):
    layer = get_channel_layer()
    await layer.group_discard(user_group_name(user_id), channel_name)
    for ride_id in observed_ride_ids:
        await layer.group_discard(ride_group_name(ride_id), channel_name)


async def observe_ride(channel_name, ride_id):
    """Staff who joined a ride hear its events live (participants hear them as users)."""
    await get_channel_layer().group_add(ride_group_name(ride_id), channel_name)


async def stop_observing(channel_name, ride_id):
    await get_channel_layer().group_discard(ride_group_name(ride_id), channel_name)


# --- the verbs --------------------------------------------------------------------------------


async def send_reliable(event_id, event_type, text, deliveries, observer_groups, committed_at):
    """One logged event: `deliveries` is [(user_id, prev_event_id)]. True if every send succeeded
    (the caller then marks the event published; otherwise the relay sends it again)."""
    common = {"type": EVENT, "text": text, "id": event_id, "event_type": event_type, "committed_at": committed_at}
    ok = True
    for user_id, prev in deliveries:
        ok &= await _group_send(user_group_name(user_id), {**common, "prev": prev}, "reliable")
    for group in observer_groups:
        ok &= await _group_send(group, common, "reliable")
    return ok


def position_groups(ride_id, passenger_id):
    """Who hears a driver's position: the passenger of the driver's active ride, and staff who
    joined that ride. Nobody else, whatever path the position came by."""
    return [user_group_name(passenger_id), ride_group_name(ride_id)]


def position_key(driver_id):
    """What a driver's positions are merged and ordered by (realtime.server, realtime.delivery.cursor)."""
    return f"driver_location:{driver_id}"


async def send_position(driver_id, assignment, *, latitude, longitude, heading, speed, recorded_at):
    """A position of the driver of `assignment` (rides.matching.Assignment: the ride, its
    passenger, and what the distance and ETA are measured to)."""
    message = events.driver_location_update(
        driver_id, assignment, latitude=latitude, longitude=longitude, heading=heading, speed=speed,
        recorded_at=recorded_at,
    )
    layer_message = {
        "type": EVENT, "text": events.encode(message), "event_type": message["type"],
        "latest_key": position_key(driver_id), "committed_at": time.time(),
        "recorded_at": recorded_at.timestamp() if recorded_at is not None else None,
    }
    groups = position_groups(assignment.ride_id, assignment.passenger_id)
    if layer_is_process_local():
        for group in groups:
            await _group_send(group, layer_message, "latest_wins")
        return
    # Redis: both sends in flight at once (one pipeline on realtime.delivery.redis_layers.RedisPubSubLayer).
    # The driver's consumer handles its next position only after this returns, so one round trip
    # instead of two per position is what keeps a driver sending every 30 ms from queueing up.
    await asyncio.gather(*(_group_send(group, layer_message, "latest_wins") for group in groups))


async def send_control(user_id, message):
    await _group_send(user_group_name(user_id), message, "control")


async def close_replaced(channel_name):
    """Close one connection, in whatever process holds it: a newer connection of its user took
    its place (WS_MAX_CONNECTIONS_PER_USER, realtime.presence.cap). Best effort, like every send."""
    try:
        await get_channel_layer().send(channel_name, {"type": REPLACED})
        return True
    except Exception:
        metrics.layer_send_failures.labels("control").inc()
        logger.exception("channel layer send to %s failed", channel_name)
        return False


async def send_to_processes(message):
    await _group_send(PROCESSES_GROUP, message, "control")


async def read_inbox(handle):
    """This process's inbox: join the group every server process is in and hand each message
    to `handle` until cancelled (realtime.serving.lifecycle owns the task)."""
    layer = get_channel_layer()
    # The consumers' own prefix: the core Redis layer reads each prefix's process channel under
    # one lock, so a reader parked on another prefix's channel would starve every consumer.
    channel_name = await layer.new_channel()
    await layer.group_add(PROCESSES_GROUP, channel_name)
    try:
        while True:
            handle(await layer.receive(channel_name))
    finally:
        try:
            await layer.group_discard(PROCESSES_GROUP, channel_name)
        except Exception:  # shutting down: the group entry expires on its own
            pass


def forget_user(user_id):
    """The inbox message telling every process to forget what it knows of a user."""
    return {"type": FORGET_USER, "user_id": str(user_id)}


def assignment(active=None):
    """The control message telling a driver's connections where their positions go and what they
    are measured against: a rides.matching.Assignment, or None (no active ride). Plain values only:
    it crosses Redis."""
    if active is None:
        return {"type": ASSIGNMENT, "assignment": None}
    return {
        "type": ASSIGNMENT,
        "assignment": [
            str(active.ride_id), str(active.passenger_id), str(active.vehicle_type),
            active.target_latitude, active.target_longitude, active.approach_unannounced,
        ],
    }


def assignment_in(message):
    """The Assignment an `assignment` control message carries (None: no active ride)."""
    fields = message["assignment"]
    if fields is None:
        return None
    ride_id, passenger_id, *rest = fields
    # Ids as the database gives them: the event log keys recipients by UUID.
    return Assignment(uuid.UUID(ride_id), uuid.UUID(passenger_id), *rest)


def disconnect(reason):
    """The control message closing every connection of an account (disabled or deleted)."""
    return {"type": DISCONNECT, "reason": reason}


# --- from sync code: hand the send to the loop --------------------------------------------------


class _Handoff:
    """The server loop's queue of sends handed over by sync code, drained in order by one task."""

    def __init__(self):
        self.loop = None
        self.queue = None
        self.worker = None
        self.accepting = False
        self.dropped = 0
        self.left_to_relay = 0  # sends not made: no loop, and a layer nobody here listens to

    def start(self):
        self.loop = asyncio.get_running_loop()
        self.queue = asyncio.Queue()
        self.accepting = True
        self.worker = self.loop.create_task(self._drain(), name="dispatch")

    async def stop(self, timeout):
        """Send what is queued (within `timeout`), then refuse more: later hand-offs are dropped."""
        self.accepting = False
        if self.queue is not None:
            try:
                await asyncio.wait_for(self.queue.join(), timeout)
            except asyncio.TimeoutError:
                logger.warning("dispatch: %d queued sends left at shutdown", self.queue.qsize())
        if self.worker is not None:
            self.worker.cancel()
            self.worker = None

    async def _drain(self):
        while True:
            job, args, kwargs = await self.queue.get()
            try:
                await job(*args, **kwargs)
            except Exception:
                logger.exception("dispatch: %s failed", getattr(job, "__qualname__", job))
            finally:
                self.queue.task_done()

    def _enqueue(self, item):  # runs on the loop
        if self.accepting:
            self.queue.put_nowait(item)
        else:
            self.dropped += 1

    def hand_off(self, job, args, kwargs):
        try:
            self.loop.call_soon_threadsafe(self._enqueue, (job, args, kwargs))
        except RuntimeError:  # the loop is closed: the process is exiting
            self.dropped += 1


_handoff = _Handoff()


def layer_is_process_local():
    """Whether the channel layer reaches only this process's own consumers (no Redis)."""
    return isinstance(get_channel_layer(), (InProcessChannelLayer, InMemoryChannelLayer))


def soon(job, *args, **kwargs):
    """Run `await job(*args, **kwargs)` on the server's loop without waiting for it (sync code)."""
    if _handoff.loop is not None:
        _handoff.hand_off(job, args, kwargs)
    elif layer_is_process_local():
        # No server loop and a layer only this process hears: no socket can receive the send.
        # Reliable events stay unpublished for the relay of the server process that has them.
        _handoff.left_to_relay += 1
    else:
        # No server loop in this process: nothing can stop under this call, so send now.
        async_to_sync(job)(*args, **kwargs)


def serving():
    """Whether this process runs a server loop (realtime.serving.lifecycle started it)."""
    return _handoff.accepting


def start():
    """Called by realtime.serving.lifecycle on the server's loop at start-up."""
    _handoff.start()


async def stop(timeout=2.0):
    """Called by realtime.serving.lifecycle at shutdown: what is handed over after this is dropped."""
    await _handoff.stop(timeout)


def detach():
    """Forget the loop (tests that start and stop a server loop per test): sends from sync code
    go out directly again, as in a process that never ran a server."""
    _handoff.__init__()
