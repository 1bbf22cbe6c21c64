"""Per-connection rate limits: a token bucket per message type, and a count of rejections.

Both take a `clock` (a callable returning seconds, time.monotonic by default) so tests can drive
time explicitly instead of sleeping."""

import time
from collections import deque


class TokenBucket:
    __slots__ = ("capacity", "clock", "rate", "tokens", "updated")

    def __init__(self, capacity, rate, clock=time.monotonic):
        self.capacity = capacity
        self.rate = rate
        self.clock = clock
        self.tokens = float(capacity)
        self.updated = clock()

    def take(self):
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class ConnectionLimiter:
    def __init__(self, limits, abuse_rejections, abuse_window_seconds, clock=time.monotonic):
        self.limits = limits
        self.buckets = {}
        self.rejections = deque()
        self.abuse_rejections = abuse_rejections
        self.abuse_window = abuse_window_seconds
        self.clock = clock

    def allow(self, message_type):
        key = message_type if message_type in self.limits else "*"
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = TokenBucket(*self.limits[key], clock=self.clock)
        return bucket.take()

    def rejected(self):
        """Record a rejection; True when the connection has been abusive long enough to close."""
        now = self.clock()
        self.rejections.append(now)
        while self.rejections and self.rejections[0] < now - self.abuse_window:
            self.rejections.popleft()
        return len(self.rejections) >= self.abuse_rejections
