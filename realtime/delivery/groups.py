"""Channel-layer group names. Participants hear a ride through their user group; the ride group
is for observers (staff) who joined it, so no connection is in both for the same ride."""


def user_group_name(user_id):
    return f"user.{user_id}"


def ride_group_name(ride_id):
    return f"ride.{ride_id}"
