"""Which network addresses the crawler may reach: public ones only, unless a host is explicitly allowed.

A page on the web can link (or redirect) to ``http://169.254.169.254/`` or ``http://localhost:5432/``;
fetching those would let anyone who controls a page probe the machine running the monitor and its
network. So every host is resolved here and *all* of its addresses must be public, and the
connection is then made to one of the addresses that were checked (:class:`GuardedResolver`), never
to a second, unchecked lookup of the name: a DNS answer that changes between check and connection
(DNS rebinding) cannot lead anywhere else.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable, Iterable

from aiohttp.abc import AbstractResolver, ResolveResult

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOW_HINT = "allow it with fetch.allowed_hosts or LIKENESS_ALLOWED_HOSTS"
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class AddressRefused(Exception):
    """A host resolves to an address the crawler may not reach; the message is one line for the user."""


class ResolveFailed(Exception):
    """A host name does not resolve (the message is the resolver's reason)."""


def address_kind(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public address ("loopback", "private", ...), or None when it is public.

    IPv6 addresses that embed an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``, 6to4 ``2002::/16``,
    NAT64 ``64:ff9b::/96``) are judged by the IPv4 address inside.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
                                                      if ip in NAT64 else None)
        if embedded is not None:
            return address_kind(embedded)
    for kind, flag in (("unspecified", ip.is_unspecified), ("loopback", ip.is_loopback),
                       ("link-local", ip.is_link_local), ("multicast", ip.is_multicast),
                       ("reserved", ip.is_reserved), ("private", ip.is_private)):
        if flag:
            return kind
    return None if ip.is_global else "non-public"


def parse_ip(host: str) -> IPAddress | None:
    """``host`` as an IP address (brackets of an IPv6 literal allowed), or None when it is a name."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


async def resolve(host: str, port: int) -> list[str]:
    """The addresses of ``host`` (literal IPs as they are), in the resolver's order, without duplicates."""
    if (ip := parse_ip(host)) is not None:
        return [str(ip)]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise ResolveFailed(f"cannot resolve {host}: {getattr(error, 'strerror', None) or error}") from None
    return list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))


async def checked_addresses(host: str, port: int, allowed: Iterable[str]) -> list[str]:
    """The addresses of ``host`` that may be connected to; raises AddressRefused or ResolveFailed.

    ``allowed``: lower-cased host names and IPs (``fetch.all_allowed_hosts``). A host written in it
    may resolve anywhere; otherwise every address it resolves to must be public (allowing 127.0.0.1
    does not allow ``localhost``: a name is allowed by its name). A name with one private address
    among public ones is refused as a whole.
    """
    allowed = frozenset(allowed)
    allowed_ips = {str(ip) for ip in map(parse_ip, allowed) if ip is not None}
    name = host.strip("[]").lower().rstrip(".")
    literal = parse_ip(name)
    addresses = await resolve(name, port)
    if name in allowed or (literal is not None and str(literal) in allowed_ips):
        return addresses
    for address in addresses:
        kind = address_kind(ipaddress.ip_address(address))
        if kind is not None:
            where = name if literal is not None else f"{name} resolves to {address}, which"
            raise AddressRefused(_refusal(where, kind))
    if not addresses:
        raise ResolveFailed(f"cannot resolve {name}: no addresses")
    return addresses


def _refusal(where: str, kind: str) -> str:
    article = "an" if kind[0] in "aeiou" else "a"
    return f"refused: {where} is {article} {kind} address ({ALLOW_HINT})"


class ConnectionRefusedByRule(OSError):
    """A connection or name resolution refused by these rules (an OSError, as the client expects)."""


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver for the crawler: a name resolves only to addresses that passed :func:`checked_addresses`.

    The addresses of explicitly allowed names are added to ``approved``, the set the socket factory
    accepts non-public addresses from. ``timeout_s``: seconds a lookup may take.
    """

    def __init__(self, allowed: Iterable[str], approved: set[str], timeout_s: float) -> None:
        self.allowed = frozenset(allowed)
        self.approved = approved
        self.timeout_s = timeout_s

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET,
                      ) -> list[ResolveResult]:
        try:
            async with asyncio.timeout(self.timeout_s):
                addresses = await checked_addresses(host, port, self.allowed)
        except TimeoutError:
            raise ConnectionRefusedByRule(f"cannot resolve {host}: no answer in {self.timeout_s:g} s") from None
        except (AddressRefused, ResolveFailed) as error:
            raise ConnectionRefusedByRule(str(error)) from None
        if host.strip("[]").lower().rstrip(".") in self.allowed:
            self.approved.update(addresses)
        return [{"hostname": host, "host": address, "port": port,
                 "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                 "proto": 0, "flags": socket.AI_NUMERICHOST} for address in addresses]

    async def close(self) -> None:
        pass


def guarded_socket_factory(allowed: Iterable[str], approved: set[str]) -> Callable[[tuple], socket.socket]:
    """A socket factory for aiohttp that refuses to open a socket to a non-public address.

    Called with the address about to be connected to, whether it came from a name or a literal IP,
    so it holds even if every check before it were fooled. A non-public address passes only when it
    is an allowed literal IP, or in ``approved`` (resolved from an allowed name by GuardedResolver).
    """
    allowed_ips = {str(ip) for ip in map(parse_ip, allowed) if ip is not None}

    def open_socket(address_info: tuple) -> socket.socket:
        family, kind, proto, _canonical_name, address = address_info
        ip = str(address[0]).split("%")[0]
        kind = None if ip in allowed_ips or ip in approved else address_kind(ipaddress.ip_address(ip))
        if kind is not None:
            raise ConnectionRefusedByRule(_refusal(ip, kind))
        return socket.socket(family=family, type=kind or socket.SOCK_STREAM, proto=proto or 0)

    return open_socket
