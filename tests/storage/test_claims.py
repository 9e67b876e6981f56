"""Analysis claims: one holder per (content, analysis key); a claim whose holder is gone is taken over."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import timedelta

from sqlalchemy import select

from enrollment.models import utc_now
from monitor.config import load_config
from monitor.storage import claims
from monitor.storage.db import open_database
from monitor.storage.models import AnalysisClaim

SHA, KEY = "a" * 64, "k" * 64
LEASE_S = 3600.0


def _sessions(home):
    return open_database(load_config(home).database_url)


def _held_by(sessions, claimed_by: str, age_s: float = 0.0) -> None:
    with sessions.begin() as session:
        session.add(AnalysisClaim(sha256=SHA, analysis_key=KEY, claimed_by=claimed_by,
                                  claimed_at=utc_now() - timedelta(seconds=age_s)))


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(done.stdout)


def test_a_free_content_is_claimed_once_and_released_with_the_result(home):
    sessions = _sessions(home)
    assert claims.claim(sessions, SHA, KEY, LEASE_S)
    assert claims.claim(sessions, SHA, KEY, LEASE_S)  # already ours
    with sessions.begin() as session:
        claims.release(session, SHA, KEY)
    with sessions() as session:
        assert session.scalars(select(AnalysisClaim)).all() == []


def test_a_live_holder_keeps_its_claim(home):
    sessions = _sessions(home)
    _held_by(sessions, f"{socket.gethostname()}:1")  # pid 1 lives as long as the machine
    assert not claims.claim(sessions, SHA, KEY, LEASE_S)
    elsewhere = f"other-host.example:{_dead_pid()}"
    with sessions.begin() as session:
        session.execute(AnalysisClaim.__table__.delete())
    _held_by(sessions, elsewhere, age_s=60)
    assert not claims.claim(sessions, SHA, KEY, LEASE_S)  # another machine, within the lease


def test_a_claim_whose_process_died_on_this_host_is_taken_over(home):
    sessions = _sessions(home)
    _held_by(sessions, f"{socket.gethostname()}:{_dead_pid()}")
    assert claims.claim(sessions, SHA, KEY, LEASE_S)
    with sessions() as session:
        assert [c.claimed_by for c in session.scalars(select(AnalysisClaim))] == [claims.claimant()]


def test_a_claim_from_another_machine_older_than_the_lease_is_taken_over(home):
    sessions = _sessions(home)
    _held_by(sessions, "other-host.example:4242", age_s=LEASE_S + 1)
    assert claims.claim(sessions, SHA, KEY, LEASE_S)
