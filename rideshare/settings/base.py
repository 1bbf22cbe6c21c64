"""The settings every process needs: Django, the database, caches, authentication, the domain's
rules, operations, languages and production security. The settings of each integration are
modules of their own beside this one (realtime, push, demo); rideshare/settings/__init__.py puts
them together. Everything is read from the environment (rideshare/settings/environment.py), with
defaults that run a fresh clone with no services: DEBUG on, a SQLite file, the in-process channel
layer; DATABASE_URL / REDIS_URL switch to PostgreSQL / Redis with the same code paths.
"""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from rideshare.kernel import bounds
from rideshare.kernel import proxies as _proxies

from .environment import env

BASE_DIR = Path(__file__).resolve().parent.parent.parent

DEBUG = env.bool("DEBUG", True)

_DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"
SECRET_KEY = env.str("SECRET_KEY", _DEV_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")

ALLOWED_HOSTS = env.csv("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else [])

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
    "realtime.clients.console",
    "realtime.clients.demo",
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
DATABASE_URL = env.str("DATABASE_URL", "")
if DATABASE_URL:
    # Persistent connections: a server process's threads are few and kept (REQUEST_THREADS for
    # requests, rideshare/kernel/asgi_handler.py; the kept and pooled threads of
    # rideshare/kernel/db.py), so each keeps its session instead of opening one per request (on
    # PostgreSQL a new backend process: the largest part of a short request's cost). Checked
    # before reuse after an error or a restart of the database.
    DATABASES = {"default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=env.int("DATABASE_CONN_MAX_AGE", 300), conn_health_checks=True
    )}
else:
    DATABASES = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": env.str("SQLITE_PATH", str(BASE_DIR / "db.sqlite3"))}
    }
_engine = DATABASES["default"]["ENGINE"]
if _engine in ("django.db.backends.sqlite3", "rideshare.sqlite"):
    # Django's backend, with the process's writers queued in turn (rideshare/sqlite/base.py).
    DATABASES["default"]["ENGINE"] = "rideshare.sqlite"
    DATABASES["default"]["OPTIONS"] = {**SQLITE_OPTIONS, **DATABASES["default"].get("OPTIONS", {})}
elif _engine == "django.db.backends.postgresql" and env.bool("DATABASE_POOL", False):
    # Opt-in psycopg pool: closing a connection returns it, so CONN_MAX_AGE=0 (which Django
    # requires with a pool) costs no reconnect.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", 2),
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", 20),
        "timeout": env.float("DATABASE_POOL_TIMEOUT", 10.0),
    }

# Threads kept for the sync part of HTTP requests (rideshare/kernel/asgi_handler.py): about the
# requests a process serves at once; each may keep a database connection (CONN_MAX_AGE).
REQUEST_THREADS = env.int("REQUEST_THREADS", 32)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- Redis ----------------------------------------------------------------------------------
# One Redis for the channel layer (realtime.py), the caches and presence; none: all in-process.
REDIS_URL = env.str("REDIS_URL", "")

# --- Caches ---------------------------------------------------------------------------------
# Three caches, so that one kind of entry cannot push another out: "throttles" (the REST throttles'
# counters, rideshare/kernel/throttles.py), "acks" (the ids of applied socket messages,
# realtime/connections/acks.py) and "default" (anything else). With Redis all three are that one Redis
# (CACHE_REDIS_URL, one key prefix, every key with a TTL), shared by every server process; it
# keeps them as long as its maxmemory-policy evicts nothing (Redis's default, noeviction).
# Embedded, each is this process's memory. LocMemCache's default size (300 entries, the least
# recently used third dropped when full) let 675 socket messages with ids erase the login counters
# and the ids themselves: these two hold far more entries than are alive at once (~350 bytes each)
# and drop a tenth when full, so what goes is what expired long ago.


def _redis_cache():
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env.str("CACHE_REDIS_URL", REDIS_URL),
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", "rideshare"),
        "OPTIONS": {
            "socket_timeout": env.float("REDIS_SOCKET_TIMEOUT", 30.0),
            "socket_connect_timeout": env.float("REDIS_CONNECT_TIMEOUT", 5.0),
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

PHONE_DEFAULT_REGION = env.str("PHONE_DEFAULT_REGION", "CM")

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
        "login": env.rate("THROTTLE_LOGIN_RATE", "10/min"),  # per address
        "login_account": env.rate("THROTTLE_LOGIN_ACCOUNT_RATE", "20/hour"),  # per phone number
        "register": env.rate("THROTTLE_REGISTER_RATE", "20/hour"),  # per address
        "token_refresh": env.rate("THROTTLE_TOKEN_REFRESH_RATE", "60/min"),  # per address
        "ride_request": env.rate("THROTTLE_RIDE_REQUEST_RATE", "10/min"),  # per passenger
        "ride_request_address": env.rate("THROTTLE_RIDE_REQUEST_ADDRESS_RATE", "120/min"),  # per address
    },
    # 0: the client address is REMOTE_ADDR. Behind N reverse proxies that append to
    # X-Forwarded-For, N: the address the outermost proxy saw (clients cannot spoof it).
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_ACCESS_TOKEN_LIFETIME", 15 * 60)),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_REFRESH_TOKEN_LIFETIME", 7 * 24 * 3600)),
    # Each refresh rotates; the token sent is blacklisted, once: of concurrent requests with one
    # token only the one whose blacklist row is inserted gets new tokens (accounts.serializers).
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": env.str("JWT_SIGNING_KEY", SECRET_KEY),
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
IDEMPOTENCY_KEY_TTL_SECONDS = env.int("IDEMPOTENCY_KEY_TTL_SECONDS", 24 * 3600)

# --- Domain ---------------------------------------------------------------------------------
# Fare per ride type, whole XAF: base + per_km * great-circle km, rounded to FARE_ROUNDING,
# never below minimum.
FARES = {
    "moto": {"base": 300, "per_km": 150, "minimum": 500},
    "car": {"base": 1000, "per_km": 350, "minimum": 1500},
}
FARE_ROUNDING = env.int("FARE_ROUNDING", 50)
FARE_CURRENCY = "XAF"

NEARBY_RADIUS_KM = env.float("NEARBY_RADIUS_KM", 5.0)
NEARBY_LIMIT = env.int("NEARBY_LIMIT", 20)
# A position older than this is not trusted for matching (the app stopped reporting).
DRIVER_POSITION_MAX_AGE_SECONDS = env.int("DRIVER_POSITION_MAX_AGE_SECONDS", 120)
# ETAs (rides.eta): great-circle km × the road factor at an average city speed per vehicle type,
# unless RIDE_ETA_FUNCTION names another function with the same signature (a routing service).
RIDE_ETA_FUNCTION = env.str("RIDE_ETA_FUNCTION", "rides.eta.great_circle_estimate")
ETA_ROAD_FACTOR = env.float("ETA_ROAD_FACTOR", 1.3)
ETA_SPEED_KMH_MOTO = env.float("ETA_SPEED_KMH_MOTO", 25.0)
ETA_SPEED_KMH_CAR = env.float("ETA_SPEED_KMH_CAR", 20.0)
# The assigned driver this close to the pickup (great-circle metres) is announced once per ride
# (`driver_approaching`).
DRIVER_APPROACHING_RADIUS_M = env.int("DRIVER_APPROACHING_RADIUS_M", 300)

# A driver's rating before anyone rated them (rides.ratings; then the average of their ratings).
DRIVER_DEFAULT_RATING = env.float("DRIVER_DEFAULT_RATING", 5.0)
if not bounds.RATING_MIN <= DRIVER_DEFAULT_RATING <= bounds.RATING_MAX:
    raise ImproperlyConfigured(f"DRIVER_DEFAULT_RATING must be between {bounds.RATING_MIN} and {bounds.RATING_MAX}")

# Sanity bounds of a trip (estimate and request): 400 trip_too_long / outside_service_area.
RIDE_MAX_DISTANCE_KM = env.float("RIDE_MAX_DISTANCE_KM", bounds.RIDE_MAX_DISTANCE_KM)
# Pickups must be inside one of these boxes (min_lat, min_lon, max_lat, max_lon); default: Cameroon.
SERVICE_AREA = env.boxes("SERVICE_AREA", bounds.SERVICE_AREA_CAMEROON)

# The server process's garbage collector (realtime.server). A full collection walks every object
# of every open socket (1.2-1.5 s at 10,000 with Python's 700,10,10): here one comes every 5*10^8
# allocations. A young collection's pause grows with its threshold: at 100,000 (the earlier
# setting) 70-120 ms in a process busy with REST requests, the p99 of its positions; at 20,000,
# 9 ms on average. Cyclic garbage still goes in the young collections. Empty: Python's defaults.
SERVER_GC_THRESHOLDS = [int(n) for n in env.csv("SERVER_GC_THRESHOLDS", ["20000", "25", "1000"])]

# Dispatch (rides.dispatching): a request is offered in waves of RIDE_OFFER_WAVE_SIZE drivers, the
# nearest not yet offered within the first of RIDE_OFFER_RADII_KM that has any; each wave stands
# RIDE_OFFER_TIMEOUT_SECONDS (or until all of it declined); after RIDE_REQUEST_TIMEOUT_SECONDS
# the request is cancelled by `system`, reason `no_driver_found`.
RIDE_OFFER_RADII_KM = sorted(float(km) for km in env.csv("RIDE_OFFER_RADII_KM", ["2", "5", "10"]))
RIDE_OFFER_WAVE_SIZE = env.int("RIDE_OFFER_WAVE_SIZE", 5)
RIDE_OFFER_TIMEOUT_SECONDS = env.float("RIDE_OFFER_TIMEOUT_SECONDS", 15.0)
RIDE_REQUEST_TIMEOUT_SECONDS = env.float("RIDE_REQUEST_TIMEOUT_SECONDS", 180.0)
# How often the dispatcher looks for due waves (`manage.py dispatch`, or inside the server).
RIDE_DISPATCH_INTERVAL_SECONDS = env.float("RIDE_DISPATCH_INTERVAL_SECONDS", 1.0)
# The embedded default (no Redis: one server process) dispatches inside the server; a Redis
# deployment runs `manage.py dispatch` instead (any number of them).
RIDE_DISPATCH_IN_SERVER = env.bool("RIDE_DISPATCH_IN_SERVER", not REDIS_URL)

# --- Operations -----------------------------------------------------------------------------
READINESS_TIMEOUT_SECONDS = env.float("READINESS_TIMEOUT_SECONDS", 2.0)
# /metrics answers these networks without authentication (Prometheus scrapers); staff anywhere.
METRICS_ALLOWED_NETWORKS = env.csv("METRICS_ALLOWED_NETWORKS", ["127.0.0.1/32", "::1/128"])
# Reverse proxies whose X-Forwarded-For is believed: the client is the rightmost address of the
# header that is not one of these, and only when the direct peer is one of these (see
# rideshare/kernel/proxies.py). The default fits nginx on the same host.
TRUSTED_PROXIES = env.csv("TRUSTED_PROXIES", ["127.0.0.1/32", "::1/128"])
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

# --- Security (production) ------------------------------------------------------------------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", True)
    # Probes and scrapers talk plain HTTP to the process port, not through the TLS proxy: a
    # redirect to https would fail every health check. (Paths without the leading slash.)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    CSRF_TRUSTED_ORIGINS = env.csv("CSRF_TRUSTED_ORIGINS", [])

LOG_FORMAT = env.str("LOG_FORMAT", "plain")  # "json": one JSON object per line
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "rideshare.kernel.logs.ContextAndRedactionFilter"},
        "cancelled_cleanup": {"()": "realtime.delivery.redis_layers.CancelledCleanupFilter"},
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
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", "INFO")},
    # Django's own loggers propagate to root; daphne's access log is routed here by realtime.server.
    "loggers": {
        "django": {"handlers": [], "propagate": True},
        # A stopping server's sockets are not failures (realtime.delivery.redis_layers).
        "channels_redis.pubsub": {"filters": ["cancelled_cleanup"]},
    },
}
