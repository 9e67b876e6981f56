"""`likeness run`: one stored job per source that survives a restart and follows the sources table."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from monitor.config import load_config
from monitor.pipeline.scheduler import run_daemon
from monitor.storage.db import open_database
from monitor.storage.models import Source
from tests.test_crawl import clone_mp3, polite_home, site  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow


def _wait_for(condition, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def _jobs(sessions) -> dict[str, float]:
    with sessions() as session:
        return dict(session.execute(text("SELECT id, next_run_time FROM apscheduler_jobs")).all())


def _last_run(sessions):
    with sessions() as session:
        return session.scalar(select(Source.last_run_at))


def test_a_source_runs_on_start_and_its_job_survives_a_restart(likeness, site, clone_mp3):  # noqa: F811
    site.add("/clone.mp3", clone_mp3, "audio/mpeg")
    assert likeness("source", "add", f"{site.url}/clone.mp3", "--kind", "media", "--every", "1h").exit_code == 0
    config = load_config()
    sessions = open_database(config.database_url)

    stop = threading.Event()
    daemon = threading.Thread(target=run_daemon, args=(config, sessions, stop))
    daemon.start()
    _wait_for(lambda: _last_run(sessions) is not None)  # a new source is due at once
    stop.set()
    daemon.join(30)
    assert not daemon.is_alive()
    [detection] = likeness("detections", "list", "--json").json
    assert detection["media"]["source"] == f"{site.url}/clone.mp3"

    jobs = _jobs(sessions)
    assert sorted(jobs) == ["alerts-send", "source-1"]  # a job per source, and the alert sender
    next_run_s = jobs["source-1"]
    assert 3600 - 70 < next_run_s - datetime.now(UTC).timestamp() <= 3600 + 60  # an hour on, give or take jitter
    first_run = _last_run(sessions)

    stop = threading.Event()  # the process restarts: the stored job keeps its time and does not run early
    daemon = threading.Thread(target=run_daemon, args=(config, sessions, stop))
    daemon.start()
    time.sleep(2)
    stop.set()
    daemon.join(30)
    assert _last_run(sessions) == first_run
    assert _jobs(sessions)["source-1"] == next_run_s


def test_the_daemon_stops_cleanly_on_sigterm(likeness, home):
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    likeness("init")
    daemon = subprocess.Popen([str(Path(sys.executable).parent / "likeness"), "run"], env=os.environ.copy(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not _jobs_table_exists(home):  # the scheduler has started and made its table
        assert time.monotonic() < deadline and daemon.poll() is None, daemon.stderr.read() if daemon.poll() else ""
        time.sleep(0.2)
    daemon.send_signal(signal.SIGTERM)
    _out, err = daemon.communicate(timeout=30)
    assert daemon.returncode == 0, err
    assert err.strip().splitlines()[-1] == "stopped" and "Traceback" not in err, err


def _jobs_table_exists(home) -> bool:
    config = load_config(home)
    with open_database(config.database_url)() as session:
        return session.execute(text("SELECT count(*) FROM information_schema.tables WHERE table_name = "
                                    "'apscheduler_jobs'") if "postgresql" in config.database_url else
                               text("SELECT count(*) FROM sqlite_master WHERE name = 'apscheduler_jobs'")).scalar() > 0
