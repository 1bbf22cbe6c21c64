"""Who the client is behind reverse proxies: trust X-Forwarded-For only as far as it was written
by configured proxies (TRUSTED_PROXIES).

Each proxy appends the address it received the request from (nginx's
`$proxy_add_x_forwarded_for`), so only the right end of the header is the proxies' own writing:
anything to the left may come from the client and is forged at will. The client is therefore the
rightmost address not in a trusted network, read only when the direct peer is itself a trusted
proxy; a request from anywhere else is taken at its peer address, whatever header it sends.
"""

import ipaddress
from functools import lru_cache


@lru_cache(maxsize=16)
def networks(specs):
    """A tuple of networks from a tuple of strings such as "127.0.0.1/32", "10.0.0.0/8", "::1"."""
    return tuple(ipaddress.ip_network(spec.strip(), strict=False) for spec in specs)


def is_trusted(address, trusted):
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except (ValueError, AttributeError):
        return False
    return any(ip in network for network in trusted)


def client_address(peer, forwarded_for, trusted):
    """The client's address: `peer` (the direct peer, as the socket says), `forwarded_for` (the
    X-Forwarded-For header values: a string or a list of them, comma-separated, possibly empty),
    `trusted` (networks, see `networks`)."""
    if isinstance(forwarded_for, str):
        forwarded_for = [forwarded_for]
    hops = [hop.strip() for value in forwarded_for or () for hop in value.split(",") if hop.strip()]
    if not hops or not is_trusted(peer, trusted):
        return peer
    for hop in reversed(hops):
        if not is_trusted(hop, trusted):
            return hop
    return hops[0]  # every hop is a trusted address: the client is one of them


def request_client(request):
    """The client address of a Django request, by the rule above and settings.TRUSTED_PROXIES
    (the one rule for throttles, /metrics and the access log)."""
    from django.conf import settings

    return client_address(
        request.META.get("REMOTE_ADDR", ""),
        request.META.get("HTTP_X_FORWARDED_FOR", ""),
        networks(tuple(settings.TRUSTED_PROXIES)),
    )
