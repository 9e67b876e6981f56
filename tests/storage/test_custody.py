"""The chain of custody is kept in the database from the first fetch: every event, hash-chained per media."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from enrollment.models import Agency
from monitor.config import load_config
from monitor.storage.chain import canonical, chain_problems
from monitor.storage.custody import chain_of
from monitor.storage.db import open_database
from monitor.storage.models import Media

pytestmark = pytest.mark.slow


def _chain(sha256: str) -> list[dict]:
    """The chain of the install's one agency."""
    with open_database(load_config().database_url)() as session:
        media = session.scalar(select(Media).where(Media.sha256 == sha256))
        return chain_of(session, media.id, session.scalars(select(Agency.id)).one())


def test_a_scanned_file_is_read_hashed_analysed_and_reviewed_in_one_unbroken_chain(likeness, make_performer,
                                                                                    make_speech):
    make_performer("Ada Voice", voice=[make_speech("reference", texts=(0, 2))])
    found = make_speech("found", texts=(1,))
    [row] = likeness("scan", found, "--json").json
    [detection] = row["detections"]
    likeness("scan", found)  # scanned again: nothing new happened to it, nothing is logged
    assert likeness("detections", "review", detection["id"], "confirmed", "--by", "legal@agency.example").exit_code == 0

    chain = _chain(row["sha256"])
    assert [entry["event"] for entry in chain] == ["read", "hashed", "analysed", "reviewed"]
    read, hashed, analysed, reviewed = chain
    assert read["details"]["path"] == str(found.resolve()) and read["details"]["size_bytes"] == found.stat().st_size
    assert read["details"]["read_by"] and read["details"]["modified_at"]
    assert hashed["details"]["sha256"] == row["sha256"]
    assert analysed["details"]["detections"][0]["id"] == detection["id"]
    assert "resemblyzer" in analysed["details"]["models"]["voice"]
    assert reviewed["actor"] == "legal@agency.example" and reviewed["details"]["status"] == "confirmed"
    assert all(entry["media_sha256"] == row["sha256"] and entry["tool"] == "likeness-monitor" for entry in chain)
    assert chain_problems(canonical(entry) for entry in chain) == []


def test_a_changed_or_reordered_entry_breaks_the_chain(likeness, make_performer, make_speech):
    make_performer("Ada Voice", voice=[make_speech("reference", texts=(0, 2))])
    [row] = likeness("scan", make_speech("found", texts=(1,)), "--json").json
    chain = _chain(row["sha256"])
    changed = [dict(entry) for entry in chain]
    changed[1]["details"] = {**changed[1]["details"], "sha256": "0" * 64}
    assert chain_problems(canonical(entry) for entry in changed)
    assert chain_problems(canonical(entry) for entry in [chain[1], chain[0], *chain[2:]])


def test_a_crawled_media_starts_its_chain_with_the_exchange_that_fetched_it(likeness, site, clone_mp3):
    site.add("/page.html", '<html><head><title>Demo voices</title></head><body><audio src="/clone.mp3"></audio>'
             "</body></html>")
    site.add("/clone.mp3", clone_mp3, "audio/mpeg")
    assert likeness("source", "add", f"{site.url}/page.html", "--json").exit_code == 0
    report = likeness("crawl", "--json").json
    [detection] = report["detections"]
    fetched, hashed, analysed = _chain(detection["media"]["sha256"])
    assert (fetched["event"], hashed["event"], analysed["event"]) == ("fetched", "hashed", "analysed")
    details = fetched["details"]
    assert details["url"] == f"{site.url}/clone.mp3" and details["page_url"] == f"{site.url}/page.html"
    assert details["status"] == 200 and details["server_ip"] == "127.0.0.1"
    assert details["response_headers"]["content-type"] == "audio/mpeg" and details["page_title"] == "Demo voices"
