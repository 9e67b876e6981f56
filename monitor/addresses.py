"""Which network addresses the crawler may reach: public ones only, unless a host is explicitly allowed.

A page on the web can link (or redirect) to ``http://169.254.169.254/`` or ``http://localhost:5432/``;
fetching those would let anyone who controls a page probe the machine running the monitor and its
network. So every host is resolved here and *all* of its addresses must be public, and the
connection is then made to one of the addresses that were checked (:class:`GuardedBackend`), never
to a second, unchecked lookup of the name: a DNS answer that changes between check and connection
(DNS rebinding) cannot lead anywhere else.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable

import httpcore
from httpcore._utils import is_socket_readable

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
            article = "an" if kind[0] in "aeiou" else "a"
            raise AddressRefused(f"refused: {where} is {article} {kind} address ({ALLOW_HINT})")
    if not addresses:
        raise ResolveFailed(f"cannot resolve {name}: no addresses")
    return addresses


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that connects only to addresses that passed :func:`checked_addresses`.

    The name is resolved once, here, and the socket is opened to the checked IP; TLS still uses the
    host name for SNI and certificate checks (httpcore passes it to ``start_tls`` separately).
    """

    def __init__(self, allowed: Iterable[str]) -> None:
        self.allowed = frozenset(allowed)
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None, socket_options: Iterable | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await checked_addresses(host, port, self.allowed)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} took longer than {timeout:g} s") from None
        except ResolveFailed as error:
            raise httpcore.ConnectError(str(error)) from None
        failure: Exception = httpcore.ConnectError(f"no address for {host}")
        for address in addresses:  # the first that accepts, as the OS would
            try:
                stream = await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
                return _KnownSocketStream(stream)
            except httpcore.ConnectError as error:
                failure = error
        raise failure

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable | None = None) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are never used by the crawler")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _KnownSocketStream(httpcore.AsyncNetworkStream):
    """An httpcore stream that looks up its socket and addresses once, not on every call.

    httpcore asks every idle connection for its socket before each request (to see whether the server
    closed it), and anyio builds a fresh table of lambdas to answer each time: a third of the cost of
    a 304 on loopback.
    """

    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self._stream = stream
        self._info = {name: stream.get_extra_info(name) for name in ("socket", "client_addr", "server_addr",
                                                                     "ssl_object")}

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._stream.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(self, ssl_context, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        return _KnownSocketStream(await self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str):
        if info == "is_readable":
            return is_socket_readable(self._info["socket"])
        return self._info.get(info)
