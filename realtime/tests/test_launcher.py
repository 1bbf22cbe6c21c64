"""realtime.server's listening socket: a backlog a reconnect storm fits in."""

from realtime.serving import workers
from realtime.serving.server import FleetCommandLineInterface, with_listen_backlog


def test_every_endpoint_it_listens_on_itself_gets_the_storm_backlog():
    assert workers.BACKLOG >= 1024
    assert with_listen_backlog("tcp:port=8000:interface=127.0.0.1") == (
        f"tcp:port=8000:interface=127.0.0.1:backlog={workers.BACKLOG}"
    )
    assert with_listen_backlog("unix:/run/rideshare.sock") == f"unix:/run/rideshare.sock:backlog={workers.BACKLOG}"
    assert with_listen_backlog("tcp:port=8000:backlog=64") == "tcp:port=8000:backlog=64"  # chosen by the operator
    assert with_listen_backlog("fd:fileno=3") == "fd:fileno=3"  # the --workers parent listened already


def test_a_handshake_has_30_seconds_not_daphnes_5():
    args = FleetCommandLineInterface().parser.parse_args(["rideshare.asgi:application"])
    assert args.websocket_connect_timeout == 30
