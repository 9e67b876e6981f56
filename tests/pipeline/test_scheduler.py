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
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow


def _jobs(sessions) -> dict[str, float]:
    with sessions() as session:
        return dict(session.execute(text("SELECT id, next_run_time FROM apscheduler_jobs")).all())


def _last_run(sessions):
    with sessions() as session:
        return session.scalar(select(Source.last_run_at))


def test_a_source_runs_on_start_and_its_job_survives_a_restart(likeness, site, clone_mp3):
    site.add("/clone.mp3", clone_mp3, "audio/mpeg")
    assert likeness("source", "add", f"{site.url}/clone.mp3", "--kind", "media", "--every", "1h").exit_code == 0
    config = load_config()
    sessions = open_database(config.database_url)

    started_s = datetime.now(UTC).timestamp()  # the source's first run, due at once, comes after this
    stop = threading.Event()
    daemon = threading.Thread(target=run_daemon, args=(config, sessions, stop))
    daemon.start()
    wait_for(lambda: _last_run(sessions) is not None)  # a new source is due at once
    stop.set()
    daemon.join(120)
    assert not daemon.is_alive()
    [detection] = likeness("detections", "list", "--json").json
    assert detection["media"]["source"] == f"{site.url}/clone.mp3"

    jobs = _jobs(sessions)
    assert sorted(jobs) == ["alerts-send", "licences-end", "source-1"]  # a job per source, alerts, licences
    next_run_s = jobs["source-1"]
    # an hour after the first run, plus up to a minute of jitter; that run came between these two moments, however
    # long the crawl took
    assert started_s + 3600 - 70 < next_run_s <= datetime.now(UTC).timestamp() + 3600 + 60
    first_run = _last_run(sessions)
    alerts_job = jobs["alerts-send"]

    stop = threading.Event()  # the process restarts: the stored job keeps its time and does not run early
    daemon = threading.Thread(target=run_daemon, args=(config, sessions, stop))
    daemon.start()
    wait_for(lambda: _jobs(sessions)["alerts-send"] != alerts_job)  # it has started: the alert sender is due anew
    time.sleep(2)  # a source job due now would have started in this time
    stop.set()
    daemon.join(120)
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
    deadline = time.monotonic() + 120  # a safety net: the process may be slow to start on a loaded machine
    while not _jobs_table_exists(home):  # the scheduler has started and made its table
        assert time.monotonic() < deadline and daemon.poll() is None, daemon.stderr.read() if daemon.poll() else ""
        time.sleep(0.2)
    daemon.send_signal(signal.SIGTERM)
    _out, err = daemon.communicate(timeout=120)
    assert daemon.returncode == 0, err
    assert err.strip().splitlines()[-1] == "stopped" and "Traceback" not in err, err


def _jobs_table_exists(home) -> bool:
    config = load_config(home)
    with open_database(config.database_url)() as session:
        return session.execute(text("SELECT count(*) FROM information_schema.tables WHERE table_name = "
                                    "'apscheduler_jobs'") if "postgresql" in config.database_url else
                               text("SELECT count(*) FROM sqlite_master WHERE name = 'apscheduler_jobs'")).scalar() > 0


def test_a_second_daemon_waits_while_the_first_keeps_the_schedule_then_takes_over(likeness, home, site, clone_mp3,
                                                                                  tmp_path):
    """Two `likeness run` at once (on PostgreSQL: on two machines): each due crawl runs once."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    site.add("/clone.mp3", clone_mp3, "audio/mpeg")
    assert likeness("source", "add", f"{site.url}/clone.mp3", "--kind", "media", "--every", "1h").exit_code == 0
    command = [str(Path(sys.executable).parent / "likeness"), "run"]
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    sessions = open_database(load_config().database_url)
    first = subprocess.Popen(command, env=os.environ.copy(), stderr=logs[0].open("w"), text=True)
    wait_for(lambda: _last_run(sessions) is not None)  # it ran the source, due at once
    second = subprocess.Popen(command, env=os.environ.copy(), stderr=logs[1].open("w"), text=True)
    try:
        wait_for(lambda: "waiting until it stops" in logs[1].read_text())
        alerts_job = _jobs(sessions)["alerts-send"]
        first.send_signal(signal.SIGTERM)
        assert first.wait(120) == 0
        wait_for(lambda: _jobs(sessions)["alerts-send"] != alerts_job)  # the second has started its schedule
        time.sleep(2)  # a source job due now would have started in this time
    finally:
        for daemon in (first, second):
            if daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
                daemon.wait(120)
    assert second.returncode == 0, logs[1].read_text()
    assert site.requested("/clone.mp3") == 1  # the second took over the stored schedule: not due again for an hour


def test_what_follows_a_crawl_runs_after_each_one_that_found_something_and_a_failure_there_stops_nothing(
        likeness, site, clone_mp3, caplog):
    site.add("/clone.mp3", clone_mp3, "audio/mpeg")
    assert likeness("source", "add", f"{site.url}/clone.mp3", "--kind", "media", "--every", "1h").exit_code == 0
    config = load_config()
    sessions = open_database(config.database_url)
    followed = []

    def refusing(home: str) -> None:
        raise RuntimeError("the directory of contacts is unreadable")

    stop = threading.Event()
    daemon = threading.Thread(target=run_daemon, args=(config, sessions, stop),
                              kwargs={"after_crawl": (refusing, followed.append)})
    daemon.start()
    wait_for(lambda: followed)
    stop.set()
    daemon.join(120)
    assert followed == [str(config.home)]
    assert "after the crawl of source 1, refusing failed: the directory of contacts is unreadable" in caplog.text
