"""The WebSocket close codes the server sends, and what an app does on each (docs/websocket.md's
table). Plain constants, free of Django: the launcher (realtime/serving/server.py) reads them
before any app is loaded."""

CLOSE_GOING_AWAY = 1001  # server shutting down: reconnect (elsewhere) and resume
CLOSE_INVALID_TOKEN = 4001  # log in again
CLOSE_TOKEN_EXPIRED = 4002  # refresh the token, reconnect with last_event_id
CLOSE_ACCOUNT_DISABLED = 4003  # the account was deactivated or deleted
CLOSE_RATE_LIMITED = 4008  # sustained flooding
CLOSE_SLOW_CONSUMER = 4009  # not reading; reconnect and resume
CLOSE_REPLACED = 4010  # WS_MAX_CONNECTIONS_PER_USER: a newer connection of the user took its place
CLOSE_INTERNAL_ERROR = 1011  # the server failed handling this connection; reconnect and resume
