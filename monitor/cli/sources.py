"""The crawler's commands: `source add|list|remove|pause|resume`, `crawl` and the `run` daemon."""

from __future__ import annotations

import sys

import click

from enrollment.errors import shown_name
from monitor.cli.common import App, emit, json_option, send_after_command, warn, workers_option

# monitor.services.sources.KINDS, spelled out: `likeness --help` must not import the services
KIND_CHOICES = ("auto", "page", "feed", "sitemap", "folder", "media")


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
    from monitor.services.sources import add_source, parse_every

    data = add_source(app.context, url_or_path, kind, parse_every(every) if every else None, depth, name,
                      ignore_robots)
    emit(data, as_json, lambda: click.echo(
        f"source {data['id']}: {data['kind']} {data['url']} every {data['every_s']} s"))


@source.command("list")
@json_option
@click.pass_obj
def source_list(app: App, as_json: bool) -> None:
    """List the sources with their schedule and last run."""
    from monitor.services.sources import list_sources

    rows = list_sources(app.context)

    def human() -> None:
        for row in rows:
            state = "paused" if row["paused"] else f"every {row['every_s']} s"
            click.echo(f"{row['id']:>4}  {row['kind']:<7} {state:<16} {row['name'] or row['url']}"
                       f"{'  (last error: ' + row['last_error'] + ')' if row['last_error'] else ''}")
        if not rows:
            click.echo("no sources yet: likeness source add URL_OR_PATH")

    emit(rows, as_json, human)


def _change_source(app: App, source_id: int, change: str) -> None:
    from monitor.services.sources import change_source

    change_source(app.context, source_id, change)
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
    from monitor.services.sources import crawl as crawl_sources

    with spinner("crawling", enabled=not as_json) as advance:
        report = crawl_sources(app.context, list(source_ids), workers, on_media=lambda row: advance(row["source"]))
    for error in report["errors"]:  # a 404 or a refused file is part of crawling, not a failure of the command
        warn(f"{shown_name(error['url'])}: {error['reason']}", "warning", item=True)

    def human() -> None:
        click.echo(f"{report['sources']} sources, {report['pages_fetched']} pages, {report['media_found']} media "
                   f"found, {report['media_new']} new, {report['media_analysed']} analysed, "
                   f"{len(report['detections'])} detections")
        for d in report["detections"]:
            click.echo(f"  DETECTION {d['id']}: {d['performer_name']} ({d['modality']}) score {d['score']:.2f} "
                       f"in {d['media']['source']}")

    emit(report, as_json, human)
    send_after_command(app)


@click.command()
@click.pass_obj
def run(app: App) -> None:
    """Keep watching every source on its schedule (stop with Ctrl-C or SIGTERM)."""
    click.echo(f"watching the sources of {app.config.home.resolve()} (Ctrl-C to stop)", err=True)
    _keep_schedule(app, on_workers=False)


@click.command()
@click.pass_obj
def scheduler(app: App) -> None:
    """Hand each source's crawls to the workers on its schedule (stop with Ctrl-C or SIGTERM)."""
    click.echo(f"scheduling the crawls of {app.config.home.resolve()} for the workers (Ctrl-C to stop)", err=True)
    _keep_schedule(app, on_workers=True)


def _keep_schedule(app: App, on_workers: bool) -> None:
    import logging

    from monitor.services.sources import watch

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    from monitor.services.notice_checks import recheck_notices_job
    from monitor.services.staydown import draft_reupload_notices_job

    watch(app.context, on_workers, ((recheck_notices_job, "notices-recheck", "recheck notices"),
                                    (draft_reupload_notices_job, "notices-reuploads", "draft notices for re-uploads")),
          after_crawl=(draft_reupload_notices_job,))
    click.echo("stopped", err=True)
