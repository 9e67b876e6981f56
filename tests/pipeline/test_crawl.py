"""The crawler: sources on a real loopback website, found media scanned like `likeness scan`.

Each test serves a generated site from 127.0.0.1 (allowed through LIKENESS_ALLOWED_HOSTS, as a
private address must be) and drives the real CLI.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from monitor.config import load_config
from monitor.demo.synthetic import OTHER_VOICE
from monitor.storage.db import open_database
from monitor.storage.models import Fetch, Media, Sighting
from tests.support.faults import noise_image
from tests.support.website import HANG_S, POLITE_FETCH

pytestmark = pytest.mark.slow
CRAWL_KEYS = {"sources", "pages_fetched", "media_found", "media_new", "media_analysed", "detections", "errors"}


def _count(model, *where) -> int:
    with open_database(load_config().database_url)() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def _crawl(likeness) -> dict:
    result = likeness("crawl", "--json")
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert set(result.json) == CRAWL_KEYS
    return result.json


def test_a_clone_is_found_through_a_page_a_feed_and_a_sitemap(likeness, site, clone_mp3, make_speech, tmp_path):
    stranger = make_speech("stranger", voice=OTHER_VOICE, texts=(3,), suffix=".mp3").read_bytes()
    site.add("/index.html", '<html><head><title>Voices for hire</title><meta property="og:image" content="/cover.jpg">'
             '</head><body><audio src="/media/demo.mp3"></audio><a href="/about.html">about</a>'
             '<a href="http://elsewhere.invalid/page.html">elsewhere</a></body></html>')
    site.add("/about.html", '<html><body><a href="/media/interview.mp3">interview</a></body></html>')
    site.add("/cover.jpg", noise_image(tmp_path / "cover.jpg").read_bytes(), "image/jpeg")
    site.add("/media/demo.mp3", clone_mp3, "audio/mpeg")
    site.add("/media/interview.mp3", stranger, "audio/mpeg")
    site.add("/feed.xml", '<?xml version="1.0"?><rss version="2.0"><channel><title>Podcast</title><item>'
             '<title>Ep 1</title><enclosure url="/media/episode1.mp3" type="audio/mpeg" length="1"/></item>'
             '</channel></rss>', "application/rss+xml")
    site.add("/media/episode1.mp3", clone_mp3 + b"", "audio/mpeg")  # the same bytes at a second URL
    site.add("/sitemap_index.xml", '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/'
             f'sitemap/0.9"><sitemap><loc>{site.url}/sitemap.xml</loc></sitemap></sitemapindex>', "application/xml")
    site.add("/sitemap.xml", '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
             'xmlns:video="http://www.google.com/schemas/sitemap-video/1.1"><url><loc>'
             f'{site.url}/about.html</loc><video:video><video:content_loc>{site.url}/media/demo.mp3'
             '</video:content_loc></video:video></url></urlset>', "application/xml")
    for url in ("/index.html", "/feed.xml", "/sitemap_index.xml"):
        added = likeness("source", "add", site.url + url, "--json")
        assert added.exit_code == 0, added.stderr
    assert [s["kind"] for s in likeness("source", "list", "--json").json] == ["page", "feed", "sitemap"]

    report = _crawl(likeness)
    assert report["sources"] == 3 and report["errors"] == []
    assert report["media_new"] == 4  # demo, interview, cover, episode1 (demo again in the sitemap: not twice)
    assert report["media_analysed"] == 3  # episode1 holds the same bytes as demo: analysed once
    found_at = sorted(d["media"]["source"] for d in report["detections"])
    assert found_at[0] == f"{site.url}/media/demo.mp3"
    assert all(d["performer_name"] == "Ada Voice" and d["modality"] == "voice" for d in report["detections"])
    assert site.requested("/media/demo.mp3") == 1
    with open_database(load_config().database_url)() as session:
        [media] = session.scalars(select(Media).join(Sighting).where(Sighting.source == f"{site.url}/media/demo.mp3"))
        pages = dict(session.execute(
            select(Sighting.source, Sighting.page_url).where(Sighting.media_id == media.id)).all())
        # the page or the sitemap, whichever source reached it first (sources are crawled concurrently)
        assert pages[f"{site.url}/media/demo.mp3"] in {f"{site.url}/index.html", f"{site.url}/sitemap.xml"}
        assert pages[f"{site.url}/media/episode1.mp3"] == f"{site.url}/feed.xml"
        assert session.scalar(select(func.count()).select_from(Sighting).where(Sighting.media_id == media.id)) == 2
    assert "elsewhere.invalid" not in " ".join(path for _m, path in site.requests)
    assert list((load_config().home / "warc").glob("*.warc.gz"))


def test_a_second_pass_costs_one_304_per_unchanged_page_and_finds_what_changed_below_it(likeness, site, clone_mp3):
    site.add("/index.html", '<html><body><audio src="/clone.mp3"></audio><a href="/more.html">more</a></body></html>')
    site.add("/more.html", "<html><body>nothing here</body></html>")
    site.add("/clone.mp3", clone_mp3, "audio/mpeg")
    likeness("source", "add", f"{site.url}/index.html", "--kind", "page")
    first = _crawl(likeness)
    assert first["media_new"] == 1 and len(first["detections"]) == 1
    site.requests.clear()

    second = _crawl(likeness)
    assert second["media_new"] == 0 and second["detections"] == []
    assert sorted(path for _m, path in site.requests if not path.startswith("/robots")) == ["/index.html",
                                                                                            "/more.html"]
    with open_database(load_config().database_url)() as session:
        statuses = session.scalars(select(Fetch.status).order_by(Fetch.id.desc()).limit(2)).all()
        assert statuses == [304, 304]

    site.add("/more.html", '<html><body><video src="/new.mp4"></video></body></html>')  # the index is unchanged
    site.add("/new.mp4", clone_mp3, "video/mp4")
    third = _crawl(likeness)
    assert third["media_found"] == 2 and site.requested("/new.mp4") == 1


def test_what_goes_wrong_on_a_site_is_reported_and_the_rest_is_crawled(likeness, site, clone_mp3, polite_home):
    # a timeout of its own, which /slow.html outlasts (it never answers); the other routes answer at once
    (polite_home / "config.toml").write_text(POLITE_FETCH.replace("timeout_s = 30.0", "timeout_s = 5.0")
                                             + "[media]\nmax_file_bytes = 1_000_000\n")
    links = ["/missing.html", "/broken.html", "/slow.html", "/private/secret.html", "/to-private", "/big.mp3",
             "/fake.mp3", "/clone.mp3", "/bad-feed.xml"]
    site.add("/index.html", "<html><body>" + "".join(f'<a href="{link}">x</a>' for link in links) + "</body></html>")
    site.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", "text/plain")
    site.add("/broken.html", "oops", status=500)
    site.add("/slow.html", "<html></html>", delay_s=HANG_S)
    site.add("/private/secret.html", "<html></html>")
    site.redirect("/to-private", "http://10.0.0.5/internal.html")
    site.add("/big.mp3", b"\xff\xfb" + bytes(2_000_000), "audio/mpeg")
    site.add("/fake.mp3", "<!doctype html><html><body>not audio</body></html>", "audio/mpeg")
    site.add("/clone.mp3", clone_mp3, "audio/mpeg")
    site.add("/bad-feed.xml", '<?xml version="1.0"?><rss><channel><item><enclosure url="/clone.mp3"', "text/xml")
    likeness("source", "add", f"{site.url}/index.html", "--kind", "page")

    report = _crawl(likeness)
    reasons = {error["url"].removeprefix(site.url): error["reason"] for error in report["errors"]}
    assert "404" in reasons["/missing.html"]
    assert "500" in reasons["/broken.html"]
    assert "timed out" in reasons["/slow.html"]
    assert "robots.txt" in reasons["/private/secret.html"]
    assert "10.0.0.5" in reasons["/to-private"] and "private" in reasons["/to-private"]
    assert "max_file_bytes" in reasons["/big.mp3"]
    assert "HTML" in reasons["/fake.mp3"]
    assert site.requested("/private/secret.html") == 0
    assert [d["media"]["source"] for d in report["detections"]] == [f"{site.url}/clone.mp3"]
    assert _count(Media) == 1


def test_media_stored_but_not_analysed_before_a_crash_is_analysed_by_the_next_pass(likeness, site, clone_mp3,
                                                                                 monkeypatch):
    from monitor.pipeline.crawl import Crawl

    site.add("/clone.mp3", clone_mp3, "audio/mpeg")
    likeness("source", "add", f"{site.url}/clone.mp3", "--kind", "media")
    with monkeypatch.context() as patch:
        patch.setattr(Crawl, "_scan_stored", lambda *args: None)  # the process dies before analysing
        assert _crawl(likeness)["media_new"] == 1
    assert _count(Media, Media.analysis_key.is_(None)) == 1

    report = _crawl(likeness)
    assert report["media_new"] == 0 and report["media_analysed"] == 1
    assert [d["media"]["source"] for d in report["detections"]] == [f"{site.url}/clone.mp3"]
    assert site.requested("/clone.mp3") == 1


def test_media_whose_stored_file_was_removed_is_that_items_error_and_stays_for_a_later_pass(likeness, site, clone_mp3,
                                                                                          home, monkeypatch):
    from monitor.pipeline.crawl import Crawl

    site.add("/clone.mp3", clone_mp3, "audio/mpeg")
    likeness("source", "add", f"{site.url}/clone.mp3", "--kind", "media")
    with monkeypatch.context() as patch:
        patch.setattr(Crawl, "_scan_stored", lambda *args: None)  # stored, then the process dies
        _crawl(likeness)
    with open_database(load_config().database_url)() as session:
        sha256 = session.scalar(select(Media.sha256))
    stored = home / "store" / sha256[:2] / sha256[2:4] / sha256
    stored.unlink()  # an operator cleaned the store by hand

    report = _crawl(likeness)
    [error] = report["errors"]
    assert error["url"] == f"{site.url}/clone.mp3"
    assert error["reason"] == f"its stored file {sha256[:12]} is missing from the content store"
    assert _count(Media, Media.analysis_key.is_(None)) == 1  # nothing half-written: a later pass tries again


def test_a_folder_is_watched_for_new_and_changed_files(likeness, polite_home, clone_mp3, tmp_path):
    folder = tmp_path / "drop"
    (folder / "nested").mkdir(parents=True)
    (folder / "nested" / "clone.mp3").write_bytes(clone_mp3)
    (folder / "notes.txt").write_text("not media")
    added = likeness("source", "add", folder, "--json")
    assert added.json["kind"] == "folder"

    first = _crawl(likeness)
    assert first["media_new"] == 2 and len(first["detections"]) == 1
    assert [error["reason"] for error in first["errors"]] == ["a text file, not audio, video or an image"]
    second = _crawl(likeness)
    assert second["media_new"] == 0
    (folder / "copy.mp3").write_bytes(clone_mp3)
    third = _crawl(likeness)
    assert third["media_new"] == 1 and third["media_analysed"] == 0  # the same bytes: analysed once


def test_sources_are_listed_paused_resumed_and_removed(likeness, site):
    site.add("/feed.xml", '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title></feed>',
             "application/atom+xml")
    added = likeness("source", "add", f"{site.url}/feed.xml", "--every", "30m", "--name", "Podcast", "--json").json
    assert added == {"id": 1, "kind": "feed", "url": f"{site.url}/feed.xml", "every_s": 1800}
    assert likeness("source", "pause", "1").exit_code == 0
    assert likeness("source", "list", "--json").json[0]["paused"] is True
    assert _crawl(likeness)["sources"] == 0  # a paused source is not visited
    assert likeness("source", "resume", "1").exit_code == 0
    assert likeness("source", "remove", "1").exit_code == 0
    assert likeness("source", "list", "--json").json == []
    assert likeness("source", "add", "http://127.0.0.1:9/x", "--every", "5s").stderr.startswith("error: --every")
    assert likeness("source", "remove", "7").stderr.strip() == "error: no source with id 7 (see `likeness source list`)"


def test_a_crawl_killed_midway_loses_nothing_and_duplicates_nothing(likeness, site, clone_mp3, make_speech, home):
    import os
    import signal
    import subprocess
    import sys
    import time

    from monitor.storage.models import Detection

    stranger = make_speech("stranger", voice=OTHER_VOICE, texts=(3,), suffix=".mp3").read_bytes()
    late_clone = make_speech("late", texts=(2,), suffix=".mp3").read_bytes()
    site.add("/index.html", '<html><body><audio src="/a.mp3"></audio><audio src="/b.mp3"></audio>'
             '<audio src="/c.mp3"></audio></body></html>')
    site.add("/a.mp3", clone_mp3, "audio/mpeg")
    site.add("/b.mp3", stranger, "audio/mpeg")
    site.add("/c.mp3", late_clone, "audio/mpeg", delay_s=HANG_S)  # still downloading when the process dies
    likeness("source", "add", f"{site.url}/index.html", "--kind", "page")

    stderr_path = home / "crawler-stderr.txt"
    with open(stderr_path, "wb") as stderr:  # the crawler's, and its fork server's and workers' after it dies
        crawler = subprocess.Popen([str(Path(sys.executable).parent / "likeness"), "crawl", "--json"],
                                   env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = time.monotonic() + 300  # a safety net: the process may be slow to start on a loaded machine
    while _count(Fetch, Fetch.kind == "media") < 2:
        assert time.monotonic() < deadline and crawler.poll() is None, "the crawl should be mid-way"
        time.sleep(0.1)
    crawler.send_signal(signal.SIGKILL)
    crawler.wait(60)
    while _held_open(stderr_path):  # until the orphaned fork server and workers have all gone
        assert time.monotonic() < deadline, "the crawler's helper processes should end with it"
        time.sleep(0.1)
    assert "Traceback" not in stderr_path.read_text(errors="replace")

    site.routes["/c.mp3"].delay_s = 0
    report = _crawl(likeness)
    assert sorted(d["media"]["source"].removeprefix(site.url) for d in report["detections"]) == ["/a.mp3", "/c.mp3"]
    assert site.requested("/a.mp3") == 1 and site.requested("/b.mp3") == 1  # never downloaded twice
    assert _count(Media) == 3 and _count(Detection) == 2 and _count(Sighting) == 3
    assert _count(Media, Media.analysis_key.is_(None)) == 0


def _held_open(path: Path) -> bool:
    """Whether any process has ``path`` open (read from /proc)."""
    import os

    target = str(path.resolve())
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            if any(os.readlink(fd) == target for fd in fd_dir.iterdir()):
                return True
        except OSError:  # the process ended meanwhile, or is not ours to look into
            continue
    return False
