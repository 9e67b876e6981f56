"""The crawler's commands: `source add|list|remove|pause|resume`, `crawl` and the `run` daemon."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from enrollment.errors import LikenessError, NotFound
from monitor.cli.alerts import send_after_command
from monitor.cli.common import App, emit, json_option, warn

KIND_CHOICES = ("auto", "page", "feed", "sitemap", "folder", "media")
UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
workers_option = click.option(  # shared with `scan`
    "--workers", type=click.IntRange(min=0), default=None, metavar="N",
    help="Files analysed at once, one process each (default workers.analysis; 0: one per CPU core).")


def parse_every(text: str) -> int:
    """``90s``, ``30m``, ``6h``, ``1d`` or plain seconds → seconds (at least 60)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text.lower())
    if match is None:
        raise LikenessError(f"--every {text!r}: give a number with s, m, h or d (for example 6h)")
    seconds = round(float(match.group(1)) * UNIT_S[match.group(2) or "s"])
    if seconds < 60:
        raise LikenessError("--every must be at least 60 s: be polite to the sites you watch")
    return seconds


def source_json(source) -> dict:
    return {"id": source.id, "kind": source.kind, "url": source.url, "every_s": source.every_s,
            "name": source.name, "depth": source.depth, "paused": source.paused,
            "ignore_robots": source.ignore_robots,
            "last_run_at": source.last_run_at.isoformat(timespec="seconds") if source.last_run_at else None,
            "last_error": source.last_error}


def _detect_kind(app: App, url: str, ignore_robots: bool) -> str:
    """Fetch the URL once (politely, through the crawler's client) and tell its kind from the answer."""
    import asyncio

    from monitor.fetch.http import Fetcher
    from monitor.sources import detect_kind
    from monitor.storage.content_store import ContentStore

    async def fetch():
        async with Fetcher(app.config, ContentStore(app.config.store_dir)) as fetcher:
            return await fetcher.get_page(url, ignore_robots=ignore_robots)

    exchange = asyncio.run(fetch())
    if exchange.error:
        raise LikenessError(f"cannot tell the kind of {url}: {exchange.error}; give --kind")
    return detect_kind(exchange.body, exchange.final_url, exchange.headers.get("content-type"))


@click.group()
def source() -> None:
    """Places to watch: pages, feeds, sitemaps, folders, media URLs."""


@source.command("add")
@click.argument("url_or_path")
@click.option("--kind", type=click.Choice(KIND_CHOICES), default="auto", show_default=True,
              help="What the source is; auto fetches it once and decides.")
@click.option("--every", default=None, help="How often to visit it: 30m, 6h, 1d (default crawl.default_every_s).")
@click.option("--depth", type=click.IntRange(0, 10), default=None,
              help="How many links deep to follow on the same site (default crawl.default_depth).")
@click.option("--name", default=None, help="A name for reports and alerts.")
@click.option("--ignore-robots", is_flag=True, help="Visit it although its robots.txt says no (you must be allowed).")
@json_option
@click.pass_obj
def source_add(app: App, url_or_path: str, kind: str, every: str | None, depth: int | None, name: str | None,
               ignore_robots: bool, as_json: bool) -> None:
    """Watch a page, feed, sitemap, folder or media URL."""
    from monitor.fetch.download import is_url
    from monitor.storage.models import Source

    config = app.config
    every_s = parse_every(every) if every else config.crawl.default_every_s
    if is_url(url_or_path):
        url = url_or_path
        if kind == "folder":
            raise LikenessError("a folder source is a local path, not a URL")
        kind = _detect_kind(app, url, ignore_robots) if kind == "auto" else kind
    else:
        path = Path(url_or_path).expanduser()
        if not path.is_dir():
            raise LikenessError(
                f"{url_or_path}: neither an http(s) URL nor a folder (scan one file with `likeness scan`)")
        if kind not in ("auto", "folder"):
            raise LikenessError(f"a local folder can only be --kind folder, not {kind}")
        url, kind = str(path.resolve()), "folder"
    with app.sessions.begin() as session:
        added = Source(kind=kind, url=url, name=name, every_s=every_s,
                       depth=config.crawl.default_depth if depth is None else depth, ignore_robots=ignore_robots)
        session.add(added)
        session.flush()
        data = {"id": added.id, "kind": added.kind, "url": added.url, "every_s": added.every_s}
    emit(data, as_json, lambda: click.echo(f"source {data['id']}: {data['kind']} {data['url']} every {every_s} s"))


@source.command("list")
@json_option
@click.pass_obj
def source_list(app: App, as_json: bool) -> None:
    """List the sources with their schedule and last run."""
    from sqlalchemy import select

    from monitor.storage.models import Source

    with app.sessions() as session:
        rows = [source_json(s) for s in session.scalars(select(Source).order_by(Source.id))]

    def human() -> None:
        for row in rows:
            state = "paused" if row["paused"] else f"every {row['every_s']} s"
            click.echo(f"{row['id']:>4}  {row['kind']:<7} {state:<16} {row['name'] or row['url']}"
                       f"{'  (last error: ' + row['last_error'] + ')' if row['last_error'] else ''}")
        if not rows:
            click.echo("no sources yet: likeness source add URL_OR_PATH")

    emit(rows, as_json, human)


def _change_source(app: App, source_id: int, change: str) -> None:
    from monitor.storage.models import Source

    with app.sessions.begin() as session:
        found = session.get(Source, source_id)
        if found is None:
            raise NotFound(f"no source with id {source_id} (see `likeness source list`)")
        if change == "remove":
            session.delete(found)
        else:
            found.paused = change == "pause"
    click.echo(f"source {source_id}: {change}d")


@source.command("remove")
@click.argument("source_id", type=int)
@click.pass_obj
def source_remove(app: App, source_id: int) -> None:
    """Stop watching a source (what it found stays)."""
    _change_source(app, source_id, "remove")


@source.command("pause")
@click.argument("source_id", type=int)
@click.pass_obj
def source_pause(app: App, source_id: int) -> None:
    """Stop visiting a source until it is resumed."""
    _change_source(app, source_id, "pause")


@source.command("resume")
@click.argument("source_id", type=int)
@click.pass_obj
def source_resume(app: App, source_id: int) -> None:
    """Visit a paused source again."""
    _change_source(app, source_id, "resume")


@click.command()
@click.option("--source", "source_ids", type=int, multiple=True, help="Only this source (repeatable); paused too.")
@workers_option
@json_option
@click.pass_obj
def crawl(app: App, source_ids: tuple[int, ...], workers: int | None, as_json: bool) -> None:
    """Visit the sources once now, download new media and scan it; wait for the end."""
    from monitor.cli.progress import spinner
    from monitor.pipeline.crawl import Crawl

    with spinner("crawling", enabled=not as_json) as advance:
        report = Crawl(app.config, app.sessions, on_media=lambda row: advance(row.source),
                       workers=workers).run(list(source_ids))
    for error in report.errors:  # a 404 or a refused file is part of crawling, not a failure of the command
        warn(f"{error['url']}: {error['reason']}", "warning")

    def human() -> None:
        click.echo(f"{report.sources} sources, {report.pages_fetched} pages, {report.media_found} media found, "
                   f"{report.media_new} new, {report.media_analysed} analysed, {len(report.detections)} detections")
        for d in report.detections:
            click.echo(f"  DETECTION {d['id']}: {d['performer_name']} ({d['modality']}) score {d['score']:.2f} "
                       f"in {d['media']['source']}")

    emit(report.as_json(), as_json, human)
    send_after_command(app)


@click.command()
@click.pass_obj
def run(app: App) -> None:
    """Keep watching every source on its schedule (stop with Ctrl-C or SIGTERM)."""
    import logging

    from monitor.pipeline.scheduler import run_daemon

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    click.echo(f"watching the sources of {app.config.home.resolve()} (Ctrl-C to stop)", err=True)
    run_daemon(app.config, app.sessions)
    click.echo("stopped", err=True)
