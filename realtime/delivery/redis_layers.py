"""channels_redis's two layers, with the one structural cost of each that caps the position relay
removed. Same configuration, same semantics, same Redis keys and messages: processes running the
stock class and these interoperate.

- `RedisPubSubLayer` (stock `RedisPubSubChannelLayer`): stock publishes one message per Redis
  round trip, one at a time under the shard's lock, so a process publishes at most one message
  per event-loop turn — about 1,000/s on a busy 2-core machine, whatever the CPU left. Here every
  publish made while one is in flight joins the next pipeline: one round trip for all of them, in
  the order they were made. Each caller still awaits its own publish and sees its own failure.
- `RedisLayer` (stock `RedisChannelLayer`): stock sends to a group in four serial round trips
  (expire members, read members, expire messages, the Lua send); here two: members expired and
  read in one pipeline, messages expired inside the send script (a group nobody is in: one).
  And stock receives the process's messages one by one with
  three serial round trips each (clean-up script, BZPOPMIN, backup ZADD, then a fourth to clear
  the backup). Here one script pops everything waiting, up to RECEIVE_BATCH messages, in one
  round trip; only when nothing waits does it block in BZPOPMIN, as stock does. Messages popped
  go straight to this process's consumers' buffers without the backup queue: a batch in flight
  when the process stops is lost, as stock loses whatever sits in its consumers' buffers then.
  Delivery stays at-most-once; the event log covers reliable events (README "Reliability").

Both rely on channels_redis internals (pinned in requirements.txt); realtime/tests/test_redis_layers.py
runs them against Redis in the PostgreSQL + Redis pass.
"""

import asyncio
import logging
import time

from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer, RedisSingleShardConnection
from channels_redis.utils import _wrap_close

from . import outages

logger = logging.getLogger(__name__)

RECEIVE_BATCH = 100


# --- pub/sub: pipelined publishes ---------------------------------------------------------------


class _PipelinedShard(RedisSingleShardConnection):
    def __init__(self, host, channel_layer):
        super().__init__(host, channel_layer)
        self._outbox = []  # (channel, payload, future), oldest first
        self._publisher = None

    async def publish(self, channel, message):
        future = asyncio.get_running_loop().create_future()
        self._outbox.append((channel, message, future))
        if self._publisher is None:
            self._publisher = asyncio.ensure_future(self._publish_all())
        await future

    async def _publish_all(self):
        batch = []
        try:
            while self._outbox:
                batch, self._outbox = self._outbox, []
                failure = None
                try:
                    async with self._lock:
                        self._ensure_redis()
                        pipe = self._redis.pipeline(transaction=False)
                        for channel, payload, _ in batch:
                            pipe.publish(channel, payload)
                        await pipe.execute()
                except Exception as exc:  # every caller of this batch sees it (dispatch counts it)
                    failure = exc
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(failure) if failure else future.set_result(None)
                batch = []
        finally:
            self._publisher = None
            for _, _, future in batch + self._outbox:  # cancelled (flush, loop closing)
                if not future.done():
                    future.cancel()
            self._outbox = []

    async def flush(self):
        publisher = self._publisher
        if publisher is not None:
            publisher.cancel()
            try:
                await publisher
            except asyncio.CancelledError:
                pass
        await super().flush()


class _PipelinedLoopLayer(RedisPubSubLoopLayer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._shards = [_PipelinedShard(shard.host, self) for shard in self._shards]


class RedisPubSubLayer(RedisPubSubChannelLayer):
    """`channels_redis.pubsub.RedisPubSubChannelLayer` with publishes pipelined (module docstring)."""

    def _get_layer(self):
        loop = asyncio.get_running_loop()
        try:
            return self._layers[loop]
        except KeyError:
            layer = self._layers[loop] = _PipelinedLoopLayer(*self._args, **self._kwargs, channel_layer=self)
            _wrap_close(self, loop)
            return layer


class CancelledCleanupFilter(logging.Filter):
    """For the `channels_redis.pubsub` logger. When a server stops with sockets open, every
    consumer's receive is cancelled, and stock's clean-up (an UNSUBSCRIBE) is cancelled too:
    it logs "Unexpected exception while cleaning-up channel" with a traceback for each socket.
    Nothing went wrong (the process is exiting and Redis drops its subscriptions with the
    connection), so those records are dropped. So is Redis being unreachable (stock's receive
    loop logs it with a traceback every second while it is): realtime.delivery.outages says it once.
    Any other failure is still logged."""

    def filter(self, record):
        exc = record.exc_info[1] if record.exc_info else None
        if outages.redis_unreachable(exc):
            outages.redis.failed("channel layer receive", exc)
            return False
        return not (isinstance(exc, asyncio.CancelledError) and "cleaning-up channel" in record.getMessage())


# --- core: batched receive ----------------------------------------------------------------------

# Put back what an interrupted stock receive left in the backup queue (as stock's clean-up does),
# then pop up to ARGV[3] messages, oldest first.
_POP_BATCH = """
local backed_up = redis.call('ZRANGE', ARGV[2], 0, -1, 'WITHSCORES')
for i = #backed_up, 1, -2 do
    redis.call('ZADD', ARGV[1], backed_up[i], backed_up[i - 1])
end
redis.call('DEL', ARGV[2])
return redis.call('ZPOPMIN', ARGV[1], tonumber(ARGV[3]))
"""


# Stock's group-send script, with each channel's expired messages dropped first (stock does that
# in a separate pipeline). KEYS: channel keys; ARGV: messages, capacities, now, expiry, cutoff.
_GROUP_SEND = """
local over_capacity = 0
local current_time = ARGV[#ARGV - 2]
local expiry = ARGV[#ARGV - 1]
local cutoff = ARGV[#ARGV]
for i = 1, #KEYS do
    redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, cutoff)
    if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[i + #KEYS]) then
        redis.call('ZADD', KEYS[i], current_time, ARGV[i])
        redis.call('EXPIRE', KEYS[i], expiry)
    else
        over_capacity = over_capacity + 1
    end
end
return over_capacity
"""


class RedisLayer(RedisChannelLayer):
    """`channels_redis.core.RedisChannelLayer` with two-round-trip group sends and batched
    receives (module docstring)."""

    receive_batch = RECEIVE_BATCH

    async def group_send(self, group, message):
        assert self.require_valid_group_name(group), "Group name not valid"
        key = self._group_key(group)
        pipe = self.connection(self.consistent_hash(group)).pipeline(transaction=False)
        pipe.zremrangebyscore(key, min=0, max=int(time.time()) - self.group_expiry)
        pipe.zrange(key, 0, -1)
        _, members = await pipe.execute()
        if not members:
            return
        channel_names = [member.decode("utf8") for member in members]
        by_connection, messages, capacities = self._map_channel_keys_to_connection(channel_names, message)
        for index, keys in by_connection.items():
            now = time.time()
            args = [messages[k] for k in keys] + [capacities[k] for k in keys]
            args += [now, self.expiry, int(now) - int(self.expiry)]
            over_capacity = await self.connection(index).eval(_GROUP_SEND, len(keys), *keys, *args)
            if over_capacity > 0:
                logger.info("%s of %s channels over capacity in group %s", over_capacity, len(channel_names), group)

    async def receive_single(self, channel):
        """Stock: one message of `channel`. For this process's own channel (the only one the
        server receives on) everything waiting comes in one round trip."""
        if "!" not in channel:
            return await super().receive_single(channel)
        assert self.require_valid_channel_name(channel, receive=True), "Channel name invalid"
        index = self.consistent_hash(channel)
        connection = self.connection(index)
        channel_key = self.prefix + channel
        while True:
            popped = await connection.eval(
                _POP_BATCH, 0, channel_key, self._backup_channel_name(channel_key), self.receive_batch
            )
            members = popped[0::2]
            if members:
                break
            result = await connection.bzpopmin(channel_key, timeout=self.brpop_timeout)
            if result is not None:
                members = [result[1]]
                break
        # The caller (stock receive()) buffers what this returns, so it returns the newest: the
        # others are buffered first, keeping each consumer's messages in order.
        for member in members[:-1]:
            names, message = self._unpack(channel, member)
            for name in names if isinstance(names, list) else [names]:
                self.receive_buffer[name].put_nowait(message)
        return self._unpack(channel, members[-1])

    def _unpack(self, channel, member):
        message = self.deserialize(member)
        return message.pop("__asgi_channel__", channel), message
