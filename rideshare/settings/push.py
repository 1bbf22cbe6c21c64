"""Push to closed apps (realtime/push): Web Push and FCM."""

from .environment import env

# --- Push (realtime/push) -------------------------------------------------------------------
# Reliable ride events for a user with no open socket go to their registered devices. The server
# processes send them (PUSH_IN_SERVER); `manage.py send_push` runs the same sender elsewhere.
PUSH_IN_SERVER = env.bool("PUSH_IN_SERVER", True)
PUSH_INTERVAL_SECONDS = env.float("PUSH_INTERVAL_SECONDS", 1.0)
PUSH_BATCH_SIZE = env.int("PUSH_BATCH_SIZE", 100)  # deliveries claimed per round
# Sends in flight at once per process; each has PUSH_TIMEOUT_SECONDS in all (resolving, connecting,
# sending, reading the answer), so a push service that trickles or hangs holds back no other send.
PUSH_SEND_CONCURRENCY = env.int("PUSH_SEND_CONCURRENCY", 32)
PUSH_TIMEOUT_SECONDS = env.float("PUSH_TIMEOUT_SECONDS", 10.0)
# At shutdown the sends in flight get this long; the rest are abandoned (sent again after their lease).
PUSH_SHUTDOWN_GRACE_SECONDS = env.float("PUSH_SHUTDOWN_GRACE_SECONDS", 2.0)
# A failed send is tried again after PUSH_RETRY_BASE_SECONDS, doubling up to PUSH_RETRY_MAX_SECONDS
# (or the service's Retry-After), PUSH_MAX_ATTEMPTS times in all.
PUSH_MAX_ATTEMPTS = env.int("PUSH_MAX_ATTEMPTS", 5)
PUSH_RETRY_BASE_SECONDS = env.float("PUSH_RETRY_BASE_SECONDS", 2.0)
PUSH_RETRY_MAX_SECONDS = env.float("PUSH_RETRY_MAX_SECONDS", 300.0)
# How long a ride event is worth delivering (an offer: as long as it stands, RIDE_OFFER_TIMEOUT_SECONDS).
PUSH_TTL_SECONDS = env.int("PUSH_TTL_SECONDS", 3600)
# Devices per user; registering one more removes the user's least recently registered.
PUSH_MAX_DEVICES_PER_USER = env.int("PUSH_MAX_DEVICES_PER_USER", 10)
# Web Push (browsers, PWAs): a VAPID key pair (`manage.py generate_vapid_keys`) and a contact.
WEBPUSH_VAPID_PRIVATE_KEY = env.str("WEBPUSH_VAPID_PRIVATE_KEY", "")
WEBPUSH_VAPID_PUBLIC_KEY = env.str("WEBPUSH_VAPID_PUBLIC_KEY", "")
WEBPUSH_VAPID_SUBJECT = env.str("WEBPUSH_VAPID_SUBJECT", "")  # mailto:ops@example.cm or https://...
# The push services a subscription's endpoint may point at (a leading dot: any subdomain; * any):
# the server POSTs to these URLs, so an app cannot aim it at another host.
WEBPUSH_ENDPOINT_HOSTS = env.csv(
    "WEBPUSH_ENDPOINT_HOSTS",
    ["fcm.googleapis.com", ".push.services.mozilla.com", ".notify.windows.com", ".push.apple.com"],
)
# FCM HTTP v1 (native apps): a service account's JSON key file; the project defaults to its project_id.
FCM_CREDENTIALS_FILE = env.str("FCM_CREDENTIALS_FILE", "")
FCM_PROJECT_ID = env.str("FCM_PROJECT_ID", "")
FCM_ENDPOINT = env.str("FCM_ENDPOINT", "https://fcm.googleapis.com")
