"""A real ``likeness serve`` on a free loopback port, and two agencies with a token each."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from monitor.config import load_config
from monitor.services import accounts, performers
from monitor.services import home as home_service
from monitor.services.context import Actor, Context
from monitor.storage.models import Detection, Media, Sighting

SERVER_START_TIMEOUT_S = 120.0  # a loaded machine imports FastAPI and opens the database slowly


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path  # what the server wrote on stderr (a file: a pipe nobody reads would fill and stop it)

    def get(self, path: str, token: str | None = None, headers: dict | None = None, **options) -> requests.Response:
        return requests.get(self.url + path, headers=_auth(token, headers), timeout=120, **options)

    def post(self, path: str, token: str | None = None, headers: dict | None = None, **options) -> requests.Response:
        return requests.post(self.url + path, headers=_auth(token, headers), timeout=300, **options)


def _auth(token: str | None, headers: dict | None) -> dict:
    return (headers or {}) | ({"Authorization": f"Bearer {token}"} if token else {})


@pytest.fixture
def operator(home: Path) -> Context:
    """The command line's operator on this test's home (initialised: keys for evidence bundles)."""
    ctx = Context(load_config(home), Actor.local())
    home_service.initialise(ctx)
    return ctx


@pytest.fixture
def server(operator: Context, home: Path, tmp_path: Path) -> Iterator[Server]:
    """``likeness serve --port 0`` in its own process, stopped at the end."""
    log = tmp_path / "serve.log"
    with log.open("w") as errors:
        process = subprocess.Popen([str(Path(sys.executable).parent / "likeness"), "serve", "--port", "0"],
                                   stdout=subprocess.PIPE, stderr=errors, text=True,
                                   env={**os.environ, "LIKENESS_HOME": str(home)})
    try:
        line = _first_line(process, log)
        assert line.startswith("serving on http://127.0.0.1:"), line
        yield Server(line.removeprefix("serving on ").strip(), process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _first_line(process: subprocess.Popen, log: Path) -> str:
    import selectors

    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    if not selector.select(SERVER_START_TIMEOUT_S):
        pytest.fail(f"likeness serve said nothing in {SERVER_START_TIMEOUT_S} s")
    line = process.stdout.readline()
    if not line:
        pytest.fail(f"likeness serve stopped: {log.read_text()[-2000:]}")
    return line


@dataclass
class Agency:
    id: int
    ctx: Context  # its owner's, in-process
    token: str  # its owner's admin token
    performer_id: int


@pytest.fixture
def agencies(operator: Context) -> dict[str, Agency]:
    """Stars and Voices, each with an owner, an admin token and a performer."""
    made = {}
    for name in ("Stars", "Voices"):
        agency_id = accounts.add_agency(operator, name)["id"]
        named = Context(operator.config, Actor.local(), agency_name=name, _sessions=operator.sessions)
        performer_id = performers.add_performer(named, f"{name} Performer", "themselves")["id"]
        email = f"owner@{name.lower()}.example"
        accounts.add_user(named, email, "owner")
        token = accounts.create_token(named, email, "api", "admin")["token"]
        owner = accounts.context_for_token(operator, token)
        made[name] = Agency(agency_id, owner, token, performer_id)
    return made


def found_detection(agency: Agency, sha_byte: str = "ab", stored: bytes | None = None) -> int:
    """A detection of the agency's performer in a media it found (as a scan would have stored it); with
    ``stored``, the media's bytes are in the content store (an evidence bundle needs them)."""
    sha256 = sha_byte * 32
    if stored is not None:
        from monitor.storage.content_store import content_store

        sha256, _size = content_store(agency.ctx.config).add_chunks([stored], len(stored))
    with agency.ctx.sessions.begin() as session:
        media = Media(sha256=sha256, size_bytes=10, media_type="audio", duration_s=12.0)
        session.add(media)
        session.flush()
        session.add(Sighting(agency_id=agency.id, media_id=media.id, source=f"https://site.example/{sha_byte}.mp3"))
        detection = Detection(agency_id=agency.id, performer_id=agency.performer_id, media_id=media.id,
                              modality="voice", score=0.93, similarity=0.81, threshold=0.5,
                              segments=[{"start_s": 1.0, "end_s": 3.2, "score": 0.93}], model_version="test",
                              sighted=True)
        session.add(detection)
        session.flush()
        return detection.id
