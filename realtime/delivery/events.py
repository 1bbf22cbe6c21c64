"""The one place that builds what the server sends: the envelope and every event payload.

Envelope: {"type", "data", "timestamp"} (+ "metadata" where the guide shows it). Timestamps are
ISO 8601 UTC with "Z"; ids are UUID strings; fares are integers; `driver_id` is the driver's user id.
Every `data` is built through its Struct in `realtime.protocol.wire`: a builder cannot emit a field the
protocol does not declare.
"""

import json
from datetime import timezone as dt_timezone

from django.utils import timezone

from realtime.protocol import wire
from rides import eta
from rides.matching import assignment_of


def iso(dt):
    if dt is None:
        return None
    return dt.astimezone(dt_timezone.utc).isoformat().replace("+00:00", "Z")


def now_iso():
    return iso(timezone.now())


def envelope(event_type, data, *, metadata=None):
    """The message for `data`, an instance of the event's declared Struct (`wire.SERVER_EVENTS`)."""
    declared = wire.SERVER_EVENTS[event_type]
    if type(data) is not declared.data:
        raise TypeError(f"{event_type} carries {declared.data.__name__}, not {type(data).__name__}")
    if (metadata is not None) != declared.ride_metadata:
        raise TypeError(f"{event_type} {'needs' if declared.ride_metadata else 'has no'} metadata")
    message = {"type": event_type, "data": wire.payload(data), "timestamp": now_iso()}
    if metadata is not None:
        message["metadata"] = wire.payload(metadata)
    return message


def encode(message):
    """Serialize once; the same text goes to every recipient."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


# --- connection and client-message replies --------------------------------------------------


def connected(user, *, last_event_id=0):
    return envelope(
        "connected",
        wire.ConnectedData(
            user_id=str(user.pk),
            phone_number=user.phone_number,
            is_driver=user.is_driver,
            full_name=user.full_name,
            # The newest reliable event this user can see: where a fresh app stands.
            last_event_id=last_event_id,
        ),
    )


def resync_required(reason, last_event_id):
    """The log cannot replay from where the app asked: reload state over REST, continue from here."""
    return envelope("resync_required", wire.ResyncRequiredData(reason=reason, last_event_id=last_event_id))


def pong(client_timestamp=None):
    return envelope("pong", wire.PongData(timestamp=client_timestamp or now_iso()))


def ack(request_id, message_type):
    """A client message with an `id` was applied (realtime.connections.acks)."""
    return envelope("ack", wire.AckData(id=request_id, type=message_type))


def error(code, message, **extra):
    return envelope("error", wire.ErrorData(code=code, message=message, **extra))


def ride_joined(ride_id):
    return envelope("ride_joined", wire.RideJoinedData(ride_id=str(ride_id)))


def ride_left(ride_id):
    return envelope("ride_left", wire.RideLeftData(ride_id=str(ride_id)))


def driver_status(driver):
    """Reply to `driver_online` / `driver_offline` on the connection that sent it."""
    return envelope(
        "driver_status", wire.DriverStatusData(driver_id=str(driver.pk), is_online=driver.is_online)
    )


def driver_availability_changed(driver):
    """To all of a driver's connections (other devices) when availability changes, whatever changed it."""
    return envelope(
        "driver_availability_changed",
        wire.DriverAvailabilityChangedData(driver_id=str(driver.pk), is_online=driver.is_online),
    )


# --- ride lifecycle -------------------------------------------------------------------------


def _ride_meta(ride):
    return wire.RideMetadata(ride_id=str(ride.pk))


def ride_requested(ride, offer):
    """The offer of `ride` to one driver (`offer.driver`, its position loaded): how long it stands,
    how far and how long the pickup is from where the driver is."""
    driver = offer.driver
    to_pickup = eta.estimate(
        driver.latitude, driver.longitude, ride.pickup_latitude, ride.pickup_longitude, driver.vehicle_type
    )
    return envelope(
        "ride_requested",
        wire.RideRequestedData(
            ride_id=str(ride.pk),
            passenger_id=str(ride.passenger_id),
            ride_type=ride.ride_type,
            pickup_latitude=ride.pickup_latitude,
            pickup_longitude=ride.pickup_longitude,
            dropoff_latitude=ride.dropoff_latitude,
            dropoff_longitude=ride.dropoff_longitude,
            estimated_fare=int(ride.estimated_fare),
            offer_expires_at=iso(offer.expires_at),
            pickup_distance_km=to_pickup.distance_km,
            pickup_eta_minutes=to_pickup.eta_minutes,
        ),
        metadata=_ride_meta(ride),
    )


def ride_declined(ride_id):
    """Acknowledges decline_ride on the connection that sent it."""
    return envelope("ride_declined", wire.RideDeclinedData(ride_id=str(ride_id)))


def estimated_arrival_minutes(driver, ride):
    """Minutes from the driver's last position to the pickup (rides.eta)."""
    if not driver.has_position:
        return None
    return eta.estimate(
        driver.latitude, driver.longitude, ride.pickup_latitude, ride.pickup_longitude, ride.ride_type
    ).eta_minutes


def ride_accepted(ride):
    driver = ride.driver
    return envelope(
        "ride_accepted",
        wire.RideAcceptedData(
            ride_id=str(ride.pk),
            driver_id=str(driver.pk),
            driver_name=driver.user.full_name,
            vehicle_type=driver.vehicle_type,
            vehicle_plate=driver.vehicle_plate,
            vehicle_color=driver.vehicle_color,
            driver_rating=float(driver.rating),
            estimated_arrival=estimated_arrival_minutes(driver, ride),
        ),
        metadata=_ride_meta(ride),
    )


def driver_arrived(ride):
    return envelope(
        "driver_arrived",
        wire.DriverArrivedData(
            ride_id=str(ride.pk), driver_id=str(ride.driver_id), arrived_at=iso(ride.arrived_at)
        ),
        metadata=_ride_meta(ride),
    )


def ride_started(ride):
    return envelope(
        "ride_started",
        wire.RideStartedData(ride_id=str(ride.pk), started_at=iso(ride.started_at)),
        metadata=_ride_meta(ride),
    )


def ride_completed(ride):
    return envelope(
        "ride_completed",
        wire.RideCompletedData(
            ride_id=str(ride.pk), final_fare=int(ride.final_fare), completed_at=iso(ride.completed_at),
            can_rate=True,  # both participants may rate a completed ride (rides.ratings)
        ),
        metadata=_ride_meta(ride),
    )


def ride_cancelled(ride):
    return envelope(
        "ride_cancelled",
        wire.RideCancelledData(
            ride_id=str(ride.pk),
            cancelled_by=ride.cancelled_by,
            reason=ride.cancel_reason,
            cancelled_at=iso(ride.cancelled_at),
        ),
        metadata=_ride_meta(ride),
    )


def ride_unavailable(ride, reason):
    """To drivers who were offered the ride and can no longer take it: drop it from the screen."""
    return envelope(
        "ride_unavailable",
        wire.RideUnavailableData(ride_id=str(ride.pk), reason=reason),
        metadata=_ride_meta(ride),
    )


# --- drivers --------------------------------------------------------------------------------


def driver_location_update(driver_id, assignment, *, latitude, longitude, heading, speed, recorded_at):
    """A position of the driver of `assignment` (rides.matching.Assignment), with the distance and
    minutes to its target: the pickup, or the drop-off once the ride is started."""
    estimate = assignment.estimate(latitude, longitude)
    return envelope(
        "driver_location_update",
        wire.DriverLocationUpdateData(
            driver_id=str(driver_id),
            ride_id=str(assignment.ride_id),
            latitude=latitude,
            longitude=longitude,
            heading=heading,
            speed=speed,
            recorded_at=iso(recorded_at),
            distance_km=estimate.distance_km,
            eta_minutes=estimate.eta_minutes,
        ),
    )


def driver_location_update_from(driver, ride):
    """The event for a saved driver's stored position on their active `ride`."""
    return driver_location_update(
        driver.pk,
        assignment_of(ride),
        latitude=driver.latitude,
        longitude=driver.longitude,
        heading=driver.heading,
        speed=driver.speed,
        recorded_at=driver.location_updated_at,
    )


def driver_approaching(assignment, driver_id, *, distance_m, eta_minutes):
    return envelope(
        "driver_approaching",
        wire.DriverApproachingData(
            ride_id=str(assignment.ride_id), driver_id=str(driver_id), distance_m=distance_m, eta_minutes=eta_minutes
        ),
        metadata=wire.RideMetadata(ride_id=str(assignment.ride_id)),
    )


def fleet_update(*, full, drivers, removed_driver_ids, rides):
    return envelope(
        "fleet_update",
        wire.FleetUpdateData(full=full, drivers=drivers, removed_driver_ids=removed_driver_ids, rides=rides),
    )


def fleet_unwatched():
    return envelope("fleet_unwatched", wire.FleetUnwatchedData())
