"""Pages on video and audio platforms (YouTube, Vimeo, SoundCloud, ...), resolved through yt-dlp when it is installed.

A platform's page rarely names its media in markup: its player asks the platform's API. yt-dlp knows how for some
1,800 sites. It is optional: without it, or for a page only its generic extractor claims, the page is fetched and
parsed like any other. The page's host is checked against the crawler's address rules and robots.txt first
(:class:`PlatformPages`), but yt-dlp's own requests to the platform (its API, redirects) do not go through
:class:`monitor.fetch.http.Fetcher`; the media it names do, with every check. yt_dlp is imported on first use only.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from enrollment.errors import LikenessError, unexpected
from monitor.config import Config
from monitor.fetch.addresses import AddressRefused, ResolveFailed, checked_addresses
from monitor.sources.base import Found
from monitor.sources.links import AUDIO_EXTENSIONS, Collector, absolute, clean_title

# yt_dlp InfoExtractor subclasses tried before yt-dlp's own: tests register loopback "platforms" here.
EXTRA_EXTRACTORS: list[type] = []
DIRECT_PROTOCOLS = frozenset({"http", "https"})  # m3u8, dash, ism, mhtml, rtmp...: not one downloadable file
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_load_lock = threading.Lock()
_patterns: list[tuple[Callable, type]] | None = None  # see _load_patterns


class PlatformError(LikenessError):
    """yt-dlp could not resolve a platform page; the message is yt-dlp's reason, one line."""


@dataclass
class Resolved(Found):
    """What yt-dlp found on one page; ``skipped``: why no format was taken (streaming only), one line, or None."""
    skipped: str | None = None


def available() -> bool:
    """Whether yt_dlp can be imported (cheap once it has been)."""
    try:
        import yt_dlp  # noqa: F401
        return True
    except ImportError:
        return False


def _load_patterns() -> list[tuple[Callable, type]]:
    """(compiled ``_VALID_URL`` match, class) of every yt-dlp extractor but the generic one, in yt-dlp's order, built
    once (~0.4 s with the import): matching a URL against these takes 0.3 ms, asking each class's suitable() 2.5."""
    global _patterns
    with _load_lock:
        if _patterns is None:
            from yt_dlp.extractor import gen_extractor_classes

            classes = [k for k in gen_extractor_classes() if k.ie_key() != "Generic" and k._VALID_URL]  # not embeds
            _patterns = [(re.compile(pattern).match, klass) for klass in classes
                         for pattern in ([klass._VALID_URL] if isinstance(klass._VALID_URL, str) else klass._VALID_URL)]
    return _patterns


def platform_extractor(url: str) -> str | None:
    """The name of the yt-dlp extractor, other than the generic one, that claims ``url`` (those in
    :data:`EXTRA_EXTRACTORS` first); None without yt_dlp, or when the one that claims it is marked broken."""
    if not available():
        return None
    for klass in EXTRA_EXTRACTORS:
        if klass.suitable(url):
            return klass.ie_key()
    return _builtin_extractor(url)


@lru_cache(maxsize=65_536)  # a second pass in the same process (`likeness run`) asks again
def _builtin_extractor(url: str) -> str | None:
    for match, klass in _patterns or _load_patterns():
        # the pattern only preselects: some classes' suitable() also refuses URLs another class handles
        if match(url) and klass.suitable(url):
            return klass.ie_key() if klass.working() else None
    return None


def resolve(url: str, config: Config, extractor: str | None = None) -> Resolved:
    """What yt-dlp finds at the platform page ``url``, nothing downloaded (blocking: call it off the event loop).

    A video: the best direct http(s) audio-only format, the best direct one with video, and the thumbnail. A
    playlist or channel: its entries' page URLs (at most ``crawl.max_pages_per_run``). ``extractor``: the name
    :func:`platform_extractor` gave, so that the same one runs. Raises PlatformError (one line) on any failure."""
    import yt_dlp

    options = {  # noplaylist: a video page is its video, even with &list=... in its URL; proxy "": as the Fetcher
        "quiet": True, "no_warnings": True, "noprogress": True, "logger": _Silent(), "skip_download": True,
        "extract_flat": "in_playlist", "lazy_playlist": True, "playlistend": config.crawl.max_pages_per_run,
        "noplaylist": True, "socket_timeout": config.fetch.timeout_s, "proxy": "", "cachedir": False,
        "http_headers": {"User-Agent": config.fetch.user_agent}, "cookiefile": None, "cookiesfrombrowser": None,
        "usenetrc": False, "format": "all", "ignore_no_formats_error": True}
    try:
        with yt_dlp.YoutubeDL(options, auto_init=False) as ydl:
            for klass in EXTRA_EXTRACTORS:
                ydl.add_info_extractor(klass())
            ydl.add_default_info_extractors()
            info = ydl.extract_info(url, download=False, ie_key=extractor)
    except Exception as error:  # an extractor's own bug (yt-dlp lets those through) too is this page's failure
        raise PlatformError(one_line(error) if isinstance(error, yt_dlp.utils.YoutubeDLError)
                            else f"yt-dlp's {extractor or 'extractor'}: {unexpected(error)}") from None
    if not isinstance(info, dict):
        raise PlatformError("yt-dlp found nothing")
    found = Resolved(title=clean_title(info.get("title")))
    links = Collector(url)
    entries = info.get("entries")
    if entries is not None:
        for entry in itertools.islice(entries, config.crawl.max_pages_per_run):
            if isinstance(entry, dict):
                links.page(entry.get("webpage_url") or entry.get("url"))
        found.page_urls = links.found().page_urls
        return found
    formats = [f for f in info.get("formats") or [] if isinstance(f, dict) and absolute(f.get("url"), url)]
    direct = [f for f in formats if f.get("protocol") in DIRECT_PROTOCOLS and not f.get("fragments")]
    # yt-dlp's codecs: "none" = absent, None = unknown; an .mp3 of unknown codecs is audio all the same
    video = [f for f in direct if f.get("vcodec") != "none" and f.get("ext") not in AUDIO_EXTENSIONS]
    audio = [f for f in direct if f not in video and f.get("acodec") != "none"]
    for chosen in (*audio[-1:], *video[-1:]):  # yt-dlp sorts formats worst first
        links.media(chosen["url"])
    links.media(info.get("thumbnail"))
    found.media_urls = links.found().media_urls
    if not audio and not video:
        kinds = ", ".join(sorted({str(f.get("protocol")) for f in formats} - DIRECT_PROTOCOLS))
        found.skipped = f"only streaming formats ({kinds}), not downloadable as one file" if kinds else "no formats"
    return found


def one_line(error: BaseException) -> str:
    """yt-dlp's message for ``error`` without colours, without its "ERROR: " prefix, first line only."""
    text = (_ANSI.sub("", str(error)).strip().splitlines() or [""])[0].strip().removeprefix("ERROR:").strip()
    return text or f"yt-dlp failed: {type(error).__name__}"


class _Silent:
    """A yt-dlp logger that says nothing: failures come back as exceptions, and the crawl reports them."""

    def debug(self, message: str) -> None: ...

    info = warning = error = debug


class PlatformPages:
    """The crawler's door to yt-dlp: checks first, at most ``fetch.per_host_concurrency`` at a time, off the loop.
    ``fetcher``: the crawl's :class:`monitor.fetch.http.Fetcher`, for robots.txt (read as for any page)."""

    def __init__(self, config: Config, fetcher) -> None:
        self.config = config
        self.fetcher = fetcher
        self._slots = asyncio.Semaphore(config.fetch.per_host_concurrency)

    async def claim(self, url: str) -> str | None:
        """:func:`platform_extractor`, with yt-dlp's first import and the patterns' build off the event loop."""
        if _patterns is None and available():
            await asyncio.to_thread(_load_patterns)
        return platform_extractor(url)

    async def visit(self, url: str, extractor: str, ignore_robots: bool):  # -> (monitor.fetch.http.Exchange, Resolved)
        """Resolve the page ``url``; the Exchange records the visit honestly: no HTTP status (yt-dlp made the
        requests), ``x-resolved-by: yt-dlp <version> <extractor>``, and ``error`` when it failed."""
        from yt_dlp.version import __version__

        from monitor.fetch.exchange import Exchange

        exchange = Exchange(url=url, final_url=url, request_headers={"user-agent": self.config.fetch.user_agent},
                            headers={"x-resolved-by": f"yt-dlp {__version__} {extractor}"})
        found, started = Resolved(), time.monotonic()
        try:
            await self._check(url, ignore_robots)
            async with self._slots:
                found = await asyncio.to_thread(resolve, url, self.config, extractor)
        except PlatformError as error:
            exchange.error = str(error)
        exchange.elapsed_s = time.monotonic() - started
        return exchange, found

    async def _check(self, url: str, ignore_robots: bool) -> None:
        """The same address rules as the Fetcher, so a hostile link cannot send yt-dlp to a private address."""
        settings = self.config.fetch
        try:
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
            async with asyncio.timeout(settings.connect_timeout_s):
                await checked_addresses(parts.hostname or "", port, settings.all_allowed_hosts)
        except (AddressRefused, ResolveFailed, ValueError) as error:  # ValueError: a port that is no number
            raise PlatformError(str(error)) from None
        except TimeoutError:
            raise PlatformError(f"cannot resolve {url}: no answer in {settings.connect_timeout_s:g} s") from None
        if settings.respect_robots_txt and not ignore_robots:
            rules = await self.fetcher.robots(url)
            if reason := rules.refusal(url, settings.user_agent):
                raise PlatformError(reason)
