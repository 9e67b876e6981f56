"""Sources: places to watch (added, listed, paused, resumed, removed), crawled once now or on schedule."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Select, select

from enrollment.errors import LikenessError, NotFound, printable
from monitor.fetch.download import is_url
from monitor.services import audit
from monitor.services.context import Context
from monitor.sources import KINDS as SOURCE_KINDS
from monitor.storage.models import Source

KINDS = ("auto", *SOURCE_KINDS)  # auto: fetched once, its kind told from the answer
UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MIN_EVERY_S = 60  # be polite to the sites watched


def parse_every(text: str) -> int:
    """``90s``, ``30m``, ``6h``, ``1d`` or plain seconds → seconds (at least 60)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text.lower())
    if match is None:
        raise LikenessError(f"--every {text!r}: give a number with s, m, h or d (for example 6h)")
    seconds = round(float(match.group(1)) * UNIT_S[match.group(2) or "s"])
    if seconds < MIN_EVERY_S:
        raise LikenessError("--every must be at least 60 s: be polite to the sites you watch")
    return seconds


def source_json(source: Source) -> dict:
    """A source as the ``source list`` command's JSON row."""
    return {"id": source.id, "kind": source.kind, "url": source.url, "every_s": source.every_s,
            "name": source.name, "depth": source.depth, "paused": source.paused,
            "ignore_robots": source.ignore_robots,
            "last_run_at": source.last_run_at.isoformat(timespec="seconds") if source.last_run_at else None,
            "last_error": source.last_error}


def add_source(ctx: Context, url_or_path: str, kind: str = "auto", every_s: int | None = None,
               depth: int | None = None, name: str | None = None, ignore_robots: bool = False) -> dict:
    """Watch an http(s) URL or a local folder → ``{"id", "kind", "url", "every_s"}``.

    ``kind`` ``auto`` fetches a URL once, politely, and tells its kind from the answer; a folder is always
    ``folder``. ``every_s`` (≥ 60) and ``depth`` default to ``crawl.default_every_s`` and ``crawl.default_depth``.
    """
    ctx.require("sources")
    config = ctx.config
    every_s = config.crawl.default_every_s if every_s is None else every_s
    if every_s < MIN_EVERY_S:
        raise LikenessError("--every must be at least 60 s: be polite to the sites you watch")
    if kind not in KINDS:
        raise LikenessError(f"kind must be one of {', '.join(KINDS)}")
    for what, text in (("a source's URL or folder", url_or_path), ("--name", name or "")):
        if not text.isprintable():  # a line break, a terminal escape, bytes of a name that were not UTF-8
            raise LikenessError(f"{what} must be printable text (a folder whose name is not UTF-8: watch the one "
                                f"above it): {printable(text)}")
    if not is_url(url_or_path):
        ctx.require("install")  # a folder of this machine: its operator's to give, never a web user's
    agency_id = ctx.acting_agency_id()
    url, kind = _where_and_kind(ctx, url_or_path, kind, ignore_robots)
    with ctx.sessions.begin() as session:
        added = Source(agency_id=agency_id, kind=kind, url=url, name=name, every_s=every_s,
                       depth=config.crawl.default_depth if depth is None else depth, ignore_robots=ignore_robots)
        session.add(added)
        session.flush()
        data = {"id": added.id, "kind": added.kind, "url": added.url, "every_s": added.every_s}
        audit.record(ctx, "source.add", f"source {added.id}", session=session, agency_id=agency_id, kind=kind,
                     url=url)
    return data


def _where_and_kind(ctx: Context, url_or_path: str, kind: str, ignore_robots: bool) -> tuple[str, str]:
    if is_url(url_or_path):
        if kind == "folder":
            raise LikenessError("a folder source is a local path, not a URL")
        return url_or_path, _detect_kind(ctx, url_or_path, ignore_robots) if kind == "auto" else kind
    path = Path(url_or_path).expanduser()
    if not path.is_dir():
        raise LikenessError(f"{url_or_path}: neither an http(s) URL nor a folder (scan one file with `likeness scan`)")
    if kind not in ("auto", "folder"):
        raise LikenessError(f"a local folder can only be --kind folder, not {kind}")
    return str(path.resolve()), "folder"


def _detect_kind(ctx: Context, url: str, ignore_robots: bool) -> str:
    """Fetch the URL once (politely, through the crawler's client) and tell its kind from the answer."""
    import asyncio

    from monitor.fetch.http import Fetcher
    from monitor.sources import detect_kind
    from monitor.storage.content_store import content_store

    async def fetch():
        async with Fetcher(ctx.config, content_store(ctx.config)) as fetcher:
            return await fetcher.get_page(url, ignore_robots=ignore_robots)

    exchange = asyncio.run(fetch())
    if exchange.error:
        raise LikenessError(f"cannot tell the kind of {url}: {exchange.error}; give --kind")
    return detect_kind(exchange.body, exchange.final_url, exchange.headers.get("content-type"))


def _sources(ctx: Context):
    query = select(Source).order_by(Source.id)
    agency_id = ctx.scoped_agency_id()
    return query.where(Source.agency_id == agency_id) if agency_id is not None else query


def choices_query(ctx: Context) -> Select:
    """(id, name, url) of the agency's sources, by id: a filter's choices."""
    ctx.require("read")
    return _sources(ctx).with_only_columns(Source.id, Source.name, Source.url)


def list_sources(ctx: Context) -> list[dict]:
    """Every source of the agency with its schedule and last run, by id."""
    ctx.require("read")
    with ctx.reading() as session:
        return [source_json(s) for s in session.scalars(_sources(ctx))]


def change_source(ctx: Context, source_id: int, change: str) -> dict:
    """``remove`` (what it found stays), ``pause`` or ``resume`` a source → ``{"id", "change"}``."""
    if change not in ("remove", "pause", "resume"):
        raise LikenessError("change must be remove, pause or resume")
    ctx.require("sources")
    with ctx.sessions.begin() as session:
        found = _own_source(ctx, session, source_id)
        audit.record(ctx, f"source.{change}", f"source {source_id}", session=session, agency_id=found.agency_id)
        if change == "remove":
            session.delete(found)
        else:
            found.paused = change == "pause"
    return {"id": source_id, "change": change}


def _own_source(ctx: Context, session, source_id: int) -> Source:
    found = session.scalar(_sources(ctx).where(Source.id == source_id))
    if found is None:
        raise NotFound(f"no source with id {source_id} (see `likeness source list`)")
    return found


def crawl(ctx: Context, source_ids: list[int] | None = None, workers: int | None = None,
          on_media: Callable[[dict], None] | None = None) -> dict:
    """Visit the sources once now (those given, paused too; else every active one), download new media and
    scan it → the ``crawl`` command's JSON (counts, DETECTION objects, ``errors`` of {url, reason}).
    ``on_media(row)`` as each media's scan row is done."""
    from monitor.pipeline.crawl import Crawl

    ctx.require("sources")
    with ctx.reading() as session:
        for source_id in source_ids or []:
            _own_source(ctx, session, source_id)
    done = (lambda row: on_media(row.as_json())) if on_media is not None else None
    return Crawl(ctx.config, ctx.sessions, on_media=done, workers=workers, actor=ctx.actor.name).run(
        list(source_ids or []), ctx.scoped_agency_id()).as_json()


def watch(ctx: Context, on_workers: bool = False, hourly: tuple = (), after_crawl: tuple = ()) -> None:
    """Keep crawling every source on its schedule, and sending due alerts, until SIGINT or SIGTERM; one such
    process per install (a second waits). ``on_workers``: hand each due crawl and alert run to the broker's
    workers instead (``likeness scheduler``; LikenessError without a broker). ``hourly`` and ``after_crawl``:
    more jobs, as :func:`monitor.pipeline.scheduler.run_daemon` takes them."""
    from monitor.pipeline.scheduler import run_daemon
    from monitor.services.broker import NO_BROKER

    ctx.require("install")
    if on_workers and not ctx.config.broker_url:
        raise LikenessError(f"{NO_BROKER} (or `likeness run` crawls in this process)")
    run_daemon(ctx.config, ctx.sessions, on_workers=on_workers, hourly=hourly, after_crawl=after_crawl)


def crawl_when_due(ctx: Context, source_id: int) -> dict | None:
    """A scheduled pass over ``source_id`` (a crawl worker's task) → the ``crawl`` command's JSON; None where the
    source is gone or paused since, or where another process is crawling it (a pass due while the last still
    ran): nothing then."""
    from monitor.pipeline.crawl import Crawl
    from monitor.storage.one_holder import held_if_free

    ctx.require("install")
    with held_if_free(ctx.sessions.kw["bind"], f"crawl-{source_id}") as held:
        with ctx.reading() as session:
            source = session.get(Source, source_id)
        if not held or source is None or source.paused:
            return None
        return Crawl(ctx.config, ctx.sessions, actor=ctx.actor.name).run([source_id]).as_json()
