"""Settings, all from the environment with defaults that run a fresh clone with no services.

Nothing set: DEBUG on, SQLite file, in-process channel layer.
DATABASE_URL / REDIS_URL switch to PostgreSQL / Redis with the same code paths.
"""

import importlib.util
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from rideshare.kernel import bounds
from rideshare.kernel import proxies as _proxies

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name, default=""):
    return os.environ.get(name, default)


def env_bool(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name, default):
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_float(name, default):
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def env_list(name, default):
    value = os.environ.get(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_boxes(name, default):
    """Boxes "min_lat,min_lon,max_lat,max_lon", several separated by ";"."""
    value = os.environ.get(name, "").strip()
    if not value:
        return [tuple(default)]
    boxes = []
    for part in value.split(";"):
        if not part.strip():
            continue
        try:
            numbers = [float(item) for item in part.split(",")]
        except ValueError:
            numbers = []
        if len(numbers) != 4 or numbers[0] > numbers[2] or numbers[1] > numbers[3]:
            raise ImproperlyConfigured(f"{name}: each box is min_lat,min_lon,max_lat,max_lon, got {part!r}")
        boxes.append(tuple(numbers))
    return boxes


def env_rate(name, default):
    """A DRF throttle rate like "10/min"; "off" (or "none") turns the throttle off."""
    value = os.environ.get(name, "").strip() or default
    return None if value.lower() in {"off", "none"} else value


DEBUG = env_bool("DEBUG", True)

_DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"
SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    # Refresh tokens rotated out (and their outstanding list) are refused: BLACKLIST_AFTER_ROTATION.
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "rideshare.accounts",
    "rideshare.idempotency",
    "drivers",
    "rides",
    "realtime",
    "realtime.push",
    "rideshare.console",
]

# Django's usual stack, each one a subclass of Django's own (rideshare/kernel/middleware.py): under
# ASGI a request never waits for a thread before its view (the hooks that do no I/O run on the
# event loop; sessions, CSRF, the session's user and messages run only for SESSION_PATHS).
# The paths a staff member reaches with the admin's login cookie; the rest are public or use JWTs.
SESSION_PATHS = ["/admin/", "/metrics"]
# Django finds its security, frame-options and CSRF middleware by their dotted paths; ours are
# subclasses, which rideshare.W001-W003 (rideshare/kernel/middleware.py) look for instead.
SILENCED_SYSTEM_CHECKS = ["security.W001", "security.W002", "security.W003"]
MIDDLEWARE = [
    # Outermost: whatever answers an /api/ path with an error, the answer is {detail, code} JSON.
    "rideshare.kernel.middleware.ApiErrorMiddleware",
    "rideshare.kernel.middleware.SecurityMiddleware",
    "rideshare.kernel.middleware.SessionMiddleware",
    # The request's language (Accept-Language: English or French) for error messages.
    "rideshare.kernel.middleware.LocaleMiddleware",
    "rideshare.kernel.middleware.CommonMiddleware",
    "rideshare.kernel.middleware.CsrfViewMiddleware",
    "rideshare.kernel.middleware.AuthenticationMiddleware",
    "rideshare.kernel.middleware.MessageMiddleware",
    "rideshare.kernel.middleware.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "rideshare.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The project's own pages and overrides (the ReDoc page without web fonts).
        "DIRS": [BASE_DIR / "rideshare" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

ASGI_APPLICATION = "rideshare.asgi.application"
WSGI_APPLICATION = None

# --- Database -------------------------------------------------------------------------------
# SQLite, however it is named (the default file or DATABASE_URL=sqlite:///...), always gets the
# same safety options: several threads write (views, signal receivers, batched positions), so a
# writer takes the lock when its transaction begins (IMMEDIATE: no deadlock-prone upgrade from a
# read lock), waits for it instead of failing, and WAL lets readers go on while one writes.
SQLITE_OPTIONS = {
    "timeout": 20,
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    # CONN_MAX_AGE=0 under ASGI: persistent connections leak across the threads that
    # sync_to_async uses, so each request opens and closes its own.
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
else:
    DATABASES = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": env_str("SQLITE_PATH", str(BASE_DIR / "db.sqlite3"))}
    }
_engine = DATABASES["default"]["ENGINE"]
if _engine in ("django.db.backends.sqlite3", "rideshare.sqlite"):
    # Django's backend, with the process's writers queued in turn (rideshare/sqlite/base.py).
    DATABASES["default"]["ENGINE"] = "rideshare.sqlite"
    DATABASES["default"]["OPTIONS"] = {**SQLITE_OPTIONS, **DATABASES["default"].get("OPTIONS", {})}
elif _engine == "django.db.backends.postgresql" and env_bool("DATABASE_POOL", False):
    # Opt-in psycopg pool: closing a connection returns it, so CONN_MAX_AGE=0 costs no reconnect.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env_int("DATABASE_POOL_MIN_SIZE", 2),
        "max_size": env_int("DATABASE_POOL_MAX_SIZE", 20),
        "timeout": env_float("DATABASE_POOL_TIMEOUT", 10.0),
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- Channel layer --------------------------------------------------------------------------
def channel_layer_prefix(redis_url, prefix):
    """The channel layer's key prefix for `redis_url`: CHANNEL_LAYER_PREFIX, plus the database
    number when it is not 0. Redis pub/sub ignores database numbers (a PUBLISH on db 1 reaches a
    subscriber on db 0), so two deployments told apart only by `/0` and `/1` in REDIS_URL would
    hear each other's events; their prefixes keep them apart."""
    from redis.connection import parse_url

    try:
        database = int(parse_url(redis_url).get("db") or 0)
    except ValueError as exc:
        raise ImproperlyConfigured(f"REDIS_URL {redis_url!r}: {exc}") from None
    return prefix if database == 0 else f"{prefix}.db{database}"


REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # Pub/sub: no per-message list keys and no blocking pops, so no socket timeout that
            # kills idle consumers; delivery is at-most-once like the core layer's, and the event
            # log covers what matters (see README "Reliability"). realtime.redis_layers: the
            # channels_redis classes with publishes pipelined (RedisPubSubLayer) or group sends in
            # two round trips and receives batched (RedisLayer); the stock class names work too.
            "BACKEND": env_str("CHANNEL_LAYER_BACKEND", "realtime.redis_layers.RedisPubSubLayer"),
            "CONFIG": {
                # Core layer: every consumer of a process shares one Redis queue, and stock's
                # capacity (100) is for that whole queue: a 100 ms stall at 1,000 positions/s and
                # group sends start dropping. Each consumer's own buffer keeps `capacity` (100).
                "channel_capacity": {"specific.*": env_int("CHANNEL_LAYER_PROCESS_CAPACITY", 10_000)},
                "hosts": [
                    {
                        "address": REDIS_URL,
                        # redis-py 8 defaults: 100 pooled connections (exhausted by connect storms)
                        # and a 5 s read timeout (the core layer blocks 5 s in BZPOPMIN).
                        "max_connections": env_int("REDIS_MAX_CONNECTIONS", 1000),
                        "socket_timeout": env_float("REDIS_SOCKET_TIMEOUT", 30.0),
                        "socket_connect_timeout": env_float("REDIS_CONNECT_TIMEOUT", 5.0),
                        "socket_keepalive": True,
                        "health_check_interval": env_int("REDIS_HEALTH_CHECK_INTERVAL", 15),
                        "retry_on_timeout": True,
                    }
                ],
                "prefix": channel_layer_prefix(REDIS_URL, env_str("CHANNEL_LAYER_PREFIX", "rideshare")),
            },
        }
    }
else:
    # One process, no Redis: realtime.layers, not channels' InMemoryChannelLayer, which scans every
    # channel and group on each receive and group_send and collapses at a few thousand sockets.
    CHANNEL_LAYERS = {"default": {"BACKEND": "realtime.layers.InProcessChannelLayer"}}

# --- Caches ---------------------------------------------------------------------------------
# Three caches, so that one kind of entry cannot push another out: "throttles" (the REST throttles'
# counters, rideshare/kernel/throttles.py), "acks" (the ids of applied socket messages,
# realtime/acks.py) and "default" (anything else). With Redis all three are that one Redis
# (CACHE_REDIS_URL, one key prefix, every key with a TTL), shared by every server process; it
# keeps them as long as its maxmemory-policy evicts nothing (Redis's default, noeviction).
# Embedded, each is this process's memory. LocMemCache's default size (300 entries, the least
# recently used third dropped when full) let 675 socket messages with ids erase the login counters
# and the ids themselves: these two hold far more entries than are alive at once (~350 bytes each)
# and drop a tenth when full, so what goes is what expired long ago.


def _redis_cache():
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env_str("CACHE_REDIS_URL", REDIS_URL),
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "rideshare"),
        "OPTIONS": {
            "socket_timeout": env_float("REDIS_SOCKET_TIMEOUT", 30.0),
            "socket_connect_timeout": env_float("REDIS_CONNECT_TIMEOUT", 5.0),
        },
    }


def _memory_cache(location, **options):
    # One LOCATION each: LocMemCache shares the memory of the caches that name the same one.
    return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": location, "OPTIONS": options}


if REDIS_URL:
    CACHES = {"default": _redis_cache(), "throttles": _redis_cache(), "acks": _redis_cache()}
else:
    CACHES = {
        "default": _memory_cache("rideshare"),
        # A counter per address, phone number or passenger that used a throttled endpoint within
        # its rate's period (an hour at most): up to ~35 MB.
        "throttles": _memory_cache("rideshare-throttles", MAX_ENTRIES=100_000, CULL_FREQUENCY=10),
        # An id per socket message with one, kept WS_ACK_ID_TTL_SECONDS (10 minutes): every id of
        # 300 such messages a second; past that, the oldest go first. Up to ~70 MB.
        "acks": _memory_cache("rideshare-acks", MAX_ENTRIES=200_000, CULL_FREQUENCY=10),
    }

# --- Auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

PHONE_DEFAULT_REGION = env_str("PHONE_DEFAULT_REGION", "CM")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rideshare.accounts.authentication.JWTAuthenticationWithLogContext"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # drf-spectacular's, documenting the {detail, code} error responses of every operation.
    "DEFAULT_SCHEMA_CLASS": "rideshare.kernel.schema.AutoSchema",
    "EXCEPTION_HANDLER": "rideshare.kernel.errors.api_exception_handler",
    # JSON that is too deep, not text or too large is a 400/413, never a 500 (rideshare/kernel).
    "DEFAULT_PARSER_CLASSES": [
        "rideshare.kernel.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rideshare.kernel.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    # Throttled views name their throttles (rideshare/kernel/throttles.py); these are the rates.
    # Per address limits are generous: mobile carriers put many phones behind one address (CGNAT).
    "DEFAULT_THROTTLE_RATES": {
        "login": env_rate("THROTTLE_LOGIN_RATE", "10/min"),  # per address
        "login_account": env_rate("THROTTLE_LOGIN_ACCOUNT_RATE", "20/hour"),  # per phone number
        "register": env_rate("THROTTLE_REGISTER_RATE", "20/hour"),  # per address
        "token_refresh": env_rate("THROTTLE_TOKEN_REFRESH_RATE", "60/min"),  # per address
        "ride_request": env_rate("THROTTLE_RIDE_REQUEST_RATE", "10/min"),  # per passenger
        "ride_request_address": env_rate("THROTTLE_RIDE_REQUEST_ADDRESS_RATE", "120/min"),  # per address
    },
    # 0: the client address is REMOTE_ADDR. Behind N reverse proxies that append to
    # X-Forwarded-For, N: the address the outermost proxy saw (clients cannot spoof it).
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env_int("JWT_ACCESS_TOKEN_LIFETIME", 15 * 60)),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=env_int("JWT_REFRESH_TOKEN_LIFETIME", 7 * 24 * 3600)),
    # Each refresh rotates; the token sent is blacklisted, once: of concurrent requests with one
    # token only the one whose blacklist row is inserted gets new tokens (accounts.serializers).
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": env_str("JWT_SIGNING_KEY", SECRET_KEY),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "AUTH_HEADER_TYPES": ("Bearer",),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Rideshare API",
    "DESCRIPTION": (
        "Ride-hailing backend: REST for actions, one WebSocket per app for events. "
        "The WebSocket protocol: [readable page](/api/docs/websocket/), as AsyncAPI 3.0 "
        "[/api/v1/ws/asyncapi.json](/api/v1/ws/asyncapi.json) ([YAML](/api/v1/ws/asyncapi.yaml)). "
        "The same REST reference in ReDoc: [/api/redoc/](/api/redoc/)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"VehicleTypeEnum": "drivers.models.VehicleType"},
    # Swagger UI and ReDoc from drf-spectacular-sidecar's static files, not a CDN: the docs load
    # offline and from nothing but this server. No validator badge (it calls validator.swagger.io).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
}

# --- Idempotent REST writes (rideshare/idempotency) ------------------------------------------
# A request's Idempotency-Key is remembered this long: a retry within it replays the first answer.
IDEMPOTENCY_KEY_TTL_SECONDS = env_int("IDEMPOTENCY_KEY_TTL_SECONDS", 24 * 3600)

# --- Domain ---------------------------------------------------------------------------------
# Fare per ride type, whole XAF: base + per_km * great-circle km, rounded to FARE_ROUNDING,
# never below minimum.
FARES = {
    "moto": {"base": 300, "per_km": 150, "minimum": 500},
    "car": {"base": 1000, "per_km": 350, "minimum": 1500},
}
FARE_ROUNDING = env_int("FARE_ROUNDING", 50)
FARE_CURRENCY = "XAF"

NEARBY_RADIUS_KM = env_float("NEARBY_RADIUS_KM", 5.0)
NEARBY_LIMIT = env_int("NEARBY_LIMIT", 20)
# A position older than this is not trusted for matching (the app stopped reporting).
DRIVER_POSITION_MAX_AGE_SECONDS = env_int("DRIVER_POSITION_MAX_AGE_SECONDS", 120)
# ETAs (rides.eta): great-circle km × the road factor at an average city speed per vehicle type,
# unless RIDE_ETA_FUNCTION names another function with the same signature (a routing service).
RIDE_ETA_FUNCTION = env_str("RIDE_ETA_FUNCTION", "rides.eta.great_circle_estimate")
ETA_ROAD_FACTOR = env_float("ETA_ROAD_FACTOR", 1.3)
ETA_SPEED_KMH_MOTO = env_float("ETA_SPEED_KMH_MOTO", 25.0)
ETA_SPEED_KMH_CAR = env_float("ETA_SPEED_KMH_CAR", 20.0)
# The assigned driver this close to the pickup (great-circle metres) is announced once per ride
# (`driver_approaching`).
DRIVER_APPROACHING_RADIUS_M = env_int("DRIVER_APPROACHING_RADIUS_M", 300)

# A driver's rating before anyone rated them (rides.ratings; then the average of their ratings).
DRIVER_DEFAULT_RATING = env_float("DRIVER_DEFAULT_RATING", 5.0)
if not bounds.RATING_MIN <= DRIVER_DEFAULT_RATING <= bounds.RATING_MAX:
    raise ImproperlyConfigured(f"DRIVER_DEFAULT_RATING must be between {bounds.RATING_MIN} and {bounds.RATING_MAX}")

# Sanity bounds of a trip (estimate and request): 400 trip_too_long / outside_service_area.
RIDE_MAX_DISTANCE_KM = env_float("RIDE_MAX_DISTANCE_KM", bounds.RIDE_MAX_DISTANCE_KM)
# Pickups must be inside one of these boxes (min_lat, min_lon, max_lat, max_lon); default: Cameroon.
SERVICE_AREA = env_boxes("SERVICE_AREA", bounds.SERVICE_AREA_CAMEROON)

# The server process's garbage collector (realtime.server): young collections every 100,000
# allocations rather than 700, full ones a hundred times rarer than Python's default. A full
# collection walks every object of every open socket (1.2-1.5 s at 10,000); cyclic garbage still
# goes in the young collections, the rest in the rare full ones. Empty: Python's defaults.
SERVER_GC_THRESHOLDS = [int(n) for n in env_list("SERVER_GC_THRESHOLDS", ["100000", "50", "100"])]

# Dispatch (rides.dispatching): a request is offered in waves of RIDE_OFFER_WAVE_SIZE drivers, the
# nearest not yet offered within the first of RIDE_OFFER_RADII_KM that has any; each wave stands
# RIDE_OFFER_TIMEOUT_SECONDS (or until all of it declined); after RIDE_REQUEST_TIMEOUT_SECONDS
# the request is cancelled by `system`, reason `no_driver_found`.
RIDE_OFFER_RADII_KM = sorted(float(km) for km in env_list("RIDE_OFFER_RADII_KM", ["2", "5", "10"]))
RIDE_OFFER_WAVE_SIZE = env_int("RIDE_OFFER_WAVE_SIZE", 5)
RIDE_OFFER_TIMEOUT_SECONDS = env_float("RIDE_OFFER_TIMEOUT_SECONDS", 15.0)
RIDE_REQUEST_TIMEOUT_SECONDS = env_float("RIDE_REQUEST_TIMEOUT_SECONDS", 180.0)
# How often the dispatcher looks for due waves (`manage.py dispatch`, or inside the server).
RIDE_DISPATCH_INTERVAL_SECONDS = env_float("RIDE_DISPATCH_INTERVAL_SECONDS", 1.0)
# The embedded default (no Redis: one server process) dispatches inside the server; a Redis
# deployment runs `manage.py dispatch` instead (any number of them).
RIDE_DISPATCH_IN_SERVER = env_bool("RIDE_DISPATCH_IN_SERVER", not REDIS_URL)

# --- Demo fleet (rideshare/demo) ------------------------------------------------------------
# Drivers that behave like driver apps, run inside the server when DEMO_FLEET is on (`make run`
# turns it on) or beside any server with `manage.py demo_fleet`.
DEMO_FLEET = env_bool("DEMO_FLEET", False)
DEMO_FLEET_URL = env_str("DEMO_FLEET_URL", "http://127.0.0.1:8000")  # the server the fleet talks to
DEMO_FLEET_SIZE = env_int("DEMO_FLEET_SIZE", 12)
DEMO_AUTO_ACCEPT = env_bool("DEMO_AUTO_ACCEPT", False)  # `make run` turns it on
DEMO_FLEET_ACCEPT_SHARE = env_float("DEMO_FLEET_ACCEPT_SHARE", 0.5)  # of offers; the rest are declined
# Of rides whose whole first wave the fleet declines, so that a second wave goes out and shows.
DEMO_FLEET_SECOND_WAVE_SHARE = env_float("DEMO_FLEET_SECOND_WAVE_SHARE", 0.3)
DEMO_FLEET_ANSWER_SECONDS = [float(s) for s in env_list("DEMO_FLEET_ANSWER_SECONDS", ["2", "6"])]
DEMO_FLEET_TICK_SECONDS = env_float("DEMO_FLEET_TICK_SECONDS", 2.0)
DEMO_FLEET_SPEED_KMH = env_float("DEMO_FLEET_SPEED_KMH", 40.0)
# Rides of these passengers are left to people (the README's walk-through, the console's driver pane).
DEMO_FLEET_SPARED_PASSENGERS = env_list("DEMO_FLEET_SPARED_PASSENGERS", ["+237670000001"])

# --- Realtime -------------------------------------------------------------------------------
# Browser origins allowed to open the WebSocket; native apps send no Origin and are accepted.
WS_ALLOWED_ORIGINS = env_list(
    "WS_ALLOWED_ORIGINS",
    ["http://localhost:8000", "http://127.0.0.1:8000"] if DEBUG else [],
)
# The handshake's cache of users seen recently (realtime.known_users).
WS_USER_CACHE_SECONDS = env_float("WS_USER_CACHE_SECONDS", 30.0)
WS_USER_CACHE_SIZE = env_int("WS_USER_CACHE_SIZE", 20000)
# Redis mode: a process's presence lives this long without a heartbeat; a crashed process's
# sockets stop counting after it.
PRESENCE_TTL_SECONDS = env_int("PRESENCE_TTL_SECONDS", 60)
PRESENCE_REFRESH_SECONDS = env_int("PRESENCE_REFRESH_SECONDS", 20)
# Redis mode: passengers' connections and disconnections are written in batches this often (0: at once).
PRESENCE_SYNC_SECONDS = env_float("PRESENCE_SYNC_SECONDS", 1.0)
# Positions sent over the socket are written to the database in batches this often.
LOCATION_FLUSH_SECONDS = env_float("LOCATION_FLUSH_SECONDS", 1.0)
# Staff consoles that sent watch_fleet get the fleet's changes this often (realtime.fleet).
FLEET_UPDATE_SECONDS = env_float("FLEET_UPDATE_SECONDS", 1.0)
# ...except a connection's first position, and the first after this long, written at once.
LOCATION_WRITE_THROUGH_SECONDS = env_float("LOCATION_WRITE_THROUGH_SECONDS", 30.0)
# POST /api/v1/drivers/me/location/ served on the event loop in front of Django (realtime/rest.py);
# off: every request goes through the DRF view.
REST_LOCATION_FAST_PATH = env_bool("REST_LOCATION_FAST_PATH", True)
# Reliable events are kept this long for resume; older resumes get `resync_required`.
EVENT_RETENTION_SECONDS = env_int("EVENT_RETENTION_SECONDS", 24 * 3600)
# The outbox relay republishes events whose own publish did not happen within this grace.
EVENT_RELAY_INTERVAL_SECONDS = env_float("EVENT_RELAY_INTERVAL_SECONDS", 2.0)
EVENT_RELAY_GRACE_SECONDS = env_float("EVENT_RELAY_GRACE_SECONDS", 2.0)
# A resume with more events than this to replay gets `resync_required` (`too_many`) instead.
WS_MAX_REPLAY_EVENTS = env_int("WS_MAX_REPLAY_EVENTS", 500)
# Open sockets per user; a connection beyond it closes the user's oldest one (4010).
WS_MAX_CONNECTIONS_PER_USER = env_int("WS_MAX_CONNECTIONS_PER_USER", 5)
# Client messages above this size get an error (daphne's own 1 MiB frame limit stays in place).
WS_MAX_MESSAGE_BYTES = env_int("WS_MAX_MESSAGE_BYTES", 64 * 1024)
# A client that does not read: positions are merged past the first figure, and the connection
# closed (4009) past the second. Both are bytes waiting in the server's send buffer.
WS_LATEST_WINS_BUFFER_BYTES = env_int("WS_LATEST_WINS_BUFFER_BYTES", 64 * 1024)
WS_MAX_BUFFERED_BYTES = env_int("WS_MAX_BUFFERED_BYTES", 1024 * 1024)
# SO_SNDBUF for WebSocket sockets; 0 leaves the OS default (the kernel's share is bounded by it).
WS_SOCKET_SEND_BUFFER_BYTES = env_int("WS_SOCKET_SEND_BUFFER_BYTES", 0)
# Per connection and message type: (burst, sustained per second). Unlisted types share "*".
WS_RATE_LIMITS = {
    "location_update": (10, 5.0),
    "ping": (20, 2.0),
    "join_ride": (10, 10 / 60),
    "leave_ride": (10, 10 / 60),
    "driver_online": (10, 10 / 60),
    "driver_offline": (10, 10 / 60),
    "resume": (5, 5 / 60),
    "watch_fleet": (5, 5 / 60),  # each one reads the whole fleet
    "*": (20, 5.0),
}
# This many rate-limited messages within WS_ABUSE_WINDOW_SECONDS closes the connection (4008).
WS_ABUSE_REJECTIONS = env_int("WS_ABUSE_REJECTIONS", 50)
WS_ABUSE_WINDOW_SECONDS = env_float("WS_ABUSE_WINDOW_SECONDS", 10.0)
# A client message's `id` is remembered this long for its user (realtime.acks): a resend within
# it is acknowledged, not applied again. In the "acks" cache (Redis with REDIS_URL; see Caches).
WS_ACK_ID_TTL_SECONDS = env_int("WS_ACK_ID_TTL_SECONDS", 600)
# A position's `recorded_at` up to this far ahead of the server's clock reads as now; further, refused.
WS_RECORDED_AT_MAX_SKEW_SECONDS = env_float("WS_RECORDED_AT_MAX_SKEW_SECONDS", 30.0)

# --- Push (realtime/push) -------------------------------------------------------------------
# Reliable ride events for a user with no open socket go to their registered devices. The server
# processes send them (PUSH_IN_SERVER); `manage.py send_push` runs the same sender elsewhere.
PUSH_IN_SERVER = env_bool("PUSH_IN_SERVER", True)
PUSH_INTERVAL_SECONDS = env_float("PUSH_INTERVAL_SECONDS", 1.0)
PUSH_BATCH_SIZE = env_int("PUSH_BATCH_SIZE", 100)  # deliveries claimed per round
# Sends in flight at once per process; each has PUSH_TIMEOUT_SECONDS in all (resolving, connecting,
# sending, reading the answer), so a push service that trickles or hangs holds back no other send.
PUSH_SEND_CONCURRENCY = env_int("PUSH_SEND_CONCURRENCY", 32)
PUSH_TIMEOUT_SECONDS = env_float("PUSH_TIMEOUT_SECONDS", 10.0)
# At shutdown the sends in flight get this long; the rest are abandoned (sent again after their lease).
PUSH_SHUTDOWN_GRACE_SECONDS = env_float("PUSH_SHUTDOWN_GRACE_SECONDS", 2.0)
# A failed send is tried again after PUSH_RETRY_BASE_SECONDS, doubling up to PUSH_RETRY_MAX_SECONDS
# (or the service's Retry-After), PUSH_MAX_ATTEMPTS times in all.
PUSH_MAX_ATTEMPTS = env_int("PUSH_MAX_ATTEMPTS", 5)
PUSH_RETRY_BASE_SECONDS = env_float("PUSH_RETRY_BASE_SECONDS", 2.0)
PUSH_RETRY_MAX_SECONDS = env_float("PUSH_RETRY_MAX_SECONDS", 300.0)
# How long a ride event is worth delivering (an offer: as long as it stands, RIDE_OFFER_TIMEOUT_SECONDS).
PUSH_TTL_SECONDS = env_int("PUSH_TTL_SECONDS", 3600)
# Devices per user; registering one more removes the user's least recently registered.
PUSH_MAX_DEVICES_PER_USER = env_int("PUSH_MAX_DEVICES_PER_USER", 10)
# Web Push (browsers, PWAs): a VAPID key pair (`manage.py generate_vapid_keys`) and a contact.
WEBPUSH_VAPID_PRIVATE_KEY = env_str("WEBPUSH_VAPID_PRIVATE_KEY")
WEBPUSH_VAPID_PUBLIC_KEY = env_str("WEBPUSH_VAPID_PUBLIC_KEY")
WEBPUSH_VAPID_SUBJECT = env_str("WEBPUSH_VAPID_SUBJECT")  # mailto:ops@example.cm or https://...
# The push services a subscription's endpoint may point at (a leading dot: any subdomain; * any):
# the server POSTs to these URLs, so an app cannot aim it at another host.
WEBPUSH_ENDPOINT_HOSTS = env_list(
    "WEBPUSH_ENDPOINT_HOSTS",
    ["fcm.googleapis.com", ".push.services.mozilla.com", ".notify.windows.com", ".push.apple.com"],
)
# FCM HTTP v1 (native apps): a service account's JSON key file; the project defaults to its project_id.
FCM_CREDENTIALS_FILE = env_str("FCM_CREDENTIALS_FILE")
FCM_PROJECT_ID = env_str("FCM_PROJECT_ID")
FCM_ENDPOINT = env_str("FCM_ENDPOINT", "https://fcm.googleapis.com")

# --- Operations -----------------------------------------------------------------------------
READINESS_TIMEOUT_SECONDS = env_float("READINESS_TIMEOUT_SECONDS", 2.0)
# /metrics answers these networks without authentication (Prometheus scrapers); staff anywhere.
METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS", ["127.0.0.1/32", "::1/128"])
# Reverse proxies whose X-Forwarded-For is believed: the client is the rightmost address of the
# header that is not one of these, and only when the direct peer is one of these (see
# rideshare/kernel/proxies.py). The default fits nginx on the same host.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", ["127.0.0.1/32", "::1/128"])
try:
    _proxies.networks(tuple(TRUSTED_PROXIES)) and _proxies.networks(tuple(METRICS_ALLOWED_NETWORKS))
except ValueError as exc:
    raise ImproperlyConfigured(f"TRUSTED_PROXIES / METRICS_ALLOWED_NETWORKS: {exc}") from None

# --- i18n / static --------------------------------------------------------------------------
# Error messages in English or French: REST from Accept-Language, the socket from ?lang= or the
# handshake's Accept-Language; anything else is English. The catalogue: locale/fr/LC_MESSAGES
# (the .po, and the compiled .mo committed beside it).
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# --- Web console (rideshare/console) ----------------------------------------------------------
# Leaflet as django-leaflet bundles it (static/leaflet/leaflet.js, .css), its static files only:
# the package is not an installed app, since the admin would then import its GeoDjango widgets
# (which need the GDAL library).
STATICFILES_DIRS = [
    ("leaflet", Path(importlib.util.find_spec("leaflet").submodule_search_locations[0]) / "static" / "leaflet"),
]
# Map tiles: any {z}/{x}/{y} URL (a tile server of your own, a loopback one offline); "" shows
# markers on a plain background. Tiles that fail to load leave the same plain background.
CONSOLE_TILE_URL = env_str("CONSOLE_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
CONSOLE_TILE_ATTRIBUTION = env_str(
    "CONSOLE_TILE_ATTRIBUTION", '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)

# --- Security (production) ------------------------------------------------------------------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # Probes and scrapers talk plain HTTP to the process port, not through the TLS proxy: a
    # redirect to https would fail every health check. (Paths without the leading slash.)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

LOG_FORMAT = env_str("LOG_FORMAT", "plain")  # "json": one JSON object per line
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "rideshare.kernel.logs.ContextAndRedactionFilter"},
        "cancelled_cleanup": {"()": "realtime.redis_layers.CancelledCleanupFilter"},
    },
    "formatters": {
        "plain": {"()": "rideshare.kernel.logs.PlainFormatter", "format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "rideshare.kernel.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # Django's own loggers propagate to root; daphne's access log is routed here by realtime.server.
    "loggers": {
        "django": {"handlers": [], "propagate": True},
        # A stopping server's sockets are not failures (realtime.redis_layers).
        "channels_redis.pubsub": {"filters": ["cancelled_cleanup"]},
    },
}
