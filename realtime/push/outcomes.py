"""What became of one push, as the outbox settles it (realtime.push.outbox.settle)."""

from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

SENT, GONE, REJECTED, RETRY = "sent", "gone", "rejected", "retry"
ON_SOCKET = "on_socket"  # not sent: the user had a socket open, and hears the event there


@dataclass(frozen=True)
class Outcome:
    kind: str  # SENT; GONE: the device is no more (delete it); REJECTED: this message never will be; RETRY
    detail: str = ""
    retry_after: float | None = None  # RETRY: seconds the service asked us to wait


def sent():
    return Outcome(SENT)


def on_socket():
    return Outcome(ON_SOCKET)


def gone(detail):
    return Outcome(GONE, detail[:200])


def rejected(detail):
    return Outcome(REJECTED, detail[:200])


def retry(detail, retry_after=None):
    return Outcome(RETRY, detail[:200], retry_after)


def from_status(status, detail, retry_after_header=None):
    """A push service's HTTP answer: 2xx sent; 404 and 410 the subscription or token is gone
    (RFC 8030 §7.3, FCM's UNREGISTERED); 400 and 413 this message is refused as it is (sending it
    again cannot help), and so is a redirect (a push service answers, it does not redirect; the
    sender never follows one); anything else (401/403 credentials, 429, 5xx) may pass later."""
    if 200 <= status < 300:
        return sent()
    text = f"{status} {detail}".strip()
    if 300 <= status < 400:
        return rejected(f"{text} (a redirect, not followed)")
    if status in (404, 410):
        return gone(text)
    if status in (400, 413):
        return rejected(text)
    return retry(text, retry_after_seconds(retry_after_header))


def retry_after_seconds(value, now=None):
    """Retry-After as seconds: a number of seconds or an HTTP date; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())
