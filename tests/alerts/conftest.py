"""The alert tests' servers on 127.0.0.1: an SMTP server (plain, or with a certificate for TLS) and a webhook
receiver."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.mailserver import MailServer, make_certificate
from tests.support.receiver import Receiver


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed (cert, key) for 127.0.0.1 and localhost; skips where the openssl command is missing."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is missing (it makes the test certificate)")
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def mail_server() -> Iterator[MailServer]:
    """A started, plain :class:`MailServer` (no login, no TLS)."""
    server = MailServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A started webhook :class:`Receiver`, answering 200 unless told otherwise."""
    server = Receiver()
    server.start()
    yield server
    server.stop()
