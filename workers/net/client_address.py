"""The address a request really came from, when it may have passed through our reverse proxies.

Behind the documented nginx every connection comes from 127.0.0.1, so the sign-in throttle, keyed by
client address, would put every client in one budget: ten bad guesses would lock a user out for
everyone. nginx appends the address it saw to X-Forwarded-For. But a client can send that header
too, so it is read only when the connection comes from a trusted proxy (WEBBUILDER_TRUSTED_PROXIES),
and from the right: each trusted proxy appended the address it saw, so the right-most entry that is
not itself a trusted proxy is the client. Everything left of it may be forged.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(spec: str) -> tuple[Network, ...]:
    """Comma-separated addresses or CIDR ranges ("127.0.0.1, 10.0.0.0/8, ::1"). Raises ValueError."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip())


def in_networks(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:  # "::ffff:127.0.0.1" on dual-stack sockets
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)


def client_address(peer: str, forwarded_for: str, trusted: Sequence[Network]) -> str:
    """The client behind `peer` (the connection's address). `forwarded_for` is every X-Forwarded-For
    header of the request joined with commas. If every forwarded entry is a trusted proxy too, the
    request started on one of them: the left-most entry is the client."""
    if not in_networks(peer, trusted):
        return peer
    hops = [entry.strip() for entry in forwarded_for.split(",") if entry.strip()]
    untrusted = [entry for entry in hops if not in_networks(entry, trusted)]
    if untrusted:
        return untrusted[-1]
    return hops[0] if hops else peer
