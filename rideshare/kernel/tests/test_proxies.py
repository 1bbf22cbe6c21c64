"""The client behind reverse proxies: X-Forwarded-For is believed only as far as trusted proxies wrote it."""

import pytest

from rideshare.kernel.proxies import client_address, networks

LOOPBACK = networks(("127.0.0.1/32", "::1/128"))
LOOPBACK_AND_LAN = networks(("127.0.0.1/32", "::1/128", "10.0.0.0/8"))


@pytest.mark.parametrize("peer, forwarded_for, trusted, client", [
    # nginx on the same host appended the real client; the client forged the left part.
    ("127.0.0.1", "127.0.0.1, 203.0.113.9", LOOPBACK, "203.0.113.9"),
    ("127.0.0.1", "203.0.113.9", LOOPBACK, "203.0.113.9"),
    # Two trusted hops (a load balancer in the LAN, then nginx): the first untrusted from the right.
    ("127.0.0.1", "6.6.6.6, 203.0.113.9, 10.0.0.5", LOOPBACK_AND_LAN, "203.0.113.9"),
    (" 127.0.0.1", ["1.1.1.1", "203.0.113.9 , 10.0.0.5"], LOOPBACK_AND_LAN, "203.0.113.9"),
    # A direct client is never believed, whatever it sends.
    ("203.0.113.9", "127.0.0.1", LOOPBACK, "203.0.113.9"),
    ("10.0.0.5", "127.0.0.1", LOOPBACK, "10.0.0.5"),
    # No header: the peer.
    ("127.0.0.1", "", LOOPBACK, "127.0.0.1"),
    ("127.0.0.1", None, LOOPBACK, "127.0.0.1"),
    # Every hop trusted (a scraper on the proxy's host): the leftmost.
    ("127.0.0.1", "::1, 127.0.0.1", LOOPBACK, "::1"),
    # Garbage the client wrote is the client's address: it matches no network.
    ("127.0.0.1", "unknown", LOOPBACK, "unknown"),
    ("::1", "2001:db8::7", LOOPBACK, "2001:db8::7"),
])
def test_client_address(peer, forwarded_for, trusted, client):
    assert client_address(peer, forwarded_for, trusted) == client


def test_bad_networks_are_refused():
    with pytest.raises(ValueError):
        networks(("not-a-network",))
