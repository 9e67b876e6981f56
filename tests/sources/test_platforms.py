"""Platform pages resolved through yt-dlp: a real yt-dlp, real extractors, a real "platform" on 127.0.0.1.

Tests cannot reach YouTube, so the platform is a loopback website with watch pages that carry their player
data in a script (as real platforms do) and a channel API; two real yt-dlp ``InfoExtractor`` subclasses read
them with yt-dlp's own downloader and are registered through ``monitor.sources.platform.EXTRA_EXTRACTORS``.
Nothing here reaches beyond 127.0.0.1 (10.0.0.5 is refused before any connection).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import ClassVar
from urllib.parse import urljoin

import pytest
from sqlalchemy import func, select
from yt_dlp.extractor.common import InfoExtractor
from yt_dlp.utils import ExtractorError
from yt_dlp.version import __version__ as YT_DLP_VERSION

from monitor.config import load_config
from monitor.demo.synthetic import OTHER_VOICE
from monitor.sources import platform
from monitor.sources.platform import platform_extractor
from monitor.storage.db import open_database
from monitor.storage.models import Fetch, Sighting
from tests.support.faults import noise_image
from tests.support.paths import ROOT
from tests.support.website import Website


class LoopbackVideoIE(InfoExtractor):
    """``/watch/<id>``: the page's ``var player = {...}`` names the formats; URLs come back "signed" (a fresh
    ``?expire=`` on every resolution), as platforms' media URLs do."""

    _VALID_URL = r"https?://[^/?#]+/watch/(?P<id>[\w-]+)"
    calls: ClassVar[list[str]] = []  # the URLs it was asked to extract

    def _real_extract(self, url: str) -> dict:
        video_id = self._match_id(url)
        LoopbackVideoIE.calls.append(url)
        webpage = self._download_webpage(url, video_id)
        player = self._search_json(r"var\s+player\s*=", webpage, "player", video_id)
        if player.get("private"):
            raise ExtractorError("This video is private", expected=True)
        signed = f"?expire={time.time_ns()}"
        return {"id": video_id, "title": player["title"], "thumbnail": urljoin(url, player["thumbnail"]) + signed,
                "formats": [{**fmt, "url": urljoin(url, fmt["url"]) + signed} for fmt in player["formats"]]}


class LoopbackChannelIE(InfoExtractor):
    """``/channel/<id>``: the channel's videos, listed by ``/api/channel/<id>.json``."""

    _VALID_URL = r"https?://[^/?#]+/channel/(?P<id>[\w-]+)"

    def _real_extract(self, url: str) -> dict:
        channel_id = self._match_id(url)
        data = self._download_json(urljoin(url, f"/api/channel/{channel_id}.json"), channel_id)
        entries = [self.url_result(urljoin(url, f"/watch/{v}"), LoopbackVideoIE, v) for v in data["videos"]]
        return self.playlist_result(entries, channel_id, data["title"])


VIDEO_FORMATS = [  # as yt-dlp gets them from a platform: manifests, several audio and video qualities
    {"format_id": "hls", "url": "/hls/{id}.m3u8", "protocol": "m3u8_native", "ext": "mp4", "height": 1080},
    {"format_id": "audio-low", "url": "/media/{id}-low.mp3", "ext": "mp3", "vcodec": "none", "abr": 32},
    {"format_id": "audio", "url": "/media/{id}-audio.mp3", "ext": "mp3", "vcodec": "none", "abr": 128},
    {"format_id": "360p", "url": "/media/{id}-360.mp4", "ext": "mp4", "height": 360},
    {"format_id": "dash", "url": "/dash/{id}.mpd", "protocol": "http_dash_segments", "ext": "mp4", "height": 720},
]


def add_video(site: Website, video_id: str, **player: object) -> None:
    """A watch page whose markup embeds only ``/media/<id>-embedded.mp3``; the rest is in its player data."""
    player = {"title": f"Video {video_id}", "thumbnail": f"/thumbs/{video_id}.jpg",
              "formats": [{**f, "url": f["url"].format(id=video_id)} for f in VIDEO_FORMATS], **player}
    site.add(f"/watch/{video_id}", f"<html><head><title>{video_id} - LoopTube</title></head><body>"
             f'<audio src="/media/{video_id}-embedded.mp3"></audio>'
             f"<script>var player = {json.dumps(player)};</script></body></html>")


@pytest.fixture
def site(polite_home, monkeypatch) -> Iterator[Website]:
    """The loopback platform, its extractors registered."""
    monkeypatch.setattr(platform, "EXTRA_EXTRACTORS", [LoopbackVideoIE, LoopbackChannelIE])
    LoopbackVideoIE.calls.clear()
    website = Website()
    website.start()
    yield website
    website.stop()


@pytest.fixture
def video_v1(site, clone_mp3, make_speech, tmp_path) -> str:
    """/watch/v1: the performer's voice in its best audio format, a stranger in its video; its URL."""
    add_video(site, "v1", title="Ada reads the news")
    site.add("/media/v1-audio.mp3", clone_mp3, "audio/mpeg")
    site.add("/media/v1-360.mp4", make_speech("stranger", voice=OTHER_VOICE, texts=(3,), suffix=".mp3").read_bytes(),
             "video/mp4")
    site.add("/thumbs/v1.jpg", noise_image(tmp_path / "thumb.jpg").read_bytes(), "image/jpeg")
    return f"{site.url}/watch/v1"


def _crawl(likeness) -> dict:
    result = likeness("crawl", "--json")
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.json


def _requested(site: Website, path: str) -> int:
    """How many times ``path`` was asked for, whatever its query (signed URLs differ in theirs)."""
    return sum(1 for _method, logged in site.requests if logged.split("?")[0] == path)


def _session():
    return open_database(load_config().database_url)()


@pytest.mark.slow
def test_a_platform_video_is_resolved_by_yt_dlp_and_its_best_direct_formats_analysed(likeness, site, video_v1):
    likeness("source", "add", video_v1, "--kind", "page")
    report = _crawl(likeness)

    assert report["errors"] == [] and report["pages_fetched"] == 1 and report["media_new"] == 3
    [detection] = report["detections"]
    assert detection["media"]["source"].startswith(f"{site.url}/media/v1-audio.mp3?expire=")
    for path in ("/media/v1-audio.mp3", "/media/v1-360.mp4", "/thumbs/v1.jpg", "/watch/v1"):
        assert _requested(site, path) == 1, path
    for path in ("/media/v1-low.mp3", "/hls/v1.m3u8", "/dash/v1.mpd", "/media/v1-embedded.mp3"):
        assert _requested(site, path) == 0, path  # not the best, a manifest, or markup yt-dlp does not report
    with _session() as session:
        sightings = session.execute(select(Sighting.page_url, Sighting.page_title)).all()
        assert set(sightings) == {(video_v1, "Ada reads the news")}
        page = session.scalar(select(Fetch).where(Fetch.url == video_v1))
        assert (page.kind, page.status, page.error, page.warc_path) == ("page", None, None, None)
        assert page.response_headers == {"x-resolved-by": f"yt-dlp {YT_DLP_VERSION} LoopbackVideo"}

    # Its media URLs are signed anew each time: resolving it again would download everything again.
    second = _crawl(likeness)
    assert (second["media_new"], second["errors"], _requested(site, "/watch/v1")) == (0, [], 1)
    assert _requested(site, "/media/v1-audio.mp3") == 1


@pytest.mark.slow
def test_a_channel_is_followed_and_each_failing_video_is_one_error_line(likeness, site, video_v1):
    site.add("/api/channel/c1.json", json.dumps({"title": "LoopTube Channel",
                                                 "videos": ["v1", "gone", "private", "buggy", "live"]}),
             "application/json")
    add_video(site, "private", private=True)
    add_video(site, "buggy", formats=5)  # the extractor fails with a TypeError, which yt-dlp lets through
    add_video(site, "live", formats=[f for f in VIDEO_FORMATS if f["format_id"] in ("hls", "dash")])
    site.add("/thumbs/live.jpg", site.routes["/thumbs/v1.jpg"].body, "image/jpeg")
    likeness("source", "add", f"{site.url}/channel/c1", "--kind", "page")

    report = _crawl(likeness)
    reasons = {error["url"].removeprefix(f"{site.url}/watch/"): error["reason"] for error in report["errors"]}
    assert set(reasons) == {"gone", "private", "buggy", "live"}
    assert "HTTP Error 404" in reasons["gone"]
    assert reasons["private"] == "[LoopbackVideo] private: This video is private"
    assert reasons["buggy"].startswith("yt-dlp's LoopbackVideo: unexpected TypeError")
    assert reasons["live"] == "only streaming formats (http_dash_segments, m3u8_native), not downloadable as one file"
    assert not any("\n" in reason or "ERROR" in reason or "\x1b" in reason for reason in reasons.values())
    assert report["pages_fetched"] == 6
    assert [d["media"]["source"].split("?")[0] for d in report["detections"]] == [f"{site.url}/media/v1-audio.mp3"]
    assert _requested(site, "/thumbs/live.jpg") == 1 and _requested(site, "/hls/live.m3u8") == 0
    with _session() as session:
        channel = session.scalar(select(Fetch).where(Fetch.url == f"{site.url}/channel/c1"))
        assert channel.response_headers["x-resolved-by"].endswith(" LoopbackChannel") and channel.error is None


@pytest.mark.slow
def test_without_yt_dlp_a_platform_page_is_fetched_and_parsed_like_any_page(likeness, site, video_v1, clone_mp3,
                                                                           monkeypatch):
    monkeypatch.setitem(sys.modules, "yt_dlp", None)  # `import yt_dlp` now fails, as where it is not installed
    assert platform_extractor(video_v1) is None and platform_extractor("https://www.youtube.com/watch?v=x") is None
    site.add("/media/v1-embedded.mp3", clone_mp3, "audio/mpeg")
    likeness("source", "add", video_v1, "--kind", "page")

    report = _crawl(likeness)
    assert report["errors"] == [] and LoopbackVideoIE.calls == []
    assert [d["media"]["source"] for d in report["detections"]] == [f"{site.url}/media/v1-embedded.mp3"]
    assert _requested(site, "/media/v1-audio.mp3") == 0
    with _session() as session:
        page = session.scalar(select(Fetch).where(Fetch.url == video_v1))
        assert page.status == 200 and "x-resolved-by" not in page.response_headers


@pytest.mark.slow
def test_a_platform_page_is_checked_like_any_page_before_yt_dlp_runs(likeness, site):
    site.add("/robots.txt", "User-agent: *\nDisallow: /watch/\n", "text/plain")
    add_video(site, "v1")
    likeness("source", "add", "http://10.0.0.5/watch/secret", "--kind", "page")
    likeness("source", "add", f"{site.url}/watch/v1", "--kind", "page")

    reasons = {error["url"]: error["reason"] for error in _crawl(likeness)["errors"]}
    assert "10.0.0.5" in reasons["http://10.0.0.5/watch/secret"] and "private" in reasons["http://10.0.0.5/watch/secret"]
    assert reasons[f"{site.url}/watch/v1"].startswith("blocked by robots.txt")
    assert LoopbackVideoIE.calls == [] and _requested(site, "/watch/v1") == 0
    with _session() as session:
        assert session.scalar(select(func.count()).select_from(Fetch).where(Fetch.error.is_not(None))) == 2


def test_platform_extractor_names_the_extractor_that_claims_a_url_without_any_network(monkeypatch):
    monkeypatch.setattr(platform, "EXTRA_EXTRACTORS", [])
    assert platform_extractor("https://example.org/page.html") is None  # only yt-dlp's generic extractor
    assert platform_extractor("http://127.0.0.1:8000/watch/v1") is None
    assert platform_extractor("https://www.youtube.com/watch?v=dQw4w9WgXcQ") == "Youtube"
    assert platform_extractor("https://vimeo.com/76979871") == "Vimeo"
    monkeypatch.setattr(platform, "EXTRA_EXTRACTORS", [LoopbackVideoIE])
    assert platform_extractor("http://127.0.0.1:8000/watch/v1") == "LoopbackVideo"


def test_one_line_strips_colours_and_the_error_prefix():
    error = ExtractorError("\x1b[0;31mERROR:\x1b[0m [Youtube] abc: Video unavailable\nsecond line", expected=True)
    assert platform.one_line(error) == "[Youtube] abc: Video unavailable"


def test_importing_the_crawler_does_not_import_yt_dlp():
    code = "import sys, monitor.pipeline.crawl, monitor.sources.platform; print('yt_dlp' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert loaded.stdout.strip() == "False"
