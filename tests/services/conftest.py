"""A service context per test: this test's home (SQLite, or PostgreSQL under ``make test-pg``) and an actor."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.services.context import Actor, Context


@pytest.fixture
def ctx(home: Path) -> Context:
    """Acting as ``ada@agency.example`` from the web, say: not the person running the tests."""
    return Context(load_config(home), Actor("ada@agency.example", "web"))


@pytest.fixture
def found(likeness, site, clone_mp3, polite_home) -> dict:
    """A crawl of a loopback page found the performer's voice; a legal user of the agency, its address known,
    and the site's host in the notices' directory."""
    with open(polite_home / "config.toml", "a") as config:
        config.write('\n[notices.contacts]\n"127.0.0.1" = "copyright@site.example"\n')
    assert likeness("init").exit_code == 0
    site.add("/clips.html", '<html><body><audio src="/voice.mp3"></audio></body></html>')
    site.add("/voice.mp3", clone_mp3, "audio/mpeg")
    assert likeness("source", "add", f"{site.url}/clips.html").exit_code == 0
    [detection] = likeness("crawl", "--json").json["detections"]
    [agency] = likeness("agency", "list", "--json").json
    added = likeness("user", "add", "lee@stars.example", "--agency", agency["name"], "--role", "legal")
    assert added.exit_code == 0, added.stderr
    contact = likeness("agency", "contact", agency["name"], "--address", "1 Music Row\\nNashville, TN 37203",
                       "--phone", "+1 615 555 0100", "--json")
    assert contact.exit_code == 0, contact.stderr
    return {"detection": detection, "agency": agency["name"], "site": site}


@pytest.fixture
def sent_notice(likeness, found) -> dict:
    """``found``'s detection confirmed, and a publicity notice of it drafted and marked sent: its NOTICE."""
    assert likeness("detections", "review", found["detection"]["id"], "confirmed").exit_code == 0
    drafted = likeness("notice", "draft", found["detection"]["id"], "--basis", "publicity", "--signer",
                       "lee@stars.example", "--signer-name", "Lee Roe", "--json")
    assert drafted.exit_code == 0, drafted.stderr
    marked = likeness("notice", "mark", drafted.json["id"], "sent", "--note", "by the platform's form", "--json")
    assert marked.exit_code == 0, marked.stderr
    return marked.json
