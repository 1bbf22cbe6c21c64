"""An in-process channel layer whose cost per operation does not grow with the number of sockets.

Same API and semantics as channels' `InMemoryChannelLayer` (groups, flush, capacity, message and
group-membership expiry), but the stock layer scans every channel and every group membership on
each receive() and group_send(), which collapses at a few thousand connected sockets. Here:

- each channel has its own deque of (expires_at, message); expired messages are dropped lazily
  when that channel is touched, and channels holding messages sit in a due-time index so that
  messages nobody reads are still dropped (and, as in stock, the channel leaves all its groups);
- groups are dicts channel -> joined_at, with a reverse index channel -> groups, and memberships
  sit in a join-time index so that expired memberships are dropped oldest-first;
- the two indexes are swept from the front at each send/receive/group_send: amortised O(1) per
  message or membership, never a scan of everything;
- group_send costs O(size of that group); a blocked receive() waits on a future that send() wakes;
- a channel's entry is deleted as soon as it has no messages and no waiting receiver, so
  connect/disconnect churn leaves nothing behind.

Intentional differences from stock (all fixes of stock edge cases):
- send() to a channel whose queued messages have all expired drops them first, so it does not
  raise ChannelFull for messages nobody can receive any more (stock only cleans on receive and
  group_send);
- a receiver woken for a message re-checks expiry, so it never gets an expired one;
- several receivers waiting on one channel each keep working (stock drops the channel's queue
  when one of them empties it, stranding the others), and flush() keeps waiting receivers
  attached (stock strands them on a discarded queue);
- `channel_capacity` glob patterns work (stock never compiles them and fails on the first send);
- expiry uses the monotonic clock, so wall-clock jumps neither expire nor revive anything; the
  `clock` argument (a callable returning seconds, time.monotonic by default) lets tests drive it.
"""

import asyncio
import secrets
import threading
from collections import OrderedDict, deque
from copy import deepcopy
from time import monotonic

from channels.exceptions import ChannelFull
from channels.layers import BaseChannelLayer

# Values deepcopy returns as-is: a dict holding only these is copied exactly by dict(message).
_IMMUTABLE = frozenset({str, int, float, bool, bytes, type(None)})


def _copier(message):
    """How to give each recipient its own copy of `message`, as stock's deepcopy does (a consumer
    may mutate what it receives). Our server's messages are flat (a pre-encoded JSON string and a
    few scalars); for those a shallow dict() is exactly what deepcopy produces, at a fraction of
    the cost. Anything nested, or a dict subclass, is deep-copied like stock."""
    if type(message) is dict and all(
        type(key) is str and type(value) in _IMMUTABLE for key, value in message.items()
    ):
        return dict
    return deepcopy


class _Channel:
    __slots__ = ("capacity", "queue", "waiters")

    def __init__(self, capacity):
        self.capacity = capacity
        self.queue = deque()  # (expires_at, message), oldest first
        self.waiters = deque()  # futures of blocked receive() calls, oldest first


class InProcessChannelLayer(BaseChannelLayer):
    extensions = ["groups", "flush"]

    def __init__(
        self, expiry=60, group_expiry=86400, capacity=100, channel_capacity=None, clock=monotonic, **kwargs
    ):
        super().__init__(expiry=expiry, capacity=capacity, channel_capacity=channel_capacity, **kwargs)
        self.channel_capacity = self.compile_capacities(self.channel_capacity)
        self.group_expiry = group_expiry
        self.clock = clock  # message and group-membership expiry time (asyncio keeps its own)
        # Layer calls can come from another thread's event loop (async_to_sync in a plain thread,
        # e.g. transaction.on_commit outside the server loop). No await happens while it is held.
        self._lock = threading.Lock()
        self._reset()

    def _reset(self):
        self.channels = {}  # name -> _Channel, only while it has messages or waiting receivers
        self.groups = {}  # group -> {channel: joined_at}
        self._channel_groups = {}  # channel -> set of its groups (to leave them all on expiry)
        self._due = OrderedDict()  # channel with messages -> expiry of its head (about oldest first)
        self._joins = OrderedDict()  # (group, channel) -> joined_at, oldest first

    # --- channel layer API ----------------------------------------------------------------------

    async def send(self, channel, message):
        """Send a message onto a (general or process-local) channel; ChannelFull at capacity."""
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        assert "__asgi_channel__" not in message
        message = _copier(message)(message)
        with self._lock:
            now = self.clock()
            self._sweep(now)
            record = self.channels.get(channel)
            if record is not None:
                self._expire(channel, record, now)
            if not self._put(channel, record, message, now):
                raise ChannelFull(channel)

    async def receive(self, channel):
        """The oldest unexpired message on the channel, waiting for one if need be. With several
        receivers on one channel, each message goes to exactly one of them."""
        self.require_valid_channel_name(channel)
        while True:
            with self._lock:
                now = self.clock()
                self._sweep(now)
                record = self.channels.get(channel)
                if record is None:
                    record = self.channels[channel] = _Channel(self.get_capacity(channel))
                else:
                    self._expire(channel, record, now)
                if record.queue:
                    message = record.queue.popleft()[1]
                    if not record.queue:
                        self._due.pop(channel, None)
                        self._drop_if_idle(channel, record)
                    return message
                waiter = asyncio.get_running_loop().create_future()
                record.waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                with self._lock:
                    if waiter in record.waiters:
                        record.waiters.remove(waiter)
                    elif record.queue:
                        self._wake(record)  # we were woken for a message we won't take: pass it on
                    self._drop_if_idle(channel, record)
                raise

    async def new_channel(self, prefix="specific"):
        """A fresh process-local channel name ("!" marks the local part)."""
        return f"{prefix}.inprocess!{secrets.token_hex(8)}"

    async def flush(self):
        """Drop every message and group membership. Blocked receive() calls stay attached to
        their (now empty) channel, so later sends still reach them."""
        with self._lock:
            waiting = {name: record for name, record in self.channels.items() if record.waiters}
            self._reset()
            for record in waiting.values():
                record.queue.clear()
            self.channels = waiting

    async def close(self):
        pass  # nothing to release, as in stock

    # --- groups extension -----------------------------------------------------------------------

    async def group_add(self, group, channel):
        self.require_valid_group_name(group)
        self.require_valid_channel_name(channel)
        with self._lock:
            now = self.clock()
            self.groups.setdefault(group, {})[channel] = now
            self._channel_groups.setdefault(channel, set()).add(group)
            key = (group, channel)
            self._joins[key] = now
            self._joins.move_to_end(key)  # a re-add restarts the membership's expiry

    async def group_discard(self, group, channel):
        self.require_valid_channel_name(channel)
        self.require_valid_group_name(group)
        with self._lock:
            self._leave(group, channel)

    async def group_send(self, group, message):
        """Send to every channel in the group, silently skipping full ones (as stock)."""
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        copy = _copier(message)
        with self._lock:
            now = self.clock()
            self._sweep(now)
            members = self.groups.get(group)
            if not members:
                return
            assert "__asgi_channel__" not in message
            for channel in list(members):  # a copy: an expired channel leaves the group below
                record = self.channels.get(channel)
                if record is not None and self._expire(channel, record, now):
                    self._drop_if_idle(channel, record)
                    continue  # stock removes a channel whose messages expired before it sends
                self._put(channel, record, copy(message), now)

    # --- internals (called with the lock held) --------------------------------------------------

    def _put(self, channel, record, message, now):
        """Queue a message and wake one waiting receiver; False if the channel is full."""
        if record is None:
            record = self.channels[channel] = _Channel(self.get_capacity(channel))
        queue = record.queue
        if 0 < record.capacity <= len(queue):  # capacity <= 0 means unbounded, as asyncio.Queue
            return False
        expires_at = now + self.expiry
        if not queue:
            self._due[channel] = expires_at
        queue.append((expires_at, message))
        self._wake(record)
        return True

    def _wake(self, record):
        waiters = record.waiters
        while waiters:
            waiter = waiters.popleft()
            if waiter.done():
                continue  # cancelled while waiting
            loop = waiter.get_loop()
            if loop is asyncio.get_running_loop():
                waiter.set_result(None)
                return
            try:  # the receiver waits on another thread's event loop
                loop.call_soon_threadsafe(_resolve, waiter)
                return
            except RuntimeError:
                continue  # that loop is closed: nobody is waiting there any more

    def _expire(self, channel, record, now):
        """Drop the channel's expired messages; if there were any, the channel leaves all its
        groups (stock's signal that nobody reads it). Returns whether anything expired."""
        queue = record.queue
        if not queue or queue[0][0] >= now:
            return False
        while queue and queue[0][0] < now:
            queue.popleft()
        if not queue:
            self._due.pop(channel, None)
        for group in self._channel_groups.pop(channel, ()):
            members = self.groups[group]
            del members[channel]
            if not members:
                del self.groups[group]
            del self._joins[(group, channel)]
        return True

    def _leave(self, group, channel):
        members = self.groups.get(group)
        if members is None or members.pop(channel, None) is None:
            return
        if not members:
            del self.groups[group]
        del self._joins[(group, channel)]
        groups = self._channel_groups[channel]
        groups.discard(group)
        if not groups:
            del self._channel_groups[channel]

    def _drop_if_idle(self, channel, record):
        if not record.queue and not record.waiters and self.channels.get(channel) is record:
            del self.channels[channel]

    def _sweep(self, now):
        """Expire what is due from the front of the two time-ordered indexes; stops at the first
        entry that is not due, so an operation with nothing to expire costs O(1)."""
        due = self._due
        while due:
            channel, expires_at = next(iter(due.items()))
            if expires_at >= now:
                break
            del due[channel]
            record = self.channels.get(channel)
            if record is None:
                continue
            self._expire(channel, record, now)
            if record.queue:  # the head was received meanwhile: check again when the new one is due
                due[channel] = record.queue[0][0]
            self._drop_if_idle(channel, record)
        joins = self._joins
        cutoff = now - self.group_expiry
        while joins:
            (group, channel), joined_at = next(iter(joins.items()))
            if joined_at >= cutoff:
                break
            self._leave(group, channel)


def _resolve(waiter):
    if not waiter.done():
        waiter.set_result(None)
