"""The crawler's aiohttp connector: every connection guarded, and what each one says of its peer.

Names resolve through :class:`monitor.fetch.addresses.GuardedResolver` and sockets open through
:func:`monitor.fetch.addresses.guarded_socket_factory`. For evidence, each request notes the IP address that
answered (WARC-IP-Address) and, for https, the server's certificate: aiohttp hands a connection back to
its pool (or closes it) as soon as a body is complete, before the response can be asked, so the
connector notes them in context variables of the requesting task as it hands the connection out.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable

import aiohttp

from monitor.fetch.addresses import GuardedResolver, guarded_socket_factory

_PEER_IP: contextvars.ContextVar[str | None] = contextvars.ContextVar("peer_ip", default=None)
_PEER_CERTIFICATE: contextvars.ContextVar[bytes | None] = contextvars.ContextVar("peer_certificate", default=None)


class _PeerRecordingConnector(aiohttp.TCPConnector):
    async def connect(self, req, traces, timeout) -> aiohttp.connector.Connection:
        connection = await super().connect(req, traces, timeout)
        transport = connection.transport
        address = transport.get_extra_info("peername") if transport is not None else None
        _PEER_IP.set(str(address[0]) if address else None)
        tls = transport.get_extra_info("ssl_object") if transport is not None else None
        _PEER_CERTIFICATE.set(tls.getpeercert(binary_form=True) if tls is not None else None)
        return connection


def guarded_connector(allowed: Iterable[str], connect_timeout_s: float, max_connections: int) -> aiohttp.TCPConnector:
    """A connector that reaches only public addresses, or those of ``allowed`` hosts (names or IPs)."""
    allowed = frozenset(allowed)
    approved: set[str] = set()  # addresses of allowed names: the only non-public ones a socket may reach
    return _PeerRecordingConnector(resolver=GuardedResolver(allowed, approved, connect_timeout_s),
                                   socket_factory=guarded_socket_factory(allowed, approved),
                                   limit=max_connections, ttl_dns_cache=10)


def forget_peer() -> None:
    """Before a request: what the last one noted is not this one's."""
    _PEER_IP.set(None)
    _PEER_CERTIFICATE.set(None)


def peer() -> tuple[str | None, bytes | None]:
    """(IP address, DER certificate or None) of the server the current task's last request went to."""
    return _PEER_IP.get(), _PEER_CERTIFICATE.get()
