"""WS_MAX_CONNECTIONS_PER_USER: a user's newest connections are kept, the oldest closed (4010).

Which sockets count, whatever process holds them: this process's own from `presence.local`
(including passenger sockets whose rows are not written yet: they are batched every
PRESENCE_SYNC_SECONDS), plus the fresh `Connection` rows of every other process. A passenger
socket another process opened less than PRESENCE_SYNC_SECONDS ago has no row yet and is not
counted: the cap then holds from the user's next connection. Oldest means the earliest
`connected_at` (this process: when the socket opened). The chosen sockets are told through
`realtime.dispatch.close_replaced`, in whichever process they are; two connections opening at
the same moment in two processes may pick the same oldest socket, leaving one socket over the
cap until the next connection.
"""

from django.conf import settings

from . import presence


def local_view(user_id):
    """Taken on the loop: this process's sockets of the user."""
    return presence.local.sockets_of(user_id)


def replaced(new_channel, local_sockets, user_id):
    """In a database thread: the channel names to close, oldest first, so that at most the cap
    stay open (the new connection, in `local_sockets`, is always kept)."""
    cap = settings.WS_MAX_CONNECTIONS_PER_USER
    if not cap:
        return []
    sockets = local_sockets + presence.other_processes_sockets(user_id)
    if len(sockets) <= cap:
        return []
    older = sorted((at, name) for at, name in sockets if name != new_channel)
    return [name for _, name in older[: len(sockets) - cap]]
