"""One crawl pass: visit each source, download media not seen before, analyse it like `likeness scan`.

Fetching is concurrent (asyncio, through :class:`monitor.fetch.http.Fetcher` with its politeness and address
rules) and overlaps analysis: ``Scanner.in_flight`` threads run ``Scanner.scan_stored`` (the code path
of ``likeness scan``), one analysis per worker process (monitor.analysis.workers). Every exchange is recorded
(``fetches``); validators and content hashes per URL (``url_states``) make a second visit of an
unchanged site cost one 304 per page and no media download. Media that was stored but not analysed
(a crash, a kill -9) is analysed by the next pass. One source's or one item's failure is recorded in
``errors`` and the pass goes on.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from enrollment.errors import LikenessError, printable, shown
from enrollment.models import utc_now
from monitor.config import Config
from monitor.fetch.warc import crawl_warc_path
from monitor.pipeline.guard import item_failures
from monitor.pipeline.media_budget import MediaBudget
from monitor.pipeline.record import Seen, record_sighting
from monitor.pipeline.scan import Scanner, ScanRow
from monitor.pipeline.url_states import download_states, downloaded, never_tried_first, url_states
from monitor.sources import PARSERS, detect_kind
from monitor.sources.folder import walk
from monitor.sources.platform import PlatformPages
from monitor.storage.content_store import content_store
from monitor.storage.models import Fetch, Media, Sighting, Source, TlsCertificate, UrlState

T = TypeVar("T")
SITEMAP_SUFFIXES = (".xml", ".xml.gz", ".txt")


@dataclass
class CrawlReport:
    """The `crawl` command's JSON."""

    sources: int = 0
    pages_fetched: int = 0
    media_found: int = 0
    media_new: int = 0
    media_analysed: int = 0
    detections: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)

    def as_json(self) -> dict:
        return {key: getattr(self, key) for key in ("sources", "pages_fetched", "media_found", "media_new",
                                                    "media_analysed", "detections", "errors")}


class Crawl:
    """A pass over some sources. ``stop`` (set by a signal) ends it between items, losing nothing."""

    def __init__(self, config: Config, sessions: sessionmaker[Session], stop: threading.Event | None = None,
                 on_media: Callable[[ScanRow], None] | None = None, workers: int | None = None,
                 actor: str | None = None) -> None:
        self.config = config
        self.sessions = sessions
        self.stop = stop or threading.Event()
        self.on_media = on_media
        self.workers = workers  # analyses at once; None: [workers] analysis
        self.actor = actor  # who the custody entries name (None: this process's user@host)
        self.store = content_store(config)
        self.report = CrawlReport()
        self.warc_path = crawl_warc_path(config.home / "warc")
        self._seen_media: set[str] = set()
        self._lock = threading.Lock()  # the report and the WARC file are shared with the analysis threads
        self._pending_pages: list[tuple] = []
        self._certificates: set[str] = set()  # stored already (by this crawl or before)

    def run(self, source_ids: list[int] | None = None, agency_id: int | None = None) -> CrawlReport:
        """Crawl ``source_ids`` (default: every source not paused, of ``agency_id`` when given)."""
        with self.sessions() as session:
            query = select(Source).order_by(Source.id)
            query = query.where(Source.id.in_(source_ids)) if source_ids else query.where(Source.paused.is_(False))
            if agency_id is not None:
                query = query.where(Source.agency_id == agency_id)
            sources = list(session.scalars(query))
        self.report.sources = len(sources)
        scanner = Scanner(self.config, self.sessions, self.workers, self.actor)
        with scanner.workers_running(), ThreadPoolExecutor(scanner.in_flight, "analysis") as executor:
            asyncio.run(self._run(sources, scanner, executor))
        self._share_capture()
        return self.report

    def _share_capture(self) -> None:
        """Put this crawl's WARC file in the shared bucket, for evidence exported on any machine."""
        if self.store.shared is None or not self.warc_path.exists():
            return
        try:
            self.store.shared.put_capture(self.warc_path)
        except LikenessError as error:
            self._error(str(self.warc_path), f"could not share the WARC records: {error}")

    async def _run(self, sources: list[Source], scanner: Scanner, executor: ThreadPoolExecutor) -> None:
        from monitor.fetch.http import Fetcher

        analyses: list[asyncio.Future] = []
        loop = asyncio.get_running_loop()

        def analyse(sha256: str, size_bytes: int, seen: Seen, exchange=None) -> None:
            analyses.append(loop.run_in_executor(executor, self._scan_stored, scanner, sha256, size_bytes, seen,
                                                 exchange))

        self._analyse = analyse
        for sha256, size_bytes, seen in self._unanalysed():
            analyse(sha256, size_bytes, seen)
        self._budget = MediaBudget(self.config)
        async with Fetcher(self.config, self.store) as fetcher:
            self._platforms = PlatformPages(self.config, fetcher)
            await asyncio.gather(*(self._crawl_source(source, fetcher) for source in sources))
        await asyncio.gather(*analyses)

    def _unanalysed(self) -> list[tuple[str, int, Seen]]:
        """Media stored by an earlier pass that never got its analysis (the process died first)."""
        with self.sessions() as session:
            rows = session.execute(
                select(Media.sha256, Media.size_bytes, Sighting.source, Sighting.source_id, Sighting.page_url,
                       Sighting.page_title, Sighting.agency_id)
                .join(Sighting, Sighting.media_id == Media.id)
                .where(Media.analysis_key.is_(None))
                .order_by(Media.id, Sighting.last_seen_at.desc())
            ).all()
        latest = {}
        for sha256, size_bytes, *where in rows:
            latest.setdefault(sha256, (size_bytes, Seen(*where)))
        return [(sha256, size_bytes, seen) for sha256, (size_bytes, seen) in latest.items()]

    def _scan_stored(self, scanner: Scanner, sha256: str, size_bytes: int, seen: Seen, exchange) -> None:
        if self.stop.is_set():
            return
        row = scanner.scan_stored(sha256, size_bytes, seen)
        if row.detections and exchange is not None:  # the exchange that led to a detection is kept
            try:
                self._write_warc(exchange, self.store.path_for(sha256))
            except (OSError, ValueError) as error:
                self._error(seen.source, f"could not write the WARC record: {error}")
        with self._lock:
            self.report.media_analysed += 0 if row.reused else 1
            self.report.detections.extend(row.detections or [])
            if row.error:
                self.report.errors.append({"url": seen.source, "reason": row.error})
        if self.on_media is not None:
            self.on_media(row)

    def _write_warc(self, exchange, payload) -> str:
        from monitor.fetch.warc import write_warc

        with self._lock:
            self.warc_path.parent.mkdir(parents=True, exist_ok=True)
            write_warc(exchange, self.warc_path, payload)
        return str(self.warc_path)

    async def _crawl_source(self, source: Source, fetcher) -> None:
        failures: list[str] = []  # one source's failure (a bug too) is that source's error, not the pass's end
        with item_failures(failures.append, source.url):
            if source.kind == "folder":
                self._crawl_folder(source)
            elif source.kind == "media":
                await self._get_media(source, fetcher, source.url, None, None)
            else:
                await self._crawl_documents(source, fetcher)
        for failure in failures + self._budget.skipped_lines(source.id):
            self._error(source.url, failure)
        self._flush_pages()
        with self.sessions.begin() as session:
            row = session.get(Source, source.id)
            if row is not None:
                row.last_run_at, row.last_error = utc_now(), shown(failures[0]) if failures else None

    # ---------------------------------------------------------------------------- web documents

    async def _crawl_documents(self, source: Source, fetcher) -> None:
        """Breadth first, one depth level at a time, each level fetched concurrently."""
        level: list[tuple[str, str]] = [(source.url, source.kind)]
        visited: set[str] = set()
        depth = 0
        while level and not self.stop.is_set():
            budget = self.config.crawl.max_pages_per_run - len(visited)
            level = [(url, kind) for url, kind in dict(level).items() if url not in visited][:max(budget, 0)]
            visited.update(url for url, _kind in level)
            states = url_states(self.sessions, [url for url, _kind in level])
            results = await asyncio.gather(*(self._one(url, self._visit(source, fetcher, url, kind, states.get(url)),
                                                        ([], [])) for url, kind in level))
            self._flush_pages()
            media = [(url, page_url, title) for _links, found in results for url, page_url, title in found]
            stored, failed = download_states(self.sessions, [url for url, _page, _title in media], source.agency_id)
            media = never_tried_first(media, failed)
            await asyncio.gather(*(self._one(url, self._get_media(source, fetcher, url, page_url, title, url in stored))
                                   for url, page_url, title in media))
            next_level, deeper = [], []
            for links, _found in results:
                for url, kind, same_depth in links:
                    (next_level if same_depth else deeper).append((url, kind))
            if next_level:  # sitemaps of a sitemap index: part of the same level
                level = next_level + (deeper if depth < source.depth else [])
                continue
            depth += 1
            level = deeper if depth <= source.depth else []

    async def _one(self, url: str, work: Awaitable[T], empty: T | None = None) -> T | None:
        """One page or media link of a source: its failure (a bug too) is its own error, not the source's end."""
        with item_failures(lambda reason: self._error(url, reason), url):
            return await work
        return empty

    async def _visit(self, source: Source, fetcher, url: str, kind: str, state: tuple | None) -> tuple[list, list]:
        """Fetch one document; return its links as (url, kind, same_depth) and its media as (url, page, title).

        An unchanged document (304) is not parsed again: the links it had last time are followed. A page that
        yt-dlp knows (:mod:`monitor.sources.platform`) is resolved through it instead of fetched.
        """
        if kind in ("page", "auto") and (extractor := await self._platforms.claim(url)):
            return await self._visit_platform(source, url, extractor, state)
        exchange = await fetcher.get_page(url, *(state[:2] if state else (None, None)),
                                          ignore_robots=source.ignore_robots)
        self.report.pages_fetched += 1
        if exchange.error:
            self._record(source, "page", exchange)
            self._error(url, exchange.error)
            return [], []
        if exchange.not_modified:
            self._record(source, "page", exchange)
            links = state[2] if state and state[2] else {"kind": kind, "title": None, "media": [], "pages": []}
        else:
            content_type = exchange.headers.get("content-type")
            if kind not in PARSERS or kind == "media":
                kind = detect_kind(exchange.body, exchange.final_url, content_type)
            # off the event loop: a hostile feed can take seconds to parse, and fetches go on meanwhile
            found = await asyncio.to_thread(PARSERS[kind], exchange.body, exchange.final_url, content_type)
            links = {"kind": kind, "title": found.title, "media": found.media_urls, "pages": found.page_urls}
            self._record(source, "page", exchange, links=links)
        return self._follow(source, exchange.final_url, links)

    async def _visit_platform(self, source: Source, url: str, extractor: str, state: tuple | None) -> tuple[list, list]:
        """A page resolved through yt-dlp. A video resolved before whose media are all stored is not resolved
        again: platforms sign media URLs anew on every visit, so each visit would download them all again."""
        links = state[2] if state else None
        settled = links and links["kind"] == "platform" and links["media"] and not links["pages"]
        if settled and downloaded(self.sessions, links["media"], source.agency_id) >= set(links["media"]):
            return self._follow(source, url, links)
        exchange, found = await self._platforms.visit(url, extractor, source.ignore_robots)
        self.report.pages_fetched += 1
        if exchange.error:
            self._record(source, "page", exchange)
            self._error(url, exchange.error)
            return [], []
        if found.skipped:
            self._error(url, found.skipped)
        links = {"kind": "platform", "title": found.title, "media": found.media_urls, "pages": found.page_urls}
        self._record(source, "page", exchange, links=links)  # status None: no WARC record, yt-dlp made the requests
        return self._follow(source, url, links)

    def _follow(self, source: Source, page_url: str, links: dict) -> tuple[list, list]:
        """A visited document's same-site links as (url, kind, same_depth) and its media as (url, page, title)."""
        media = [(media_url, page_url, links["title"]) for media_url in links["media"]]
        followed = []
        for link in links["pages"]:
            if not _same_site(link, source.url):
                continue
            is_sitemap = links["kind"] == "sitemap" and urlsplit(link).path.lower().endswith(SITEMAP_SUFFIXES)
            followed.append((link, "sitemap" if is_sitemap else "auto", is_sitemap))
        return followed, media

    async def _get_media(self, source: Source, fetcher, url: str, page_url: str | None, title: str | None,
                         stored: bool = False) -> None:
        if url in self._seen_media or self.stop.is_set():
            return
        self._seen_media.add(url)
        self.report.media_found += 1
        if stored or downloaded(self.sessions, [url], source.agency_id):  # downloaded before: not again
            return
        async with self._budget.turn(source.id, url) as allowed:
            if not allowed or self.stop.is_set():
                return
            exchange = await fetcher.get_media(url, ignore_robots=source.ignore_robots)
            self._budget.done(url, failed=bool(exchange.error))
        seen = Seen(url, source.id, page_url, title, source.agency_id)
        self._record_media(source, exchange, seen)
        if exchange.error:
            self._error(url, exchange.error)
            return
        self.report.media_new += 1
        self._analyse(exchange.sha256, exchange.size_bytes, seen, exchange)

    def _error(self, url: str, reason: str) -> None:
        with self._lock:
            self.report.errors.append({"url": printable(url), "reason": shown(reason)})

    def _record(self, source: Source, kind: str, exchange, seen: Seen | None = None, links: dict | None = None) -> None:
        """Pages: written to the WARC file, and their records kept for one transaction per level."""
        warc_path = None
        if exchange.status is not None and not exchange.error and not exchange.not_modified:
            warc_path = self._write_warc(exchange, exchange.body)
        self._pending_pages.append((source, kind, exchange, seen, links, warc_path))

    def _flush_pages(self) -> None:
        with self.sessions.begin() as session:
            for record in self._pending_pages:
                self._write_record(session, *record)
        self._pending_pages.clear()

    def _record_media(self, source: Source, exchange, seen: Seen) -> None:
        """A media download's record, its URL state, the media row and its sighting in one transaction,
        at once, so that stored media is never forgotten (analysed by the next pass after a crash)."""
        with self.sessions.begin() as session:
            self._write_record(session, source, "media", exchange, seen, None, None)

    def _write_record(self, session: Session, source: Source, kind: str, exchange, seen: Seen | None,
                      links: dict | None, warc_path: str | None) -> None:
        session.add(Fetch(
            source_id=source.id, kind=kind, url=exchange.url, final_url=exchange.final_url,
            status=exchange.status, request_headers=exchange.request_headers,
            response_headers=exchange.headers, fetched_at=exchange.fetched_at, elapsed_s=exchange.elapsed_s,
            size_bytes=exchange.size_bytes if kind == "media" else len(exchange.body or b""),
            sha256=exchange.sha256, error=exchange.error, warc_path=warc_path,
            tls_certificate_sha256=self._certificate(session, exchange.tls_certificate),
        ))
        if exchange.not_modified or (exchange.error and kind != "media"):
            return
        state = session.scalar(select(UrlState).where(UrlState.url == exchange.url))
        if state is None:
            state = UrlState(url=exchange.url)
            session.add(state)
        if exchange.error:  # a failed download: when, so that a later pass tries the links never tried first
            state.last_status, state.last_fetched_at = exchange.status, exchange.fetched_at
            return
        state.etag = exchange.headers.get("etag")
        state.last_modified = exchange.headers.get("last-modified")
        state.last_status, state.last_fetched_at = exchange.status, exchange.fetched_at
        state.links = links if kind == "page" else state.links
        if kind == "media":
            state.sha256, state.size_bytes = exchange.sha256, exchange.size_bytes
            record_sighting(session, exchange.sha256, exchange.size_bytes, seen, fetched={
                "final_url": exchange.final_url, "status": exchange.status, "server_ip": exchange.server_ip,
                "fetched_at": exchange.fetched_at.isoformat(), "redirects": exchange.redirects,
                "tls_certificate_sha256": hashlib.sha256(exchange.tls_certificate).hexdigest()
                if exchange.tls_certificate else None,
                "response_headers": exchange.headers, "request_headers": exchange.request_headers}, actor=self.actor,
                config=self.config)

    def _certificate(self, session: Session, der: bytes | None) -> str | None:
        """The certificate's sha256, stored once (by content) for every fetch it answered."""
        if der is None:
            return None
        sha256 = hashlib.sha256(der).hexdigest()
        if sha256 not in self._certificates and session.get(TlsCertificate, sha256) is None:
            session.add(TlsCertificate(sha256=sha256, der=der))
        self._certificates.add(sha256)
        return sha256

    # ---------------------------------------------------------------------------------- folders

    def _crawl_folder(self, source: Source) -> None:
        root = Path(source.url)
        if not root.is_dir():
            raise LikenessError(f"{root} is not a folder")
        for path, status in walk(root):
            if self.stop.is_set():
                return
            self.report.media_found += 1
            name = printable(str(path))
            with item_failures(lambda reason, name=name: self._error(name, reason), name):
                self._crawl_file(source, root, path, status)

    def _crawl_file(self, source: Source, root: Path, path: Path, status: os.stat_result) -> None:
        """One file of a watched folder: stored and analysed when it is new or its size or time changed."""
        key = path.resolve().as_uri()  # percent-encoded bytes: any file name is a valid key
        where = printable(str(path.resolve()))
        with self.sessions() as session:
            state = session.scalar(select(UrlState).where(UrlState.url == key))
            own = session.scalar(select(Sighting.id).where(Sighting.agency_id == source.agency_id,
                                                           Sighting.source == where).limit(1))
        if state is not None and own and (state.size_bytes, state.mtime_ns) == (status.st_size, status.st_mtime_ns):
            return
        sha256, size_bytes = self.store.add_file(path, self.config.media.max_file_bytes)
        with self.sessions.begin() as session:
            session.add(Fetch(source_id=source.id, kind="file", url=key, final_url=key,
                              size_bytes=size_bytes, sha256=sha256))
            state = session.scalar(select(UrlState).where(UrlState.url == key)) or UrlState(url=key)
            state.sha256, state.size_bytes, state.mtime_ns = sha256, size_bytes, status.st_mtime_ns
            state.last_fetched_at = utc_now()
            session.add(state)
            seen = Seen(where, source.id, printable(str(root.resolve())), None, source.agency_id)
            record_sighting(session, sha256, size_bytes, seen, actor=self.actor, config=self.config)
        self.report.media_new += 1
        self._analyse(sha256, size_bytes, seen)


def _same_site(url: str, root: str) -> bool:
    """The same host, ignoring a leading ``www.``."""
    def host(u: str) -> str:
        name = (urlsplit(u).hostname or "").lower()
        return name.removeprefix("www.")

    return host(url) == host(root)
