"""Which URLs the server may POST a push to: a Web Push subscription's endpoint is chosen by the
app, so it is checked twice, by the parser that makes the request.

- At registration (`parse`): the endpoint is read once with yarl, the URL parser aiohttp sends
  with (a string that another parser reads as another host, such as `https://localhost\\@push.host/`,
  is refused here, not reinterpreted at send time), then checked: https, a host of
  WEBPUSH_ENDPOINT_HOSTS, the default port, no user or password, no backslash, no whitespace or
  control character. Its normal form (lower-case host, no default port) is what is stored.
- At send time (`GuardedResolver`, the resolver of the Web Push session): every address a name
  resolves to must be a public one (not loopback, private, link-local, multicast, reserved), unless
  that address is itself listed in WEBPUSH_ENDPOINT_HOSTS (the tests' push services on 127.0.0.1).
  aiohttp connects to exactly the addresses the resolver returned, so a name whose DNS answer
  changes after registration still cannot reach an internal host. Redirects are never followed
  (realtime.push.webpush).

A push service on this machine (tests, development) is listed by its loopback address or name
(127.0.0.1, ::1, localhost): there plain http and any port are accepted.
"""

import ipaddress
import socket

from aiohttp import ThreadedResolver
from django.conf import settings
from yarl import URL

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
DEFAULT_PORTS = {"https": 443, "http": 80}


class EndpointRefused(ValueError):
    """Not a URL the server may send a push to; the message says why (for logs, not users)."""


def _listed_hosts():
    return [h.strip().lower().rstrip(".") for h in settings.WEBPUSH_ENDPOINT_HOSTS if h.strip()]


def _host_listed(host, hosts):
    return "*" in hosts or any(host == h or (h.startswith(".") and host.endswith(h)) for h in hosts)


def _ip(value):
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _listed_addresses():
    """The IP addresses WEBPUSH_ENDPOINT_HOSTS lists as themselves (`localhost`: its two)."""
    hosts = _listed_hosts()
    addresses = {ip for ip in map(_ip, hosts) if ip is not None}
    if "localhost" in hosts:
        addresses |= {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")}
    return addresses


def address_allowed(address):
    """Whether the server may connect to this IP address (a string): a public one, or one listed
    in WEBPUSH_ENDPOINT_HOSTS as itself."""
    ip = _ip(address.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0) is link-local anyway
    if ip is None:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in _listed_addresses():
        return True
    return ip.is_global and not ip.is_multicast


def parse(endpoint):
    """The endpoint as a yarl.URL in its normal form, or EndpointRefused."""
    if not isinstance(endpoint, str) or not endpoint:
        raise EndpointRefused("not a string")
    if "\\" in endpoint or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in endpoint):
        raise EndpointRefused("a backslash, a space or a control character")
    try:
        url = URL(endpoint)
    except (ValueError, TypeError) as exc:
        raise EndpointRefused(f"unreadable: {exc}") from None
    if not url.is_absolute() or url.scheme not in DEFAULT_PORTS:
        raise EndpointRefused("not an absolute http(s) URL")
    if url.user is not None or url.password is not None or "@" in (url.raw_authority or ""):
        raise EndpointRefused("a user or password")
    host = (url.host or "").lower().rstrip(".")
    hosts = _listed_hosts()
    if not host or not _host_listed(host, hosts):
        raise EndpointRefused(f"host {host!r} is not in WEBPUSH_ENDPOINT_HOSTS")
    on_this_machine = host in LOOPBACK_HOSTS and host in hosts
    if not on_this_machine:
        if url.scheme != "https":
            raise EndpointRefused("not https")
        if url.explicit_port not in (None, DEFAULT_PORTS["https"]):
            raise EndpointRefused(f"port {url.explicit_port}: only the default port")
        ip = _ip(host)
        if ip is not None and not address_allowed(host):
            raise EndpointRefused(f"address {host} is not public")
        if ip is None and host.replace(".", "").isdigit():
            raise EndpointRefused(f"{host!r} is a number, not a host name")
    port = url.explicit_port if url.explicit_port not in (None, DEFAULT_PORTS[url.scheme]) else None
    return URL.build(scheme=url.scheme, host=host, port=port, path=url.raw_path, query_string=url.raw_query_string,
                     encoded=True)


def allowed(endpoint):
    try:
        parse(endpoint)
    except EndpointRefused:
        return False
    return True


class GuardedResolver(ThreadedResolver):
    """aiohttp's resolver, keeping only the addresses the server may connect to; a name left with
    none is an OSError (the send fails, as for a name that does not resolve)."""

    async def resolve(self, host, port=0, family=socket.AF_INET):
        results = await super().resolve(host, port, family)
        kept = [r for r in results if address_allowed(r["host"])]
        if not kept:
            raise EndpointAddressRefused(host, [r["host"] for r in results])
        return kept


class EndpointAddressRefused(OSError):
    def __init__(self, host, addresses):
        super().__init__(f"{host} resolves to {', '.join(addresses) or 'nothing'}: not public addresses")
        self.host = host
