"""WS_MAX_CONNECTIONS_PER_USER: a user's newest connections are kept, the oldest closed (4010).

Which sockets count, whatever process holds them: this process's own (realtime.presence.presence.local)
plus, in the Redis mode, those other live processes wrote to Redis. A driver's socket is written
at once, so the cap holds across processes at the connect; a passenger's is written with the next
batch (PRESENCE_SYNC_SECONDS), and the cap across processes is applied then. Oldest means the
earliest opening time. The chosen sockets are told through `realtime.delivery.dispatch.close_replaced`, in
whichever process they are; two connections opening at the same moment in two processes may pick
the same oldest socket, leaving one socket over the cap until the user's next connection.
"""

from django.conf import settings


def over_cap(new_channel, sockets):
    """The channel names among `sockets` [(opened at, channel name)] to close, oldest first, so
    that at most the cap stay open (`new_channel` is always kept)."""
    cap = settings.WS_MAX_CONNECTIONS_PER_USER
    sockets = list(dict((name, at) for at, name in sockets).items())
    if not cap or len(sockets) <= cap:
        return []
    older = sorted((at, name) for name, at in sockets if name != new_channel)
    return [name for _, name in older[: len(sockets) - cap]]
