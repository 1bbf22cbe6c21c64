"""Redis away (the REDIS_URL mode): known, expected, and logged as such.

While Redis is unreachable, something in a server process retries it every second (the presence
rounds, the relay, channels_redis's receive loop, every handshake and every event sent). None of
that is a bug, so none of it is worth a traceback: a process logs an outage once, on its first
failure, and once more on the first success after (`redis`), and counts every failure
(`rideshare_redis_unreachable_total`). The callers answer in their own documented way meanwhile
(ws/stats: 503 `presence_unavailable`; a new socket: closed with 1011).
Anything else that fails is logged as before, with its traceback.
"""

import logging

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from . import metrics

logger = logging.getLogger(__name__)

UNREACHABLE = (RedisConnectionError, RedisTimeoutError)


def redis_unreachable(exc):
    """Whether `exc` is Redis not answering (refused, reset, timed out), not a failure of ours."""
    return isinstance(exc, UNREACHABLE)


class RedisOutage:
    """This process's view of Redis: answering, or failing since the first failure counted here.
    Called from the loop and from request threads alike: a race logs a line twice, nothing worse."""

    def __init__(self):
        self.failures = 0

    @property
    def away(self):
        return self.failures > 0

    def failed(self, during, exc):
        metrics.redis_unreachable.inc()
        self.failures += 1
        if self.failures == 1:
            logger.warning("Redis unreachable (%s: %s); retrying, and logging nothing more of it until it answers",
                           during, exc)

    def answered(self):
        if self.failures:
            failures, self.failures = self.failures, 0
            logger.warning("Redis answers again (%d failures while it was unreachable)", failures)


redis = RedisOutage()
