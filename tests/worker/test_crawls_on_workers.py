"""Crawls on workers: `likeness scheduler` hands each due crawl to a crawl worker, once however many schedulers
run; a crawl whose connections to RabbitMQ are cut goes on once they are back, nothing lost, nothing doubled.

Real parts: RabbitMQ on loopback (a virtual host per test, reached through a relay the test can cut),
PostgreSQL (a database per test), `likeness worker` and `likeness scheduler` processes, a website on loopback.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from monitor.demo.synthetic import OTHER_VOICE
from tests.support import broker
from tests.support.cut_line import CutLine
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow
LIKENESS = str(Path(sys.executable).with_name("likeness"))


@contextmanager
def _scheduler(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """A `likeness scheduler` process writing to ``log``, stopped with SIGTERM afterwards."""
    with open(log, "wb") as output:
        process = subprocess.Popen([LIKENESS, "scheduler"], env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.wait(120)


def test_the_scheduler_hands_each_due_crawl_to_a_crawl_worker(
        likeness, site, make_performer, make_speech, postgres_url, broker_url, monkeypatch, tmp_path):
    monkeypatch.setenv("LIKENESS_DATABASE_URL", postgres_url)
    monkeypatch.setenv("LIKENESS_BROKER_URL", broker_url)
    make_performer("Ada Voice", voice=[make_speech("reference", texts=(0, 2))])
    site.add("/clone.mp3", make_speech("clone", texts=(1,), suffix=".mp3").read_bytes(), "audio/mpeg")
    likeness("source", "add", f"{site.url}/clone.mp3", "--kind", "media", "--every", "1h")
    env = dict(os.environ)
    with (broker.workers(1, env, tmp_path, "analysis"), broker.workers(1, env, tmp_path, "crawl,mail"),
          _scheduler(env, tmp_path / "scheduler.log")):
        wait_for(lambda: likeness("detections", "list", "--json").json)  # a new source is due at once
    [detection] = likeness("detections", "list", "--json").json
    assert detection["media"]["source"] == f"{site.url}/clone.mp3"
    [source] = likeness("source", "list", "--json").json
    assert source["last_run_at"] is not None
    assert "keeping the schedule of 1 sources for the workers" in (tmp_path / "scheduler.log").read_text()


def test_two_schedulers_enqueue_each_due_crawl_once(likeness, site, postgres_url, broker_url, monkeypatch, tmp_path):
    monkeypatch.setenv("LIKENESS_DATABASE_URL", postgres_url)
    monkeypatch.setenv("LIKENESS_BROKER_URL", broker_url)
    likeness("source", "add", f"{site.url}/clone.mp3", "--kind", "media", "--every", "1h")
    env, logs = dict(os.environ), [tmp_path / "first.log", tmp_path / "second.log"]

    def crawls_waiting() -> int:
        return likeness("queue", "status", "--json").json["crawl"]["ready"]  # no crawl worker takes them here

    def waiting(log: Path) -> bool:
        return "waiting until it stops" in log.read_text()

    with _scheduler(env, logs[0]) as first, _scheduler(env, logs[1]) as second:
        wait_for(lambda: crawls_waiting() == 1 and any(waiting(log) for log in logs))  # whichever came first holds
        holder, other_log = (first, logs[1]) if waiting(logs[1]) else (second, logs[0])
        holder.send_signal(signal.SIGTERM)  # the other takes the schedule over: the crawl is not due again for 1 h
        holder.wait(120)
        wait_for(lambda: "keeping the schedule of 1 sources" in other_log.read_text())
        time.sleep(3)  # room for a wrongly due job to be enqueued: the scheduler fires due jobs as it resumes
        assert crawls_waiting() == 1


def test_the_scheduler_without_a_broker_says_so_in_one_line(likeness):
    result = likeness("scheduler")
    assert result.exit_code == 1
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "LIKENESS_BROKER_URL" in line and "likeness run" in line


def test_a_crawl_whose_broker_connections_are_cut_goes_on_and_loses_nothing(
        likeness, site, make_performer, make_speech, postgres_url, broker_url, monkeypatch, tmp_path):
    line = CutLine(("127.0.0.1", 5672))
    relayed = broker_url.replace("127.0.0.1:5672", f"127.0.0.1:{line.port}")
    monkeypatch.setenv("LIKENESS_DATABASE_URL", postgres_url)
    monkeypatch.setenv("LIKENESS_BROKER_URL", relayed)
    make_performer("Ada Voice", voice=[make_speech("reference", texts=(0, 2))])
    released = threading.Event()  # the last file answers once the connections are cut
    site.add("/index.html", "<html><body>" + "".join(f'<a href="/{name}.mp3">{name}</a>' for name in
                                                      ("clone", "stranger", "late-clone")) + "</body></html>")
    site.add("/clone.mp3", make_speech("clone", texts=(1,), suffix=".mp3").read_bytes(), "audio/mpeg")
    site.add("/stranger.mp3", make_speech("stranger", voice=OTHER_VOICE, texts=(1,), suffix=".mp3").read_bytes(),
             "audio/mpeg")
    site.add("/late-clone.mp3", make_speech("late", texts=(3,), suffix=".mp3").read_bytes(), "audio/mpeg",
             released=released)
    likeness("source", "add", f"{site.url}/index.html", "--kind", "page")
    env = dict(os.environ)
    try:
        with broker.workers(2, env, tmp_path):
            crawling = subprocess.Popen([LIKENESS, "crawl", "--json"], env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
            wait_for(lambda: site.requested("/late-clone.mp3") and _analysed(postgres_url) == 2)
            line.cut()  # as a broker restart would: every connection of the crawl and the workers closed
            released.set()  # the crawl stores the last file and must hand it over while RabbitMQ is out of reach
            time.sleep(3)
            relayed_before = line.relayed
            line.mend()
            out, err = crawling.communicate(timeout=600)
            wait_for(lambda: line.relayed - relayed_before >= 3)  # the crawl, and each worker, connected again
    finally:
        line.close()
    assert crawling.returncode == 0, err
    report = json.loads(out)
    assert (report["media_new"], report["media_analysed"], report["errors"]) == (3, 3, [])
    assert sorted(d["media"]["source"] for d in report["detections"]) == [f"{site.url}/clone.mp3",
                                                                       f"{site.url}/late-clone.mp3"]
    assert len(likeness("detections", "list", "--json").json) == 2
    assert len(likeness("alerts", "list", "--json").json) == 2
    assert _analysed(postgres_url) == 3


def _analysed(database_url: str) -> int:
    """How many media have an analysis stored."""
    from sqlalchemy import func, select

    from monitor.storage.db import open_database
    from monitor.storage.models import Media

    with open_database(database_url)() as session:
        return session.scalar(select(func.count()).select_from(Media).where(Media.analysis_key.is_not(None)))
