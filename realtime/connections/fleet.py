"""The fleet as the ops map sees it (`watch_fleet`): every online driver and every open ride.

Each server process answers its own watchers (staff consoles, a handful): a watcher gets the whole
fleet at once, then, every FLEET_UPDATE_SECONDS (the lifecycle's `fleet` job), what changed since
the last round. The rounds read the database (rides.selectors.fleet: two queries), not the channel
layer: a driver's position reaches the database within LOCATION_FLUSH_SECONDS wherever it was sent
(socket or REST, in any process), and the map needs a second's freshness, not every message.
Nothing is read while nobody watches.

Who may watch is read from the database too, on `watch_fleet` and in every round: a socket's user
is the one its handshake read, so a staff member demoted since (REST answers 403 at once) would
otherwise keep the map until the token expires. A round drops a watcher who is no longer active
staff with an `error` `permission_denied`.
"""

import logging
import weakref

from django.contrib.auth import get_user_model

from realtime.delivery import events
from realtime.protocol import wire
from rides import selectors
from rides.models import DRIVER_ACTIVE_STATUSES
from rideshare.kernel.db import db_call
from rideshare.kernel.errors import Forbidden

from .actions import ONLY_STAFF
from .connection import SocketGone

logger = logging.getLogger(__name__)


def _driver(row, busy):
    return wire.FleetDriver(
        driver_id=str(row["user_id"]),
        name=row["user__full_name"],
        vehicle_type=row["vehicle_type"],
        latitude=row["latitude"],
        longitude=row["longitude"],
        heading=row["heading"],
        busy=busy,
        location_updated_at=events.iso(row["location_updated_at"]),
    )


def _ride(row):
    return wire.FleetRide(
        ride_id=str(row["id"]),
        status=row["status"],
        ride_type=row["ride_type"],
        pickup_latitude=row["pickup_latitude"],
        pickup_longitude=row["pickup_longitude"],
        dropoff_latitude=row["dropoff_latitude"],
        dropoff_longitude=row["dropoff_longitude"],
        driver_id=str(row["driver_id"]) if row["driver_id"] is not None else None,
        requested_at=events.iso(row["requested_at"]),
    )


def load_state():
    """(driver id -> FleetDriver, ride id -> FleetRide), in a database thread."""
    driver_rows, ride_rows = selectors.fleet()
    busy = {row["driver_id"] for row in ride_rows if row["status"] in DRIVER_ACTIVE_STATUSES}
    drivers = {str(row["user_id"]): _driver(row, row["user_id"] in busy) for row in driver_rows}
    rides = {str(row["id"]): _ride(row) for row in ride_rows}
    return drivers, rides


def ended_rides(ride_ids):
    return [_ride(row) for row in selectors.rides_by_id(ride_ids)]


def staff_now(user_ids):
    """The ids among `user_ids` of users who are active staff now, in a database thread."""
    users = get_user_model().objects.filter(pk__in=user_ids, is_staff=True, is_active=True)
    return set(users.values_list("pk", flat=True))


def round_state(watcher_ids):
    """A round's reads in one database thread: the fleet, and which watchers may still see it."""
    return *load_state(), staff_now(watcher_ids)


class FleetWatch:
    """This process's watchers and the fleet as last sent to them."""

    def __init__(self):
        # Weak: a connection that ended without unwatching (cancelled at shutdown) is not kept.
        self.watchers = weakref.WeakSet()
        self.drivers = None  # as of the last round; None while nobody watches
        self.rides = None

    async def watch(self, connection):
        """The whole fleet to `connection` now; changes from the next round on."""
        drivers, rides, staff = await db_call(round_state)([connection.user.pk])
        if connection.user.pk not in staff:
            raise Forbidden(ONLY_STAFF, code="permission_denied")
        if not self.watchers or self.drivers is None:
            self.drivers, self.rides = drivers, rides  # the rounds' starting point
        self.watchers.add(connection)
        await connection.send_event(
            events.fleet_update(full=True, drivers=list(drivers.values()), removed_driver_ids=[], rides=list(rides.values()))
        )

    def unwatch(self, connection):
        self.watchers.discard(connection)
        if not self.watchers:
            self.drivers = self.rides = None

    async def send_changes(self):
        """One round: what changed since the last one, to every watcher (nothing if nothing did)."""
        if not self.watchers:
            self.drivers = self.rides = None
            return
        watching = list(self.watchers)
        drivers, rides, staff = await db_call(round_state)({c.user.pk for c in watching})
        for connection in watching:
            if connection.user.pk not in staff:
                await self._drop_demoted(connection)
        if not self.watchers:
            return
        previous_drivers, previous_rides = self.drivers or {}, self.rides or {}
        self.drivers, self.rides = drivers, rides
        changed_drivers = [d for key, d in drivers.items() if previous_drivers.get(key) != d]
        removed = [key for key in previous_drivers if key not in drivers]
        changed_rides = [r for key, r in rides.items() if previous_rides.get(key) != r]
        gone = [key for key in previous_rides if key not in rides]
        if gone:
            changed_rides += await db_call(ended_rides)(gone)
        if not (changed_drivers or removed or changed_rides):
            return
        message = events.fleet_update(
            full=False, drivers=changed_drivers, removed_driver_ids=removed, rides=changed_rides
        )
        for connection in list(self.watchers):
            try:
                await connection.send_event(message)
            except SocketGone:
                self.unwatch(connection)  # its own clean-up follows

    async def _drop_demoted(self, connection):
        self.unwatch(connection)
        try:
            await connection.send_error("permission_denied", ONLY_STAFF, request_type="watch_fleet")
        except SocketGone:
            pass  # its own clean-up follows


watchers = FleetWatch()
