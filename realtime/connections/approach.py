"""The approaching driver: `driver_approaching` to the passenger and the driver, once per ride,
the first time the assigned driver reports a position within DRIVER_APPROACHING_RADIUS_M of the
pickup while the ride is `accepted`.

Whether a position is that close is decided in memory from the connection's (or the REST
request's) `rides.matching.Assignment`; only then is the database asked, once:
`rides.services.claim_approach_announcement` is one conditional UPDATE, so of every socket,
process and REST request reporting the same approach exactly one logs the event. The event is
reliable (realtime.delivery.eventlog), logged in the transaction that claims it.
"""

from django.db import transaction

from realtime.delivery import eventlog, events
from rides.services import claim_approach_announcement
from rideshare.kernel.db import db_call


def announce_once(driver_id, assignment, distance_m, latitude, longitude):
    """In a database thread, or inside the transaction that saved the position: claim the
    announcement and log it if this caller won. True if it was logged."""
    with transaction.atomic():
        if not claim_approach_announcement(assignment.ride_id):
            return False  # announced already, or the driver arrived meanwhile
        minutes = assignment.estimate(latitude, longitude).eta_minutes
        message = events.driver_approaching(assignment, driver_id, distance_m=distance_m, eta_minutes=minutes)
        eventlog.record(message, user_ids=[assignment.passenger_id, driver_id], ride_id=assignment.ride_id,
                        observers=True)
        return True


def announce_if_close_now(driver_id, assignment, latitude, longitude):
    """Sync form (a position saved by the DRF view, inside its transaction)."""
    distance_m = assignment.approach_distance_m(latitude, longitude)
    if distance_m is not None:
        announce_once(driver_id, assignment, distance_m, latitude, longitude)


async def announce_if_close(driver_id, assignment, position):
    """The assignment to keep after this position: `assignment` itself while the driver is not
    close yet (no query), else the same with the approach decided (announced by this call or
    before), so the caller never asks again."""
    latitude, longitude = position["latitude"], position["longitude"]
    distance_m = assignment.approach_distance_m(latitude, longitude)
    if distance_m is None:
        return assignment
    await db_call(announce_once)(driver_id, assignment, distance_m, latitude, longitude)
    return assignment._replace(approach_unannounced=False)
