"""Crawling must not be the bottleneck: pages per second on a generated loopback site, analysis excluded.

The site: an index page linking 499 pages (depth 1, so 500 pages in all), 200 distinct media files
spread over the first 200 pages, each page also linking the next one; measured twice, lean (bare
pages, 256 KB media) and realistic (~30 KB pages, 1 MB media). Served by ``tests/support/website.py`` (a
threaded http.server on 127.0.0.1, answering ETags with 304) in a process of its own, as a real
server would be.

Measured: a first pass (every page fetched, every media downloaded into the store, every exchange
recorded in the database and pages written to WARC) and a second pass over the unchanged site (one
conditional request per page answered 304, no media downloaded). Analysis is excluded: the crawl's
hand-off to the analysis worker is replaced by a no-op, so the figures are those of the crawler alone.
Targets (issue 3): ≥ 50 pages/s on the first pass; the second pass downloads no media and is ≥ 10×
faster.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

N_PAGES = 500
N_MEDIA = 200
# Two sites of the same shape: "lean" (bare 200-byte pages, 256 KB media) and "realistic" (pages padded
# to ~30 KB of markup and text like a vendor's demo page, media of 1 MB: a minute of 128 kbit/s mp3)
SITES = {"lean": (0, 256 * 1024), "realistic": (30 * 1024, 1024 * 1024)}
FILLER = "<div class=\"card\"><p>Natural, expressive voices for your brand, in 40 languages.</p></div>\n"


def build_site(page_padding_bytes: int, media_bytes: int):  # -> tests.support.website.Website, started
    from tests.support.website import Website

    padding = FILLER * (page_padding_bytes // len(FILLER))
    site = Website()
    links = "".join(f'<li><a href="/page/{i}.html">page {i}</a></li>' for i in range(1, N_PAGES))
    site.add("/index.html", f"<html><head><title>Catalogue</title></head><body><ul>{links}</ul></body></html>")
    for i in range(1, N_PAGES):
        media = f'<audio src="/media/{i}.mp3"></audio>' if i <= N_MEDIA else ""
        site.add(f"/page/{i}.html", f"<html><head><title>Voice {i}</title></head><body>{padding}{media}"
                 f'<a href="/page/{i % (N_PAGES - 1) + 1}.html">next</a></body></html>')
    for i in range(1, N_MEDIA + 1):
        site.add(f"/media/{i}.mp3", b"\xff\xfb\x90\x00" + os.urandom(media_bytes), "audio/mpeg")
    site.start()
    return site


def _serve(connection, page_padding_bytes: int, media_bytes: int) -> None:
    """The site, in a process of its own; answers "url", "clear", "media_requests" and "stop"."""
    site = build_site(page_padding_bytes, media_bytes)
    while True:
        command = connection.recv()
        if command == "url":
            connection.send(site.url)
        elif command == "clear":
            site.requests.clear()
            connection.send(None)
        elif command == "media_requests":
            connection.send(sum(1 for _method, path in site.requests if path.startswith("/media/")))
        else:
            site.stop()
            connection.send(None)
            return


class RemoteSite:
    def __init__(self, page_padding_bytes: int, media_bytes: int) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, page_padding_bytes, media_bytes), daemon=True)
        self._process.start()
        self.url = self.ask("url")

    def ask(self, command: str):
        self._connection.send(command)
        return self._connection.recv()

    def stop(self) -> None:
        self.ask("stop")
        self._process.join(10)


def run(scratch: Path, progress: Callable[[str], None]) -> dict[str, Any]:
    """Both sites; the figures of each."""
    return {name: _run_site(scratch / name, name, *sizes, progress) for name, sizes in SITES.items()}


def _run_site(scratch: Path, name: str, page_padding_bytes: int, media_bytes: int,
              progress: Callable[[str], None]) -> dict[str, Any]:
    from enrollment.agencies import agency_for
    from monitor.config import load_config
    from monitor.pipeline.crawl import Crawl
    from monitor.storage.db import open_database
    from monitor.storage.models import Source

    home = scratch / "crawl-home"
    home.mkdir(parents=True)
    (home / "config.toml").write_text("[fetch]\nper_host_delay_s = 0.0\nper_host_concurrency = 8\n"
                                      "[crawl]\nmax_pages_per_run = 1000\nmax_files_per_run = 1000\n")
    os.environ["LIKENESS_ALLOWED_HOSTS"] = "127.0.0.1"
    os.environ.pop("LIKENESS_DATABASE_URL", None)
    config = load_config(home)
    sessions = open_database(config.database_url)
    site = RemoteSite(page_padding_bytes, media_bytes)
    try:
        with sessions.begin() as session:
            session.add(Source(agency_id=agency_for(session).id, kind="page", url=f"{site.url}/index.html",
                               every_s=3600, depth=1))

        class CrawlWithoutAnalysis(Crawl):
            def _scan_stored(self, *args) -> None:  # analysis excluded: the crawler alone is measured
                pass

        passes = []
        for pass_name in ("first pass", "second pass (unchanged site)"):
            progress(f"crawl, {name} site: {pass_name}")
            site.ask("clear")
            # the objects of earlier passes are not this pass's cost: where a full collection of them falls (about
            # 0.2 s) would otherwise decide a 0.2 s pass
            gc.collect()
            gc.freeze()
            started = time.perf_counter()
            report = CrawlWithoutAnalysis(config, sessions).run()
            elapsed_s = time.perf_counter() - started
            gc.unfreeze()
            passes.append({"name": pass_name, "seconds": elapsed_s, "pages_fetched": report.pages_fetched,
                           "pages_per_s": report.pages_fetched / elapsed_s, "media_found": report.media_found,
                           "media_downloaded": site.ask("media_requests"), "errors": len(report.errors)})
    finally:
        site.stop()
    first, second = passes
    speedup = first["seconds"] / second["seconds"]
    return {"site": {"pages": N_PAGES, "media": N_MEDIA, "page_bytes": page_padding_bytes + 200,
                     "media_bytes": media_bytes},
            "passes": passes, "second_pass_speedup": speedup,
            "per_host_concurrency": config.fetch.per_host_concurrency,
            "targets": {"pages_per_s_min": 50, "pages_per_s_met": first["pages_per_s"] >= 50,
                        "speedup_min": 10, "speedup_met": speedup >= 10 and second["media_downloaded"] == 0}}


def report_lines(results: dict[str, Any]) -> list[str]:
    from bench.report import table

    lines = ["Sites on 127.0.0.1, each served by a process of its own; analysis excluded; per-host concurrency 8, "
             "no per-host delay"]
    for name, result in results.items():
        site, targets = result["site"], result["targets"]
        lines += ["", f"{name}: {site['pages']} pages of ~{site['page_bytes'] / 1024:.1f} KB, {site['media']} media "
                  f"files of {site['media_bytes'] // 1024} KB"]
        lines += table(["pass", "s", "pages", "pages/s", "media found", "media downloaded", "errors"], [
            [p["name"], f"{p['seconds']:.2f}", str(p["pages_fetched"]), f"{p['pages_per_s']:.0f}",
             str(p["media_found"]), str(p["media_downloaded"]), str(p["errors"])] for p in result["passes"]])
        lines += [f"Target ≥ 50 pages/s on the first pass: {'met' if targets['pages_per_s_met'] else 'NOT met'} "
                  f"({result['passes'][0]['pages_per_s']:.0f} pages/s)",
                  f"Target: second pass downloads no media and is ≥ 10× faster: "
                  f"{'met' if targets['speedup_met'] else 'NOT met'} ({result['second_pass_speedup']:.1f}× faster)"]
    return lines
