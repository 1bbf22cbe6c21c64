"""The limits of the values every channel shares (REST serializers, the WebSocket protocol and its
AsyncAPI document): written once here, as plain numbers, so they cannot drift apart.

All bounds are inclusive. Plain constants only: importable from anywhere (drivers/, rides/,
realtime/) without pulling in Django or DRF.
"""

# A position, in decimal degrees (WGS 84).
LATITUDE_MIN = -90
LATITUDE_MAX = 90
LONGITUDE_MIN = -180
LONGITUDE_MAX = 180

# The direction of travel in degrees clockwise from north, as reported; stored rounded to a
# whole degree modulo 360, so what goes out is 0..359.
HEADING_MIN = 0
HEADING_MAX = 359.999
HEADING_STORED_MAX = 359


def stored_heading(heading):
    """A reported heading as stored and sent: a whole degree, 0..359 (None stays None)."""
    return None if heading is None else int(round(heading)) % 360

# Ground speed in km/h: anything faster is a broken GPS fix, not a car.
SPEED_MIN = 0
SPEED_MAX = 400

# Fares are whole XAF.
FARE_MIN = 0

# A driver's rating.
RATING_MIN = 1
RATING_MAX = 5

# Minutes to the pickup; never announced as 0.
ETA_MINUTES_MIN = 1

# Reliable event ids start at 1; a cursor (what a client has seen) starts at 0.
EVENT_ID_MIN = 1
EVENT_CURSOR_MIN = 0

# A JSON request body: deeper nesting than this is refused (400 parse_error) before any
# serializer sees it. No request of the API nests more than 3 levels.
JSON_MAX_DEPTH = 32

# Trips (REST estimate and request). The longest trip served, great-circle km, and the service
# area: boxes (min_lat, min_lon, max_lat, max_lon) a pickup must be inside. The default box covers
# Cameroon (Yaoundé, Douala and every other city); settings can narrow it (SERVICE_AREA).
RIDE_MAX_DISTANCE_KM = 100
SERVICE_AREA_CAMEROON = (1.6, 8.4, 13.1, 16.2)
