"""Logging: one JSON object per line when LOG_FORMAT=json, `user_id`/`ride_id` where known, and
no access token in any line (query strings, Authorization headers and bare JWTs are redacted)."""

import contextvars
import json
import logging
import re
from datetime import datetime, timezone

# Set by the JWT authentication (HTTP) and the consumer (WebSocket); copied into every record.
log_context = contextvars.ContextVar("log_context", default=None)

_SECRETS = re.compile(
    r"(?P<param>(?:token|refresh|access|password)=)[^&\s\"']+"
    r"|(?P<bearer>Bearer\s+)[\w.~+/=-]+"
    r"|eyJ[\w-]+\.[\w-]+\.[\w-]+"
)


def redact(text):
    return _SECRETS.sub(lambda m: (m.group("param") or m.group("bearer") or "") + "[redacted]", text)


def bind(**fields):
    """Add fields (user_id, ride_id) to the log context of the current request or connection."""
    log_context.set({**(log_context.get() or {}), **{k: str(v) for k, v in fields.items() if v is not None}})


class ContextAndRedactionFilter(logging.Filter):
    def filter(self, record):
        for key, value in (log_context.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message or record.args:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


class JsonFormatter(logging.Formatter):
    FIELDS = ("user_id", "ride_id")

    def format(self, record):
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat().replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in self.FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = str(value)
        if record.exc_info:
            entry["exception"] = record.exc_text or redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class PlainFormatter(logging.Formatter):
    def format(self, record):
        line = super().format(record)
        context = " ".join(f"{f}={getattr(record, f)}" for f in JsonFormatter.FIELDS if getattr(record, f, None))
        return f"{line} [{context}]" if context else line
