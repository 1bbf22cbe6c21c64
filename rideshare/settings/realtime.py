"""The realtime server's settings (realtime/): the channel layer, the socket's limits, presence,
positions and the event log."""

from django.core.exceptions import ImproperlyConfigured

from .base import DEBUG, REDIS_URL
from .environment import env


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


if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # Pub/sub: no per-message list keys and no blocking pops, so no socket timeout that
            # kills idle consumers; delivery is at-most-once like the core layer's, and the event
            # log covers what matters (see README "Reliability"). realtime.delivery.redis_layers: the
            # channels_redis classes with publishes pipelined (RedisPubSubLayer) or group sends in
            # two round trips and receives batched (RedisLayer); the stock class names work too.
            "BACKEND": env.str("CHANNEL_LAYER_BACKEND", "realtime.delivery.redis_layers.RedisPubSubLayer"),
            "CONFIG": {
                # Core layer: every consumer of a process shares one Redis queue, and stock's
                # capacity (100) is for that whole queue: a 100 ms stall at 1,000 positions/s and
                # group sends start dropping. Each consumer's own buffer keeps `capacity` (100).
                "channel_capacity": {"specific.*": env.int("CHANNEL_LAYER_PROCESS_CAPACITY", 10_000)},
                "hosts": [
                    {
                        "address": REDIS_URL,
                        # redis-py 8 defaults: 100 pooled connections (exhausted by connect storms)
                        # and a 5 s read timeout (the core layer blocks 5 s in BZPOPMIN).
                        "max_connections": env.int("REDIS_MAX_CONNECTIONS", 1000),
                        "socket_timeout": env.float("REDIS_SOCKET_TIMEOUT", 30.0),
                        "socket_connect_timeout": env.float("REDIS_CONNECT_TIMEOUT", 5.0),
                        "socket_keepalive": True,
                        "health_check_interval": env.int("REDIS_HEALTH_CHECK_INTERVAL", 15),
                        "retry_on_timeout": True,
                    }
                ],
                "prefix": channel_layer_prefix(REDIS_URL, env.str("CHANNEL_LAYER_PREFIX", "rideshare")),
            },
        }
    }
else:
    # One process, no Redis: realtime.delivery.layers, not channels' InMemoryChannelLayer, which scans every
    # channel and group on each receive and group_send and collapses at a few thousand sockets.
    CHANNEL_LAYERS = {"default": {"BACKEND": "realtime.delivery.layers.InProcessChannelLayer"}}

# --- Realtime -------------------------------------------------------------------------------
# Browser origins allowed to open the WebSocket; native apps send no Origin and are accepted.
WS_ALLOWED_ORIGINS = env.csv(
    "WS_ALLOWED_ORIGINS",
    ["http://localhost:8000", "http://127.0.0.1:8000"] if DEBUG else [],
)
# The handshake's cache of users seen recently (drivers.known_users).
WS_USER_CACHE_SECONDS = env.float("WS_USER_CACHE_SECONDS", 30.0)
WS_USER_CACHE_SIZE = env.int("WS_USER_CACHE_SIZE", 20000)
# Redis mode: a process's presence lives this long without a heartbeat; a crashed process's
# sockets stop counting after it.
PRESENCE_TTL_SECONDS = env.int("PRESENCE_TTL_SECONDS", 60)
PRESENCE_REFRESH_SECONDS = env.int("PRESENCE_REFRESH_SECONDS", 20)
# Redis mode: passengers' connections and disconnections are written in batches this often (0: at once).
PRESENCE_SYNC_SECONDS = env.float("PRESENCE_SYNC_SECONDS", 1.0)
# A driver whose last connection closed goes offline after this long unless they connected again
# (to any server process): an app that reconnects keeps its driver online.
DRIVER_OFFLINE_GRACE_SECONDS = env.float("DRIVER_OFFLINE_GRACE_SECONDS", 5.0)
# Positions sent over the socket are written to the database in batches this often.
LOCATION_FLUSH_SECONDS = env.float("LOCATION_FLUSH_SECONDS", 1.0)
# Staff consoles that sent watch_fleet get the fleet's changes this often (realtime.connections.fleet).
FLEET_UPDATE_SECONDS = env.float("FLEET_UPDATE_SECONDS", 1.0)
# ...except a connection's first position, and the first after this long, written at once.
LOCATION_WRITE_THROUGH_SECONDS = env.float("LOCATION_WRITE_THROUGH_SECONDS", 30.0)
# Reliable events are kept this long for resume; older resumes get `resync_required`.
EVENT_RETENTION_SECONDS = env.int("EVENT_RETENTION_SECONDS", 24 * 3600)
# The outbox relay republishes events whose own publish did not happen within this grace.
EVENT_RELAY_INTERVAL_SECONDS = env.float("EVENT_RELAY_INTERVAL_SECONDS", 2.0)
EVENT_RELAY_GRACE_SECONDS = env.float("EVENT_RELAY_GRACE_SECONDS", 2.0)
# A resume with more events than this to replay gets `resync_required` (`too_many`) instead.
WS_MAX_REPLAY_EVENTS = env.int("WS_MAX_REPLAY_EVENTS", 500)
# Open sockets per user; a connection beyond it closes the user's oldest one (4010).
WS_MAX_CONNECTIONS_PER_USER = env.int("WS_MAX_CONNECTIONS_PER_USER", 5)
# Client messages above this size get an error (daphne's own 1 MiB frame limit stays in place).
WS_MAX_MESSAGE_BYTES = env.int("WS_MAX_MESSAGE_BYTES", 64 * 1024)
# A client that does not read: positions are merged past the first figure, and the connection
# closed (4009) past the second. Both are bytes waiting in the server's send buffer.
WS_LATEST_WINS_BUFFER_BYTES = env.int("WS_LATEST_WINS_BUFFER_BYTES", 64 * 1024)
WS_MAX_BUFFERED_BYTES = env.int("WS_MAX_BUFFERED_BYTES", 1024 * 1024)
# SO_SNDBUF for WebSocket sockets; 0 leaves the OS default (the kernel's share is bounded by it).
WS_SOCKET_SEND_BUFFER_BYTES = env.int("WS_SOCKET_SEND_BUFFER_BYTES", 0)
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
WS_ABUSE_REJECTIONS = env.int("WS_ABUSE_REJECTIONS", 50)
WS_ABUSE_WINDOW_SECONDS = env.float("WS_ABUSE_WINDOW_SECONDS", 10.0)
# A client message's `id` is remembered this long for its user (realtime.connections.acks): a resend within
# it is acknowledged, not applied again. In the "acks" cache (Redis with REDIS_URL; see Caches).
WS_ACK_ID_TTL_SECONDS = env.int("WS_ACK_ID_TTL_SECONDS", 600)
# A position's `recorded_at` up to this far ahead of the server's clock reads as now; further, refused.
WS_RECORDED_AT_MAX_SKEW_SECONDS = env.float("WS_RECORDED_AT_MAX_SKEW_SECONDS", 30.0)
