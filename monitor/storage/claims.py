"""Analysis claims: the one process (of any machine) that analyses a content under an analysis key.

A claim is a row, unique per (sha256, analysis key), inserted in a transaction of its own: the insert that
succeeds holds it, the others wait for the result (:func:`claim` says which). The holder removes it in the
transaction that stores the result or the failure (:func:`release`), so that a waiter sees either the claim or
the result, never neither. A holder that died (kill -9, a lost machine) leaves its claim behind: on the same
host it is taken over once that process is gone; from another host, once it is older than ``lease_s`` (no
analysis outlives ``workers.item_timeout_s``).
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from enrollment.models import utc_now
from monitor.storage.models import AnalysisClaim


def claimant() -> str:
    """This process, as claims name it: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def claim(sessions: sessionmaker[Session], sha256: str, analysis_key: str, lease_s: float) -> bool:
    """Try to claim the analysis of ``sha256`` under ``analysis_key``: True when this process holds it now
    (it was free, already ours, or its holder is gone), False when a live process holds it."""
    for _attempt in range(3):  # a stale claim removed by us, or released meanwhile: the insert is tried again
        try:
            with sessions.begin() as session:
                session.add(AnalysisClaim(sha256=sha256, analysis_key=analysis_key, claimed_by=claimant()))
            return True
        except IntegrityError:
            pass
        with sessions.begin() as session:
            held = session.scalar(select(AnalysisClaim).where(
                AnalysisClaim.sha256 == sha256, AnalysisClaim.analysis_key == analysis_key))
            if held is None:
                continue
            if held.claimed_by == claimant():
                return True
            if not _stale(held, lease_s):
                return False
            session.delete(held)
    return False


def release(session: Session, sha256: str, analysis_key: str) -> None:
    """Remove this process's claim, in ``session``'s transaction (the one that stores the result)."""
    session.execute(delete(AnalysisClaim).where(
        AnalysisClaim.sha256 == sha256, AnalysisClaim.analysis_key == analysis_key,
        AnalysisClaim.claimed_by == claimant()))


def release_lost(session: Session, sha256: str, analysis_key: str) -> None:
    """Remove the claim of ``sha256`` under ``analysis_key`` whoever holds it: its holder is known to be gone."""
    session.execute(delete(AnalysisClaim).where(AnalysisClaim.sha256 == sha256,
                                                AnalysisClaim.analysis_key == analysis_key))


def _stale(held: AnalysisClaim, lease_s: float) -> bool:
    host, _, pid = held.claimed_by.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        return not _alive(int(pid))
    return utc_now() - held.claimed_at > timedelta(seconds=lease_s)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # somebody else's process: alive
        return True
    return True
