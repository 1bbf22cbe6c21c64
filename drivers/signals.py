"""What drivers announce besides their saves.

`position_reported`: a driver's app sent a position over REST (`POST drivers/me/location/`), sent
by `drivers.services.report_position` with `Signal.asend`, so receivers are coroutines on the
event loop. Arguments: `driver` (the Driver, its position not yet stored) and `position` (a dict:
latitude, longitude, heading, speed, recorded_at). The position service listens
(realtime.connections.positions.report_from_rest): it relays the position to the passenger of the
driver's active ride, stores it (at once, or in the next batch) and checks the approach, the same
steps a position sent over the socket takes.
"""

from django.dispatch import Signal

position_reported = Signal()
