"""`--workers N`: the workers share the parent's listening socket, and a burst of connections
(a load balancer's or a bench's keep-alive pool opened at once) must not all land on one of them."""

import socket

import pytest
from twisted.internet import tcp

from realtime.serving import workers


class Factory:
    def buildProtocol(self, address):
        return None  # refused: the accepted socket is closed at once

    def doStart(self):
        pass

    def doStop(self):
        pass


@pytest.fixture
def listening_port():
    port = tcp.Port(0, Factory(), interface="127.0.0.1")
    port.startListening()
    port.stopReading()  # read by hand below, not by a reactor
    yield port
    port.connectionLost(None)


def connect_burst(port, count):
    address = port.getHost()
    clients = [socket.create_connection((address.host, address.port)) for _ in range(count)]
    return clients


def test_a_worker_accepts_one_connection_per_wake_up(listening_port, monkeypatch):
    monkeypatch.setattr(workers, "_ready_fd", 99)  # as in a child the parent started
    workers.share_accepts(listening_port)
    clients = connect_burst(listening_port, 5)
    accepted = []
    monkeypatch.setattr(listening_port.factory, "buildProtocol", lambda address: accepted.append(address))
    listening_port.doRead()
    assert len(accepted) == 1  # the other four are left to whichever worker reads next
    listening_port.doRead()
    assert len(accepted) == 2  # one again, though Twisted raised its count after the first
    for client in clients:
        client.close()


def test_one_process_on_its_own_socket_accepts_a_burst_at_once(listening_port, monkeypatch):
    monkeypatch.setattr(workers, "_ready_fd", None)
    workers.share_accepts(listening_port)
    clients = connect_burst(listening_port, 5)
    accepted = []
    monkeypatch.setattr(listening_port.factory, "buildProtocol", lambda address: accepted.append(address))
    listening_port.doRead()
    assert len(accepted) == 5
    for client in clients:
        client.close()
