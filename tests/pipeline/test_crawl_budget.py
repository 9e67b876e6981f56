"""The crawler's download budget: failed downloads cost requests too, so they are capped like good ones.

A page of many media links that all fail must not cost a request (and a polite wait) per link on every run:
the downloads tried per source and run are capped (``crawl.max_files_per_run``, failed ones included), a host
that keeps failing is left alone for the rest of the run (``crawl.max_host_failures``), and a later run
tries the links never tried before the ones that failed.
"""

from __future__ import annotations

import pytest

from tests.support.website import POLITE_FETCH

pytestmark = pytest.mark.slow
LINKS = 30


def _page_of_failing_links(site) -> list[str]:
    paths = [f"/media/{n:02d}.mp3" for n in range(LINKS)]  # none is served: every download is a 404
    site.add("/index.html", "<html><body>" + "".join(f'<a href="{p}">clip</a>' for p in paths) + "</body></html>")
    return paths


def _media_requests(site) -> list[str]:
    return [path for _method, path in site.requests if path.startswith("/media/")]


def _crawl(likeness) -> dict:
    result = likeness("crawl", "--json")
    assert result.exit_code == 0, result.stderr
    return result.json


def test_failed_downloads_count_towards_the_per_run_cap_and_the_next_run_tries_other_links(
        likeness, site, polite_home):
    crawl = "[crawl]\nmax_files_per_run = 20\nmax_host_failures = 1000\n"
    (polite_home / "config.toml").write_text(POLITE_FETCH + crawl)
    paths = _page_of_failing_links(site)
    likeness("source", "add", f"{site.url}/index.html", "--kind", "page")

    first = _crawl(likeness)
    tried_first = _media_requests(site)
    assert len(tried_first) == 20
    not_tried = [e for e in first["errors"] if "not tried" in e["reason"]]
    assert [e["reason"] for e in not_tried] == [
        "10 media links not tried this run: crawl.max_files_per_run = 20 reached (downloads tried, failed ones too)"]

    site.requests.clear()
    _crawl(likeness)
    tried_second = _media_requests(site)
    assert len(tried_second) == 20
    assert set(paths) - set(tried_first) <= set(tried_second)  # the 10 never tried come first


def test_a_host_whose_downloads_keep_failing_is_left_alone_for_the_rest_of_the_run(likeness, site, polite_home):
    (polite_home / "config.toml").write_text(POLITE_FETCH + "[crawl]\nmax_host_failures = 5\n")
    _page_of_failing_links(site)
    likeness("source", "add", f"{site.url}/index.html", "--kind", "page")

    report = _crawl(likeness)
    # five failures in a row, and at most those already under way when the fifth failed (fetch.per_host_concurrency)
    assert 5 <= len(_media_requests(site)) <= 5 + 1
    skipped = [e["reason"] for e in report["errors"] if "not tried" in e["reason"]]
    assert len(skipped) == 1 and "127.0.0.1 failed 5 downloads in a row (crawl.max_host_failures)" in skipped[0]
    failed = [e for e in report["errors"] if "404" in e["reason"]]
    assert len(failed) == len(_media_requests(site))
