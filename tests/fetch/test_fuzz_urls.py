"""Fuzzing the fetcher's URL handling: any text given as a URL gives an exchange whose error is one short,
printable line, never an exception.

Name resolution is replaced by a refusal (no test leaves the loopback interface), so every URL is taken as
far as the address rules: parsing, scheme and host checks, ports, IDNA, percent-escapes. Derandomised
(tests/support/fuzzing.py).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from unittest import mock

from hypothesis import given
from hypothesis import strategies as st

from monitor.config import load_config
from monitor.fetch.addresses import ResolveFailed
from monitor.fetch.http import Fetcher
from monitor.storage.content_store import ContentStore
from tests.support.fuzzing import fuzz
from tests.support.hostile import UNPARSABLE_URLS, is_one_short_line

FUZZ = fuzz(150)
PIECES = ("http://", "https://", "ftp://", "[", "]", "::1", "@", ":", "%", "%00", "%zz", "#", "?", "/", "\\", "..",
          "xn--", "\u202e", "\x00", "\n", " ", "127.0.0.1", "0x7f.1", "2130706433", "localhost", ":0", ":65536",
          "user:pass@", "a" * 300, "é", "\udcff")


async def _no_dns(host: str, port: int, allowed) -> list[str]:
    raise ResolveFailed(f"cannot resolve {host}: no name resolution in this test")


def _fetch_all(urls: list[str], home: Path) -> list:
    config = load_config(home)

    async def main() -> list:
        async with Fetcher(config, ContentStore(home / "store")) as fetcher:
            return [await fetcher.get_media(url, ignore_robots=True) for url in urls]

    with mock.patch("monitor.fetch.http.checked_addresses", _no_dns):
        return asyncio.run(main())


@FUZZ
@given(url=st.one_of(
    st.lists(st.sampled_from(PIECES), min_size=1, max_size=8).map("".join),
    st.text(max_size=80).map(lambda text: "http://" + text),
    st.sampled_from(UNPARSABLE_URLS),
))
def test_any_text_as_a_url_gives_an_exchange_with_one_short_error_line(tmp_path_factory, url):
    exchange, = _fetch_all([url], tmp_path_factory.getbasetemp() / "fuzz-home")
    assert exchange.error is not None and is_one_short_line(exchange.error), exchange.error
