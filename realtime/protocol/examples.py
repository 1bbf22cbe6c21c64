"""An example of every wire message, made from its JSON Schema (`realtime.protocol.asyncapi`).

The shape is the schema's (required members, `const` and `enum` values, bounds), so an example
cannot drift from the declaration in `realtime.protocol.wire`; only the values are picked here, by member
name, to read like a ride in Yaoundé rather than like `"string"` and `0`.
"""

RIDE_ID = "3f0c7d3e-8a9b-4c1d-9e2f-0a1b2c3d4e5f"
PASSENGER_ID = "0b6e7a52-4d1f-4a8e-9c3b-5f2d1e0a9b87"
DRIVER_ID = "8d2c4f6a-1b3e-4c5d-8e7f-9a0b1c2d3e4f"
OTHER_ID = "5a1e2b3c-4d5e-4f60-8172-93a4b5c6d7e8"
TIMESTAMP = "2026-03-02T08:15:30Z"

# By member name; used where the schema allows the value (an enum that lacks it wins).
SAMPLES = {
    "ride_id": RIDE_ID,
    "passenger_id": PASSENGER_ID,
    "user_id": PASSENGER_ID,
    "driver_id": DRIVER_ID,
    "phone_number": "+237670000001",
    "full_name": "Awa Ngono",
    "driver_name": "Jean Mbarga",
    "name": "Jean Mbarga",
    "vehicle_type": "moto",
    "ride_type": "moto",
    "vehicle_plate": "LT-482-MT",
    "vehicle_color": "Red",
    "driver_rating": 4.8,
    "latitude": 3.8502,
    "longitude": 11.5031,
    "pickup_latitude": 3.848,
    "pickup_longitude": 11.502,
    "dropoff_latitude": 3.866,
    "dropoff_longitude": 11.516,
    "heading": 180,
    "speed": 22.5,
    "estimated_fare": 850,
    "final_fare": 850,
    "distance_km": 1.2,
    "pickup_distance_km": 0.4,
    "distance_m": 240,
    "eta_minutes": 3,
    "pickup_eta_minutes": 2,
    "estimated_arrival": 3,
    "status": "accepted",
    "cancelled_by": "passenger",
    "reason": "changed plans",
    "code": "ride_not_found",
    "message": "Ride not found.",
    "request_type": "join_ride",
    "last_event_id": 42,
    "id": 43,
    "timestamp": TIMESTAMP,
    "is_online": True,
    "busy": False,
    "type": "location_update",  # an ack's: the message it acknowledges
}
# Where a name means two things: a reliable event's `id` (the log's integer), a client message's
# `id` (the app's own string, echoed in `ack`).
STRING_SAMPLES = {"id": "pos-0042"}
# Optional members shown in examples; the others (an error's `errors`, `field`...) only in the schema.
OPTIONAL_SHOWN = {"timestamp", "heading", "speed", "request_type", "recorded_at"}


def example(schema, name=None):
    """A value `schema` accepts."""
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    samples = STRING_SAMPLES if schema.get("type") == "string" and name in STRING_SAMPLES else SAMPLES
    if name in samples and (enum is None or samples[name] in enum):
        return samples[name]
    if enum:
        return enum[0]
    if "anyOf" in schema:
        branches = [branch for branch in schema["anyOf"] if branch.get("type") != "null"]
        return example(branches[0], name)
    kind = schema.get("type")
    if kind == "object":
        required = set(schema.get("required", ()))
        return {
            member: example(subschema, member)
            for member, subschema in schema.get("properties", {}).items()
            if member in required or member in OPTIONAL_SHOWN
        }
    if kind == "array":
        return [example(schema["items"])]
    if kind == "string":
        if schema.get("format") == "uuid":
            return OTHER_ID
        return TIMESTAMP if schema.get("format") == "date-time" else "text"
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "boolean":
        return True
    return None
