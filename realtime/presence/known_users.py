"""The users the WebSocket handshake saw recently, so a reconnect costs no database query.

What is kept is what the handshake needs: the active user with their driver profile (driver or
not, driver id), for WS_USER_CACHE_SECONDS at most, WS_USER_CACHE_SIZE users at most (the oldest
go first). Inactive and unknown users are never kept: their handshakes always ask the database,
so 4001 and 4003 mean what they meant. An entry is forgotten in every server process when the
user or their driver profile is saved or deleted (realtime.signals broadcasts it through
realtime.delivery.dispatch to every process's inbox, realtime.serving.lifecycle); a change made where no server
process hears it (a command with the embedded in-process layer) is seen within the TTL.

Entries are read and written on the event loop; `forget` may be called from any thread (one
`dict.pop`, atomic under the GIL).
"""

import time

from django.conf import settings


class KnownUsers:
    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.entries = {}  # user id (str) -> (user, stored at); insertion order = age

    def get(self, user_id):
        entry = self.entries.get(str(user_id))
        if entry is None:
            return None
        user, stored_at = entry
        if self.clock() - stored_at > settings.WS_USER_CACHE_SECONDS:
            self.entries.pop(str(user_id), None)
            return None
        return user

    def put(self, user):
        if settings.WS_USER_CACHE_SIZE <= 0 or not user.is_active:
            return
        key = str(user.pk)
        self.entries.pop(key, None)
        self.entries[key] = (user, self.clock())
        while len(self.entries) > settings.WS_USER_CACHE_SIZE:
            self.entries.pop(next(iter(self.entries)), None)

    def forget(self, user_id):
        self.entries.pop(str(user_id), None)

    def clear(self):
        self.entries.clear()


known = KnownUsers()
