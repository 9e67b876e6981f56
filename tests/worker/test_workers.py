"""Analyses on Celery workers through RabbitMQ: `likeness scan` with a broker prints exactly what it prints when
it analyses in its own process, the work shared by real `likeness worker` processes; what cannot work is refused
in one line.

Real parts: RabbitMQ on loopback (a virtual host per test), PostgreSQL (a database per test), two worker
processes with one analysis each at a time.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from monitor.demo.synthetic import OTHER_VOICE
from tests.support import broker
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow


def _comparable(rows: list[dict]) -> list[dict]:
    """Scan rows without what differs between two installs (ids, times)."""
    for row in rows:
        for detection in row["detections"]:
            detection.pop("id"), detection.pop("created_at")
    return rows


def test_a_scan_through_two_workers_prints_what_a_scan_in_one_process_prints(
        likeness, make_performer, make_speech, home, postgres_url, broker_url, monkeypatch, tmp_path):
    reference = make_speech("reference", texts=(0, 2))
    files = [make_speech("clone", texts=(1,), suffix=".mp3"), make_speech("stranger", voice=OTHER_VOICE, texts=(1,)),
             make_speech("another clone", texts=(3,))]
    make_performer("Ada Voice", voice=[reference])
    local = _comparable(likeness("scan", *files, "--json").json)  # analysed in this process, on SQLite

    monkeypatch.setenv("LIKENESS_HOME", str(tmp_path / "distributed"))
    monkeypatch.setenv("LIKENESS_DATABASE_URL", postgres_url)
    monkeypatch.setenv("LIKENESS_BROKER_URL", broker_url)
    make_performer("Ada Voice", voice=[reference])
    with broker.workers(2, dict(os.environ), tmp_path):
        distributed = likeness("scan", *files, "--json")
        # a result is stored before its message is acknowledged: wait for the acknowledgements
        status = _queue_status_once_settled(likeness, until=lambda status: (
            status["analysis"]["unacked"] == 0 and all(worker["active"] == 0 for worker in status["workers"])))
    assert status["analysis"] == status["crawl"] == {"ready": 0, "unacked": 0, "dead": 0}
    assert [(worker["queues"], worker["active"]) for worker in status["workers"]] == [(["analysis"], 0)] * 2
    assert distributed.exit_code == 0, distributed.stderr
    assert _comparable(distributed.json) == local
    assert [len(row["detections"]) for row in local] == [1, 0, 1]
    assert len(_analysed_by(postgres_url)) == 2  # each worker took one file, then the next free one the third


def _analysed_by(database_url: str) -> set[str]:
    """Who the custody chains name as having analysed each media."""
    from sqlalchemy import select

    from monitor.storage.db import open_database
    from monitor.storage.models import CustodyEvent

    with open_database(database_url)() as session:
        return {event.entry["actor"] for event in session.scalars(select(CustodyEvent))
                if event.entry["event"] == "analysed"}


def test_a_broker_beside_a_sqlite_database_is_refused_in_one_line(likeness, make_speech, broker_url, monkeypatch):
    monkeypatch.setenv("LIKENESS_BROKER_URL", broker_url)
    refused = likeness("scan", make_speech("clip"))
    assert refused.exit_code != 0
    assert refused.stderr.strip().count("\n") == 0 and "PostgreSQL" in refused.stderr


@pytest.mark.parametrize("command", [("worker",), ("queue", "status")])
def test_a_worker_or_the_queues_without_a_broker_are_refused_in_one_line(likeness, command):
    refused = likeness(*command)
    assert refused.exit_code != 0
    assert refused.stderr.strip() == "error: no broker: set LIKENESS_BROKER_URL (amqp://…) for workers to take " \
                                     "analyses from"


def test_a_worker_killed_mid_analysis_is_replaced_and_the_media_ends_with_one_result(
        likeness, make_performer, make_speech, home, postgres_url, broker_url, monkeypatch, tmp_path):
    monkeypatch.setenv("LIKENESS_DATABASE_URL", postgres_url)
    monkeypatch.setenv("LIKENESS_BROKER_URL", broker_url)
    make_performer("Ada Voice", voice=[make_speech("reference", texts=(0, 2))], email="ada@example.org")
    clone = make_speech("clone", texts=(1, 3, 1, 3), suffix=".mp3")
    env = dict(os.environ)
    with broker.workers(2, env, tmp_path) as started:
        scanning = subprocess.Popen([str(Path(sys.executable).with_name("likeness")), "scan", str(clone), "--json"],
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        holder = _claim_holder(postgres_url)  # a worker's process analysing it (its models still loading)
        [killed] = [worker for worker in started if os.getpgid(holder) == worker.pid]
        os.killpg(killed.pid, signal.SIGKILL)  # the worker and its process, at once
        out, err = scanning.communicate(timeout=600)
    assert scanning.returncode == 0, err
    [row] = json.loads(out)
    assert len(row["detections"]) == 1
    counts = _counts(postgres_url)
    assert counts == {"detections": 1, "alerts": 1, "analysed": 1, "claims": 0}, counts
    [analysed_by] = _analysed_by(postgres_url)
    assert not analysed_by.endswith(f":{holder})")  # the other worker's, handed the message again


def _claim_holder(database_url: str) -> int:
    """The pid of the process that claims an analysis first (waits for one, up to 5 minutes)."""
    from sqlalchemy import select

    from monitor.storage.db import open_database
    from monitor.storage.models import AnalysisClaim

    sessions = open_database(database_url)
    for _poll in range(3000):
        with sessions() as session:
            held = session.scalar(select(AnalysisClaim.claimed_by))
        if held is not None:
            return int(held.rpartition(":")[2])
        time.sleep(0.1)
    raise AssertionError("no worker claimed the analysis")


def _counts(database_url: str) -> dict[str, int]:
    from sqlalchemy import func, select

    from monitor.storage.db import open_database
    from monitor.storage.models import Alert, AnalysisClaim, CustodyEvent, Detection

    with open_database(database_url)() as session:
        analysed = [e for e in session.scalars(select(CustodyEvent)) if e.entry["event"] == "analysed"]
        return {"detections": session.scalar(select(func.count()).select_from(Detection)),
                "alerts": session.scalar(select(func.count()).select_from(Alert)), "analysed": len(analysed),
                "claims": session.scalar(select(func.count()).select_from(AnalysisClaim))}


def test_a_broker_out_of_reach_fails_the_item_in_one_line_and_keeps_it_for_the_next_pass(
        likeness, make_performer, make_speech, postgres_url, monkeypatch):
    from monitor.broker import app

    monkeypatch.setattr(app, "PUBLISH_RETRIES", 1)
    app.forget_apps()
    monkeypatch.setenv("LIKENESS_DATABASE_URL", postgres_url)
    monkeypatch.setenv("LIKENESS_BROKER_URL", "amqp://guest:not-the-password@127.0.0.1:9/nowhere")
    make_performer("Ada Voice", voice=[make_speech("reference", texts=(0, 2))])
    [row] = likeness("scan", make_speech("clone", texts=(1,)), "--json").json
    app.forget_apps()
    assert row["error"].startswith("cannot reach the broker at amqp://127.0.0.1:9/nowhere")
    assert "not-the-password" not in row["error"] and "\n" not in row["error"]
    assert row["sha256"] is not None  # stored and recorded: the next pass analyses it


def test_a_file_that_stops_every_worker_is_given_up_after_the_delivery_limit_and_dead_lettered(
        likeness, make_performer, make_speech, postgres_url, broker_url, monkeypatch, tmp_path):
    monkeypatch.setenv("LIKENESS_DATABASE_URL", postgres_url)
    monkeypatch.setenv("LIKENESS_BROKER_URL", broker_url)
    make_performer("Ada Voice", voice=[make_speech("reference", texts=(0, 2))])
    env = dict(os.environ)
    with broker.workers(1, env, tmp_path):
        scanning = subprocess.Popen([str(Path(sys.executable).with_name("likeness")), "scan",
                                     str(make_speech("clip", texts=(1,))), "--json"],
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        killed = _kill_every_holder(postgres_url, scanning)  # as a file that crashes its decoder would
        out, err = scanning.communicate(timeout=600)
        # the failure is stored before the message is rejected: RabbitMQ moves it to the dead queue just after
        status = _queue_status_once_settled(likeness, until=lambda status: status["analysis"]["dead"] > 0)
    assert scanning.returncode == 1, err
    [row] = json.loads(out)
    assert row["error"].startswith("the analysis stopped its worker process 4 times"), row
    assert len(killed) == 4
    assert status["analysis"] == {"ready": 0, "unacked": 0, "dead": 1}  # kept, and not handed out again


def _queue_status_once_settled(likeness, until, timeout_s: float = 120.0) -> dict:
    """`likeness queue status --json` once ``until(status)`` holds, or after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        status = likeness("queue", "status", "--json").json
        if until(status) or time.monotonic() > deadline:
            return status
        time.sleep(0.2)


def _kill_every_holder(database_url: str, scanning: subprocess.Popen) -> list[int]:
    """SIGKILL each process that claims the analysis, until the scan ends → the pids killed."""
    from sqlalchemy import select

    from monitor.storage.db import open_database
    from monitor.storage.models import AnalysisClaim

    sessions, killed = open_database(database_url), []
    while scanning.poll() is None:
        with sessions() as session:
            held = session.scalar(select(AnalysisClaim.claimed_by))
        pid = int(held.rpartition(":")[2]) if held else None
        if pid is not None and pid not in killed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        time.sleep(0.05)
    return killed


def test_a_worker_whose_models_differ_refuses_the_analysis_and_the_row_says_why(
        likeness, make_performer, make_speech, postgres_url, broker_url, monkeypatch, tmp_path):
    from monitor.pipeline import scan as scanning

    monkeypatch.setenv("LIKENESS_DATABASE_URL", postgres_url)
    monkeypatch.setenv("LIKENESS_BROKER_URL", broker_url)
    make_performer("Ada Voice", voice=[make_speech("reference", texts=(0, 2))])
    clone = make_speech("clone", texts=(1,))
    other_version = {"voice": "resemblyzer 0.0.1 weights:000000000000", "face": None}
    with broker.workers(1, dict(os.environ), tmp_path):
        with monkeypatch.context() as older:
            older.setattr(scanning, "model_versions", lambda gallery: other_version)  # as a scan of another version
            [refused] = likeness("scan", clone, "--json").json
        status = _queue_status_once_settled(likeness, until=lambda status: status["analysis"]["dead"] > 0)
        [analysed] = likeness("scan", clone, "--json").json  # asked again by a scan of the workers' version
    assert refused["error"].startswith("worker ")
    assert "refused the analysis: voice model resemblyzer" in refused["error"]
    assert "resemblyzer 0.0.1 weights:000000000000 asked for" in refused["error"]
    assert status["analysis"] == {"ready": 0, "unacked": 0, "dead": 1}  # kept, for a worker of that version
    assert analysed["error"] is None and len(analysed["detections"]) == 1


def test_an_analysis_past_its_time_limit_is_stopped_and_fails_alone(
        likeness, make_performer, make_speech, postgres_url, broker_url, monkeypatch, tmp_path, home):
    monkeypatch.setenv("LIKENESS_DATABASE_URL", postgres_url)
    monkeypatch.setenv("LIKENESS_BROKER_URL", broker_url)
    make_performer("Ada Voice", voice=[make_speech("reference", texts=(0, 2))])
    hurried = dict(os.environ) | {"LIKENESS_HOME": str(tmp_path / "hurried")}
    (tmp_path / "hurried").mkdir()  # the same install (database, files), whose worker allows an analysis 10 ms
    (tmp_path / "hurried" / "store").symlink_to(home / "store")
    (tmp_path / "hurried" / "config.toml").write_text("[workers]\nitem_timeout_s = 0.01\n")
    with broker.workers(1, hurried, tmp_path):
        [timed_out] = likeness("scan", make_speech("clone", texts=(1,)), "--json").json
    with broker.workers(1, dict(os.environ), tmp_path):
        [other] = likeness("scan", make_speech("another clone", texts=(3,)), "--json").json
    assert timed_out["error"] == "analysis timed out after 0.01 s"  # the worker's own deadline, not Celery's
    assert other["error"] is None and len(other["detections"]) == 1  # a worker goes on with the next


def test_an_analysis_whose_database_is_out_of_reach_is_tried_again_not_lost(
        likeness, make_performer, make_speech, postgres_url, broker_url, monkeypatch, tmp_path):
    from tests.support.cut_line import CutLine

    monkeypatch.setenv("LIKENESS_DATABASE_URL", postgres_url)
    monkeypatch.setenv("LIKENESS_BROKER_URL", broker_url)
    make_performer("Ada Voice", voice=[make_speech("reference", texts=(0, 2))])
    line = CutLine(("127.0.0.1", 5432))  # the worker's way to PostgreSQL; the scan keeps its own
    relayed = postgres_url.replace("127.0.0.1:5432", f"127.0.0.1:{line.port}")
    try:
        with broker.workers(1, dict(os.environ) | {"LIKENESS_DATABASE_URL": relayed}, tmp_path):
            line.cut()
            scanning = subprocess.Popen([str(Path(sys.executable).with_name("likeness")), "scan",
                                         str(make_speech("clone", texts=(1,))), "--json"],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            log = tmp_path / "worker-0.log"
            wait_for(lambda: "tried again later" in log.read_text())
            line.mend()
            out, err = scanning.communicate(timeout=600)
    finally:
        line.close()
    assert scanning.returncode == 0, err
    [row] = json.loads(out)
    assert row["error"] is None and len(row["detections"]) == 1
