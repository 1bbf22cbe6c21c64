"""The users seen recently, with their driver profile, so a reconnect or a driver's next position
costs no database query (the WebSocket handshake, realtime.connections.auth; the async REST views,
drivers.authentication).

What is kept is an active user with their driver profile (driver or not), for
WS_USER_CACHE_SECONDS at most, WS_USER_CACHE_SIZE users at most (the least recently used go first:
cachetools.TTLCache). Inactive and unknown users are never kept: they are always asked of the
database, so a refused token means what it meant. An entry is forgotten in every server process
when the user or their driver profile is saved or deleted (realtime.signals broadcasts it through
realtime.delivery.dispatch to every process's inbox, realtime.serving.lifecycle); a change made
where no server process hears it (a command with the embedded in-process layer) is seen within the
TTL.

Read and written on the event loop; `forget` may also be called from another thread (a receiver
after commit): a lock keeps the cache's bookkeeping whole.
"""

import threading
import time

from cachetools import TTLCache
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver


class KnownUsers:
    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.lock = threading.Lock()
        self._cache = None

    def _entries(self):
        if self._cache is None:
            self._cache = TTLCache(max(settings.WS_USER_CACHE_SIZE, 1), settings.WS_USER_CACHE_SECONDS, timer=self.clock)
        return self._cache

    @property
    def entries(self):
        with self.lock:
            return dict(self._entries())

    def get(self, user_id):
        with self.lock:
            return self._entries().get(str(user_id))

    def put(self, user):
        if settings.WS_USER_CACHE_SIZE <= 0 or not user.is_active:
            return
        with self.lock:
            self._entries()[str(user.pk)] = user

    def forget(self, user_id):
        with self.lock:
            self._entries().pop(str(user_id), None)

    def clear(self):
        with self.lock:
            self._cache = None  # sized again from the settings on next use


known = KnownUsers()


@receiver(setting_changed)
def _resize(setting, **kwargs):
    if setting in ("WS_USER_CACHE_SIZE", "WS_USER_CACHE_SECONDS"):
        known.clear()
