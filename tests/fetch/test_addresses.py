"""Addresses the crawler's HTTP client refuses: private, loopback, link-local and other non-public ones,
literal or resolved, before a request, on every redirect and again at connection time.

Nothing beyond loopback is ever contacted: the refusals use literal IPs (refused before any connection) and
``localhost`` (resolved from /etc/hosts).
"""

from __future__ import annotations

import asyncio
import socket

import pytest
from yarl import URL

from monitor.config import load_config
from monitor.fetch.addresses import (
    ConnectionRefusedByRule,
    GuardedResolver,
    address_kind,
    guarded_socket_factory,
    parse_ip,
)
from tests.support.fetching import one
from tests.support.http_server import page, redirect


def test_loopback_is_refused_unless_allowed(server, config, store, monkeypatch):
    monkeypatch.delenv("LIKENESS_ALLOWED_HOSTS")
    got = one(load_config(config.home), store, "page", server.url("/"))
    assert got.error == ("refused: 127.0.0.1 is a loopback address "
                         "(allow it with fetch.allowed_hosts or LIKENESS_ALLOWED_HOSTS)")
    assert server.hits == []


@pytest.mark.parametrize(("url", "kind"), [
    ("http://10.0.0.5/", "10.0.0.5 is a private"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local"),
    ("http://[::1]:9/", "::1 is a loopback"),
    ("http://[::ffff:127.0.0.1]/", "::ffff:7f00:1 is a loopback"),
    ("http://[::ffff:10.0.0.5]/", "::ffff:a00:5 is a private"),
    ("https://0.0.0.0/", "0.0.0.0 is an unspecified"),
    ("http://224.0.0.1/", "224.0.0.1 is a multicast"),
    ("http://[fe80::1]/", "fe80::1 is a link-local"),
    ("http://[fc00::1]/", "fc00::1 is a private"),
    ("http://100.64.0.1/", "100.64.0.1 is a non-public"),
])
def test_private_literal_addresses_are_refused(config, store, url, kind):
    got = one(config, store, "page", url)
    assert got.error.startswith(f"refused: {kind} address") and got.status is None


def test_an_allowed_literal_ip_and_name_are_case_insensitive(server, config, store, monkeypatch):
    monkeypatch.setenv("LIKENESS_ALLOWED_HOSTS", "LocalHost")
    server.routes["/p"] = page()
    got = one(load_config(config.home).replace("fetch", per_host_delay_s=0.0), store, "page",
              f"http://LOCALHOST:{server.port}/p")
    assert got.error is None and got.server_ip == "127.0.0.1"  # ::1 first, where resolved, fails over


@pytest.mark.parametrize(("location", "error"), [
    ("http://10.0.0.5/", "refused: 10.0.0.5 is a private address"),
    ("http://localhost:{port}/target", "refused: localhost resolves to"),
    ("file:///etc/passwd", "refused: only http and https URLs are fetched, not file"),
])
def test_a_redirect_to_a_refused_address_is_not_followed(server, config, store, location, error):
    location = location.format(port=server.port)
    server.routes |= {"/go": redirect(location), "/target": page()}
    got = one(config, store, "page", server.url("/go"))
    assert got.error.startswith(error)
    assert got.redirects == [server.url("/go")] and got.status == 302
    assert URL(got.final_url) == URL(location)
    assert "/target" not in server.paths()


def test_the_connection_itself_is_guarded(server, config, store, monkeypatch):
    """Even if the check before a request were fooled (DNS rebinding), the connection is refused."""

    async def approve(host: str, port: int, allowed: object) -> list[str]:
        return []

    monkeypatch.setattr("monitor.fetch.http.checked_addresses", approve)  # the pre-check only
    monkeypatch.delenv("LIKENESS_ALLOWED_HOSTS")
    got = one(load_config(config.home), store, "page", server.url("/"), ignore_robots=True)
    assert got.error.startswith("refused: 127.0.0.1 is a loopback address")
    assert server.hits == []

    with pytest.raises(ConnectionRefusedByRule, match=r"127\.0\.0\.1 is a loopback address"):
        guarded_socket_factory(frozenset(), set())((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80)))
    with pytest.raises(ConnectionRefusedByRule, match="localhost resolves to"):
        asyncio.run(GuardedResolver(frozenset(), set(), 30.0).resolve("localhost", server.port))
    assert server.hits == []


def test_an_allowed_name_lets_its_own_addresses_through_the_socket_factory():
    approved: set[str] = set()
    found = asyncio.run(GuardedResolver(frozenset({"localhost"}), approved, 30.0).resolve("localhost", 80))
    assert "127.0.0.1" in {entry["host"] for entry in found} and "127.0.0.1" in approved
    open_socket = guarded_socket_factory(frozenset({"localhost"}), approved)
    open_socket((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80))).close()
    with pytest.raises(ConnectionRefusedByRule):  # allowing a name allows its addresses, not its network
        open_socket((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.2", 80)))


@pytest.mark.parametrize(("address", "kind"), [
    ("8.8.8.8", None), ("2001:4860:4860::8888", None), ("127.0.0.2", "loopback"), ("192.168.1.1", "private"),
    ("240.0.0.1", "reserved"), ("2002:a00:5::", "private"), ("64:ff9b::7f00:1", "loopback"),
    ("::ffff:169.254.1.1", "link-local"), ("::", "unspecified"), ("ff02::1", "multicast"),
])
def test_address_kinds(address, kind):
    assert address_kind(parse_ip(address)) == kind
