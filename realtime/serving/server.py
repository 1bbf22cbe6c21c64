"""daphne, with what a fleet of phones needs from it: `python -m realtime.server [daphne options] APP`.

Takes every daphne option. On top of daphne:
- Keepalive pings after 35 s of client silence (not daphne's 20 s), dropped after 20 s more.
- 30 s to complete a WebSocket handshake (daphne: 5 s), and a listen backlog of 2,048 (Twisted:
  50), so a reconnect storm's queue drains instead of failing the handshakes at its back. The 30 s
  (`--websocket_connect_timeout`) count from the moment the connection opens: one whose request
  line and headers are not all there by then is dropped, however slowly it sends them (daphne
  leaves that to Twisted's idle timeout, 60 s of silence, restarted by every byte).
- SIGTERM/SIGINT close every WebSocket with 1001 (going away) before the process exits, so apps
  reconnect to another process at once and resume, instead of waiting to notice a dead socket.
- The access log goes through `logging` (JSON with LOG_FORMAT=json) with access tokens redacted.
- `--proxy-headers` believes X-Forwarded-For / -Proto / -Port only from TRUSTED_PROXIES, and takes
  the client as the header's rightmost untrusted address (daphne takes the leftmost, which any
  client writes: `X-Forwarded-For: 127.0.0.1` would pass for loopback, in the access log too).
- Slow readers: once a connection has more than WS_LATEST_WINS_BUFFER_BYTES waiting in its send
  buffer, latest-wins messages (driver positions) are held back and merged, newest per key, until
  it drains; past WS_MAX_BUFFERED_BYTES the connection is closed with 4009 and the app resumes.
- The garbage collector is tuned for a process holding thousands of sockets (SERVER_GC_THRESHOLDS):
  what start-up loaded is frozen out of its scans, and full collections come rarely. With Python's
  defaults a full collection walked every object of 10,000 connections and stopped the process
  for 1.2-1.5 s (the offers benchmark: ride requests and offer waves 1.5 s late, p99).
- `--workers N` (N > 1, needs Redis and PostgreSQL): N such processes on one port, supervised by a
  parent that binds the socket once (realtime/serving/workers.py). `--workers 1`, the default, is one
  process as before, with no parent.
"""

import argparse
import gc
import logging
import pprint
import socket
import sys

import daphne.server  # noqa: F401  (installs the asyncio reactor; must come before twisted.internet.reactor)
from autobahn.websocket import protocol as autobahn_protocol
from daphne import http_protocol, ws_protocol
from daphne.access import AccessLogGenerator
from daphne.cli import CommandLineInterface
from daphne.server import Server
from daphne.ws_protocol import WebSocketProtocol
from twisted.internet import defer, reactor
from twisted.web import http
from twisted.web.http_headers import Headers

from realtime.protocol.close_codes import CLOSE_GOING_AWAY, CLOSE_INTERNAL_ERROR, CLOSE_SLOW_CONSUMER
from rideshare.kernel import proxies

from . import workers

# Valid for a server to send, refused by autobahn's sendClose(): these go through the frame-level call.
FRAME_LEVEL_CLOSE_CODES = {CLOSE_GOING_AWAY, CLOSE_INTERNAL_ERROR}
DRAIN_CHECK_SECONDS = 0.25
SHUTDOWN_GRACE_SECONDS = 1.0
PING_INTERVAL_SECONDS = 35
PING_TIMEOUT_SECONDS = 20
HANDSHAKE_TIMEOUT_SECONDS = 30


def _buffered_bytes(transport):
    return len(getattr(transport, "dataBuffer", b"")) + getattr(transport, "_tempDataLen", 0)


def _header_values(headers, name):
    """All values of header `name` (bytes, lower case) from daphne's two header shapes."""
    if isinstance(headers, Headers):
        headers = dict(headers.getAllRawHeaders())
    values = []
    for key, value in headers.items():
        if key.lower() == name:
            values.extend(value if isinstance(value, list) else [value])
    return [v.decode("latin1") for v in values]


def trusted_proxy_parser(trusted):
    """A replacement for daphne.utils.parse_x_forwarded_for (same signature) that believes the
    forwarding headers only from `trusted` peers and reads the client from the right."""

    def parse_x_forwarded_for(headers, address_header_name="X-Forwarded-For", port_header_name="X-Forwarded-Port",
                              proto_header_name="X-Forwarded-Proto", original_addr=None, original_scheme=None):
        if not address_header_name or not original_addr or not proxies.is_trusted(original_addr[0], trusted):
            return original_addr, original_scheme
        forwarded = _header_values(headers, address_header_name.lower().encode())
        if not forwarded:
            return original_addr, original_scheme
        client = [proxies.client_address(original_addr[0], forwarded, trusted), 0]
        if port_header_name and (ports := _header_values(headers, port_header_name.lower().encode())):
            try:
                client[1] = int(ports[-1].split(",")[-1])
            except ValueError:
                pass
        scheme = original_scheme
        if proto_header_name and (protos := _header_values(headers, proto_header_name.lower().encode())):
            scheme = protos[-1].split(",")[-1].strip()
        return client, scheme

    return parse_x_forwarded_for


def install_trusted_proxy_parser(trusted):
    # daphne's HTTP and WebSocket protocols call the module-level name they imported.
    parser = trusted_proxy_parser(trusted)
    http_protocol.parse_x_forwarded_for = parser
    ws_protocol.parse_x_forwarded_for = parser


class FleetWebSocketProtocol(WebSocketProtocol):
    latest_wins = None  # key -> text held back while the client is not reading

    def connectionMade(self):
        send_buffer = self.factory.server_class.fleet_limits["socket_send_buffer"]
        if send_buffer:
            # Only for tests and tuning: a small kernel buffer makes a stalled reader visible sooner.
            self.transport.getHandle().setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
        super().connectionMade()

    def handle_reply(self, message):
        key = message.get("latest_key")
        if key and message.get("type") == "websocket.send" and self.state == self.STATE_OPEN:
            if self.latest_wins or _buffered_bytes(self.transport) > self.server.fleet_limits["latest_wins_buffer"]:
                if self.latest_wins is None:
                    self.latest_wins = {}
                self.latest_wins.pop(key, None)
                self.latest_wins[key] = message["text"]
                self.server.backlogged.add(self)
                return
        super().handle_reply(message)
        if self.state == self.STATE_OPEN and _buffered_bytes(self.transport) > self.server.fleet_limits["latest_wins_buffer"]:
            # Only sockets with a backlog are watched, so 10,000 idle ones cost nothing here.
            self.server.backlogged.add(self)

    def serverClose(self, code=None):
        """The application's close (`websocket.close`); 1011 (realtime.connections.connection) and 1001 too."""
        if code in FRAME_LEVEL_CLOSE_CODES:
            self.sendCloseFrame(code=code, isReply=False)
        else:
            super().serverClose(code)

    def check_backlog(self):
        """Flush merged updates once drained, close a client that stays full; True while watched."""
        if self.state != self.STATE_OPEN:
            return False
        limits = self.server.fleet_limits
        buffered = _buffered_bytes(self.transport)
        if buffered > limits["max_buffered"]:
            self.latest_wins = None
            self.sendClose(code=CLOSE_SLOW_CONSUMER, reason="slow consumer: reconnect and resume")
            reactor.callLater(5, self.transport.abortConnection)
            return False
        if buffered <= limits["latest_wins_buffer"]:
            if self.latest_wins:
                pending, self.latest_wins = self.latest_wins, None
                for text in pending.values():
                    self.serverSend(text, False)
            return _buffered_bytes(self.transport) > limits["latest_wins_buffer"]
        return True


class HeadDeadlineChannel(http.HTTPChannel):
    """Twisted's HTTP/1.1 channel, aborted when its first request's head (request line and headers:
    a WebSocket handshake's upgrade request) is not all there `seconds` after the connection opened.
    Later requests on a kept-alive connection (nginx's upstream ones) keep Twisted's idle timeout:
    a shorter one would close idle upstream connections nginx still means to reuse."""

    def __init__(self, seconds):
        super().__init__()
        self.head_seconds = seconds
        self.head_deadline = None

    def connectionMade(self):
        super().connectionMade()
        self.head_deadline = reactor.callLater(self.head_seconds, self.transport.abortConnection)

    def allHeadersReceived(self):
        self._cancel_head_deadline()
        super().allHeadersReceived()

    def connectionLost(self, reason):
        self._cancel_head_deadline()
        super().connectionLost(reason)

    def _cancel_head_deadline(self):
        if self.head_deadline is not None and self.head_deadline.active():
            self.head_deadline.cancel()


def http_protocol_with_head_deadline(seconds):
    """What Twisted's HTTPFactory builds per connection (`_genericHTTPChannelProtocolFactory`: the
    HTTP/2 negotiation around an HTTP/1.1 channel), with the channel above."""
    return lambda: http._GenericHTTPChannelProtocol(HeadDeadlineChannel(seconds))


class LoggingAccessLog(AccessLogGenerator):
    """daphne's access log through `logging` (JSON with LOG_FORMAT=json), tokens redacted there."""

    logger = logging.getLogger("rideshare.access")

    def __init__(self):
        super().__init__(stream=None)

    def write_entry(self, host, date, request, status=None, length=None, ident=None, user=None):
        self.logger.info('%s "%s" %s %s', host, request, status or "-", length or "-")


def with_listen_backlog(endpoint):
    """Twisted listens with a backlog of 50: in a reconnect storm the kernel drops the SYNs past
    it and the phones retry after 1, 3, 7 s... (the `--workers` parent listens with the same)."""
    kind = endpoint.split(":", 1)[0]
    if kind in ("tcp", "tcp6", "unix") and "backlog=" not in endpoint:
        return f"{endpoint}:backlog={workers.BACKLOG}"
    return endpoint


class _FormattedWhenLogged:
    """`pformat` deferred until the line is written: autobahn formats a debug line of every new
    connection's options eagerly (about 4 % of a connect storm's CPU) for a level nobody logs."""

    def __init__(self, value):
        self.value = value

    def __str__(self):
        return pprint.pformat(self.value)

    def __format__(self, spec):
        return format(str(self), spec)


def tune_garbage_collector(thresholds):
    """Freeze what start-up made (modules, settings, URL patterns: never garbage) out of every
    later scan, and set the collector's thresholds (none: Python's defaults)."""
    gc.collect()
    gc.freeze()
    if thresholds:
        gc.set_threshold(*thresholds)


class FleetServer(Server):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.action_logger is not None:
            self.action_logger = LoggingAccessLog()

    def run(self):
        from django.conf import settings

        self.fleet_limits = {
            "latest_wins_buffer": settings.WS_LATEST_WINS_BUFFER_BYTES,
            "max_buffered": settings.WS_MAX_BUFFERED_BYTES,
            "socket_send_buffer": settings.WS_SOCKET_SEND_BUFFER_BYTES,
        }
        tune_garbage_collector(settings.SERVER_GC_THRESHOLDS)
        install_trusted_proxy_parser(proxies.networks(tuple(settings.TRUSTED_PROXIES)))
        autobahn_protocol.pformat = _FormattedWhenLogged
        self.endpoints = [with_listen_backlog(endpoint) for endpoint in self.endpoints]
        reactor.callWhenRunning(self._install_fleet_protocol)
        reactor.addSystemEventTrigger("before", "shutdown", self.close_websockets_going_away)
        super().run()

    def listen_success(self, port):
        super().listen_success(port)
        workers.share_accepts(port)
        workers.report_listening()

    def _install_fleet_protocol(self):
        self.backlogged = set()
        self.ws_factory.protocol = FleetWebSocketProtocol
        self.http_factory.protocol = http_protocol_with_head_deadline(self.websocket_connect_timeout)
        reactor.callLater(DRAIN_CHECK_SECONDS, self._check_backlogs)

    def _websockets(self):
        return [p for p in list(self.connections) if isinstance(p, FleetWebSocketProtocol)]

    def _check_backlogs(self):
        for protocol in list(self.backlogged):
            if not protocol.check_backlog():
                self.backlogged.discard(protocol)
        reactor.callLater(DRAIN_CHECK_SECONDS, self._check_backlogs)

    def close_websockets_going_away(self):
        open_sockets = [p for p in self._websockets() if p.state == p.STATE_OPEN]
        for protocol in open_sockets:
            # sendClose() only takes 1000 and 3000-4999; 1001 goes through the frame-level call.
            protocol.sendCloseFrame(code=CLOSE_GOING_AWAY, reasonUtf8=b"server shutting down", isReply=False)
        if not open_sockets:
            return None
        # Give the close frames a moment to leave before the applications are cancelled.
        done = defer.Deferred()
        reactor.callLater(SHUTDOWN_GRACE_SECONDS, done.callback, None)
        return done


class FleetCommandLineInterface(CommandLineInterface):
    server_class = FleetServer

    def __init__(self):
        super().__init__()
        # Any message from the client postpones daphne's keepalive ping. Past the guide's 30 s app
        # ping, so healthy apps are never pinged by the server (thousands of pings a minute saved);
        # a silent peer is pinged after 35 s and dropped 20 s later: gone within a minute.
        # A reconnect storm queues thousands of handshakes: daphne's 5 s to finish one would fail
        # those at the back of the queue, and their apps would retry into the same queue.
        self.parser.set_defaults(ping_interval=PING_INTERVAL_SECONDS, ping_timeout=PING_TIMEOUT_SECONDS,
                                 websocket_connect_timeout=HANDSHAKE_TIMEOUT_SECONDS)
        self.parser.add_argument(
            "--workers", type=worker_count, default=1,
            help="server processes on the one listening socket (default 1: this process serves; "
                 "more need REDIS_URL and a PostgreSQL DATABASE_URL)",
        )

    def run(self, args):
        options = self.parser.parse_args(args)
        if options.workers > 1 and not workers.is_child():
            sys.exit(workers.supervise(options, args))
        # daphne parses the arguments again; a worker child listens on the parent's socket instead.
        parse = self.parser.parse_args
        self.parser.parse_args = lambda arguments: workers.adopt_inherited_listener(parse(arguments))
        super().run(args)


def worker_count(text):
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of processes, 1 or more")
    return count


if __name__ == "__main__":
    FleetCommandLineInterface.entrypoint()
