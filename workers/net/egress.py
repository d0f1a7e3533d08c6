"""Which addresses the service's own outgoing connections may reach: the public internet, nothing else.

Users choose where some requests go (a webhook's URL; a project's dependencies, through the install's
proxy). Left alone, such a request reaches whatever the worker can: a database on loopback, the cloud's
metadata service on 169.254.169.254, the office network. Callers therefore resolve the name once with
`public_addresses` (which refuses a host that is, or resolves to, anything but a public address, in
every spelling the system accepts), then connect to exactly the addresses it returned, never resolving
the name again: a second lookup could answer differently (DNS rebinding).
"""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as LookupTimeout
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

IPAddress = IPv4Address | IPv6Address

# IANA's special-purpose blocks that are not globally reachable, each with the words a refusal uses.
_IPV4_NOT_PUBLIC = [(IPv4Network(block), kind) for block, kind in (
    ("0.0.0.0/8", "unspecified"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "CGNAT"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "reserved"),
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "reserved"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),  # 255.255.255.255, the broadcast address, included
)]
_IPV6_NOT_PUBLIC = [(IPv6Network(block), kind) for block, kind in (
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local"),
    ("fc00::/7", "unique-local"),
    ("ff00::/8", "multicast"),
    ("2001:db8::/32", "documentation"),
    ("3fff::/20", "documentation"),
    ("2001::/23", "reserved"),  # Teredo, benchmarking, ORCHID and other protocol assignments
)]
# Only this block is handed out for global unicast; anything outside it is refused as "reserved".
_IPV6_GLOBAL_UNICAST = IPv6Network("2000::/3")
# NAT64's well-known prefix carries an IPv4 address in its last 32 bits, and reaches it.
_NAT64 = IPv6Network("64:ff9b::/96")

# What a sandboxed step's proxy refuses: the host's and its networks' own addresses. Documentation,
# benchmarking and reserved blocks are left out: some networks (this one, for its package registry)
# answer public names there, and they reach no service of the host's.
INTERNAL = frozenset({"unspecified", "private", "CGNAT", "loopback", "link-local", "site-local", "unique-local", "multicast"})

_lookups = ThreadPoolExecutor(max_workers=4, thread_name_prefix="egress-dns")


class Refused(ValueError):
    """The host is, or resolves to, an address that is not public; the message says which and why."""


class Unresolved(OSError):
    """The name did not resolve (or not before the time given)."""


def not_public(address: IPAddress) -> str | None:
    """Why a connection to `address` would not leave for the public internet ("loopback", "private",
    "link-local", "CGNAT", "unique-local", "multicast", "unspecified", "reserved",
    "documentation" …), or None if it would. An IPv6 address carrying an IPv4 one (`::ffff:127.0.0.1`,
    NAT64 `64:ff9b::…`, 6to4 `2002:…`) is judged by the IPv4 address it reaches."""
    if isinstance(address, IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return not_public(embedded)
        blocks, in_unicast_space = _IPV6_NOT_PUBLIC, address in _IPV6_GLOBAL_UNICAST
    else:
        blocks, in_unicast_space = _IPV4_NOT_PUBLIC, True
    for network, kind in blocks:
        if address in network:
            return kind
    return None if in_unicast_space else "reserved"


def is_public(address: IPAddress) -> bool:
    """True if `address` is a public internet address (see `not_public`)."""
    return not_public(address) is None


def _embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv4-mapped, NAT64 or 6to4 address reaches, else None."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def resolve(host: str, timeout: float) -> list[IPAddress]:
    """Every address `host` stands for, in the order to try them: the address itself when `host` is one
    in any spelling the system accepts (`127.1`, `2130706433`, `0x7f.1`, `[::ffff:127.0.0.1]`),
    otherwise the answers of one name lookup, which must come within `timeout` seconds."""
    host = _unbracketed(host)
    literal = _numeric(host)
    if literal is not None:
        return [literal]
    # The system resolver cannot be interrupted; a lookup that overruns is left to finish in its thread.
    lookup = _lookups.submit(socket.getaddrinfo, host, None, type=socket.SOCK_STREAM)
    try:
        found = _addresses(lookup.result(timeout=max(timeout, 0)))
    except LookupTimeout:
        raise Unresolved(f"{host} did not resolve within {timeout:.0f} s") from None
    except (OSError, UnicodeError) as exc:
        raise Unresolved(f"{host} did not resolve: {exc}") from None
    if not found:
        raise Unresolved(f"{host} has no IPv4 or IPv6 address")
    return found


def public_addresses(host: str, timeout: float, refuse: frozenset[str] | None = None) -> list[IPAddress]:
    """`resolve(host, timeout)`, or `Refused` unless every address is public: a name with one private
    answer among public ones is refused too, since a client could be handed either. With `refuse`,
    only addresses of those kinds (`not_public`'s words) are refused."""
    bare = _unbracketed(host)
    name = bare.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):  # loopback by definition (RFC 6761)
        raise Refused(f"{host} is not a public address (loopback)")
    addresses = resolve(bare, timeout)
    literal = _numeric(bare) is not None
    for address in addresses:
        kind = not_public(address)
        if kind is None or (refuse is not None and kind not in refuse):
            continue
        if not literal:
            raise Refused(f"{host} resolves to {address}, which is not a public address ({kind})")
        reached = (_embedded_ipv4(address) if isinstance(address, IPv6Address) else None) or address
        spelled = kind if name == str(reached) else f"{reached}: {kind}"
        raise Refused(f"{host} is not a public address ({spelled})")
    return addresses


def _unbracketed(host: str) -> str:
    return host.removeprefix("[").removesuffix("]")


def _numeric(host: str) -> IPAddress | None:
    """`host` as an address if the system takes it for one (without asking DNS), else None. An IPv6
    zone (`fe80::1%eth0`, `%25eth0` in a URL) is dropped: the address alone decides."""
    try:
        numeric = socket.getaddrinfo(host.partition("%")[0], None, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
        return _addresses(numeric)[0]
    except (socket.gaierror, UnicodeError, IndexError):
        return None


def _addresses(infos: list[tuple]) -> list[IPAddress]:
    """The distinct addresses of getaddrinfo's answers, in its order (IPv4 and IPv6 only)."""
    found: list[IPAddress] = []
    for family, *_rest, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            address = ip_address(sockaddr[0])
            if address not in found:
                found.append(address)
    return found
