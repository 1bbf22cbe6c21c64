"""Settings for the server under test: the app's own settings, minus what would throttle or
flood a benchmark. Everything else (database, channel layer, limits) is whatever
rideshare.settings configures from the environment, so improvements there show up here."""

import os

from rideshare.settings import *  # noqa: F401,F403
from rideshare.settings import LOGGING, REST_FRAMEWORK

# The load generator sends far more than a phone would: never rate-limit it.
WS_RATE_LIMITS = {key: (100_000, 100_000.0) for key in (
    "location_update", "ping", "join_ride", "leave_ride", "driver_online", "driver_offline", "resume", "*",
)}
WS_ABUSE_REJECTIONS = 1_000_000
# ...nor throttle its REST requests: every simulated passenger comes from one address.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {scope: None for scope in REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]},
}

# Setting up 10,000 drivers' sockets takes longer than the 2-minute freshness window; the query
# still applies the filter, only the window is wider.
DRIVER_POSITION_MAX_AGE_SECONDS = int(os.environ.get("BENCH_POSITION_MAX_AGE_SECONDS", 3600))

# Warnings and errors only (every request at INFO would cost more than some handlers).
LOGGING = {**LOGGING, "root": {**LOGGING["root"], "level": os.environ.get("LOG_LEVEL", "WARNING")}}
