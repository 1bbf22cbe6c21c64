"""Per connection: which reliable events have been delivered, so each id goes out once and in order.

The app says where it stands (`last_event_id`, or the newest id at connect); every reliable live
event to a user carries that user's previous event id (`prev`). An id at or below the position is
a duplicate; a `prev` above it means something was missed (a full channel, a publish that
overtook another) and the log must fill the gap first. Events a staff observer hears through a
ride group carry no `prev`: they are live only, and sent once even if the same id also comes
through the user's own stream.

Positions (latest-wins, no id) carry the time the driver recorded them: one at or before the last
position this connection delivered for the same driver is dropped. The resume snapshot and the
live relay can both carry the same position (it was relayed while the socket was joining), and a
marker must never step back in time.

Plain state, no I/O: the consumer asks, then sends or reads the log.
"""

from collections import deque
from enum import Enum


class Decision(Enum):
    SEND = "send"
    DROP = "drop"
    CATCH_UP = "catch_up"  # read the log after `position` first (it includes this event)


class DeliveryCursor:
    def __init__(self, position=0, memory=256):
        self.position = position  # the last reliable id delivered on this user's stream
        self.recent = deque(maxlen=memory)  # ids delivered lately by any route
        self.positions = None  # {latest_key: recorded_at timestamp} delivered; made on the first

    def fresh_position(self, latest_key, recorded_at):
        """A latest-wins position: SEND if newer than the last delivered for `latest_key`."""
        if latest_key is None or recorded_at is None:
            return Decision.SEND
        if self.positions is None:
            self.positions = {}
        elif recorded_at <= self.positions.get(latest_key, float("-inf")):
            return Decision.DROP
        self.positions[latest_key] = recorded_at
        return Decision.SEND

    def decide(self, message):
        """For a message from realtime.delivery.dispatch: latest-wins (no id) unless stale; an id
        without `prev` was heard as an observer; with `prev`, it is on the user's own stream."""
        event_id = message.get("id")
        if event_id is None:
            return self.fresh_position(message.get("latest_key"), message.get("recorded_at"))
        if "prev" not in message:
            return self.observed(event_id)
        return self.live(event_id, message["prev"])

    def live(self, event_id, prev):
        """For an event on the user's own stream (it carries `prev`)."""
        if event_id <= self.position:
            return Decision.DROP
        if prev is not None and prev > self.position:
            return Decision.CATCH_UP
        self.position = event_id
        return self._once(event_id)

    def observed(self, event_id):
        """For an event heard through an observed ride (no `prev`, never replayed)."""
        return self._once(event_id)

    def replay(self, rows):
        """The rows (id, type, text) from the log still to deliver, in order; advances as it goes."""
        for row in rows:
            if row[0] > self.position:
                self.position = row[0]
                self.recent.append(row[0])
                yield row

    def _once(self, event_id):
        if event_id in self.recent:
            return Decision.DROP
        self.recent.append(event_id)
        return Decision.SEND
