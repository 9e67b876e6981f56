"""`likeness run`: one APScheduler job per source, kept in the project's database.

APScheduler 3 (4 is still alpha) with its SQLAlchemy job store in the same database, so the schedule
survives restarts: a job's next run time is stored, missed runs are coalesced into one, a source
never runs twice at once, and jitter spreads sources out. The ``sources`` table is the truth: the
daemon reconciles the jobs with it at start and every ``RECONCILE_EVERY_S`` (so `source add`,
`pause`, `remove` take effect without a restart). Each job runs one crawl pass of its source through
exactly the code of `likeness crawl`. SIGTERM or SIGINT stops the daemon between items; media
fetched but not yet analysed is analysed by the next pass.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from monitor.config import Config, load_config
from monitor.storage.models import Source

RECONCILE_EVERY_S = 30
JOB_PREFIX = "source-"
ALERTS_JOB_ID = "alerts-send"
# What is pending goes out this soon after start. Not at once: APScheduler 3 can log a spurious error when
# a stop signal lands while it hands a due job over, and a stop right after start is the common case.
ALERTS_FIRST_AFTER_S = 5
JOBS_TABLE = "apscheduler_jobs"
logger = logging.getLogger(__name__)
_stop = threading.Event()  # set by SIGTERM/SIGINT; running crawls check it between items


def crawl_source_job(home: str, source_id: int) -> None:
    """What a stored job runs (module-level, so that the job store can keep a reference to it)."""
    from monitor.pipeline.crawl import Crawl
    from monitor.storage.db import open_database

    config = load_config(home)
    sessions = open_database(config.database_url)
    report = Crawl(config, sessions, stop=_stop).run([source_id])
    logger.info("source %s: %s pages, %s new media, %s detections, %s errors", source_id,
                report.pages_fetched, report.media_new, len(report.detections), len(report.errors))
    send_alerts_job(home)


def send_alerts_job(home: str) -> None:
    """Deliver the alerts that are due (new ones, retries, those the hourly cap held back)."""
    from monitor.alerts.sender import send_due
    from monitor.storage.db import open_database

    config = load_config(home)
    report = send_due(config, open_database(config.database_url))
    if report.messages or report.errors or report.deferred:
        logger.info("alerts: %s messages sent, %s deliveries waiting to retry, %s failed, %s held by the hourly cap%s",
                    report.messages, report.retrying, report.failed, report.deferred,
                    "".join(f"; {error}" for error in report.errors[:3]))


def make_scheduler(engine: Engine):  # -> apscheduler.schedulers.background.BackgroundScheduler
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    return BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE)},
        # analysis is CPU-bound: one crawl at a time; alerts have a thread of their own, not stuck behind a crawl
        executors={"default": ThreadPoolExecutor(max_workers=1), "alerts": ThreadPoolExecutor(max_workers=1)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        timezone=UTC,
    )


def reconcile(scheduler, sessions: sessionmaker[Session], config: Config) -> None:
    """Make the stored jobs match the sources: add new ones (due now), follow interval and pause
    changes, remove jobs of removed sources. A job whose source is unchanged keeps its next run time."""
    from apscheduler.triggers.interval import IntervalTrigger

    with sessions() as session:
        sources = {f"{JOB_PREFIX}{source.id}": source for source in session.scalars(select(Source))}
    jobs = {job.id: job for job in scheduler.get_jobs() if job.id.startswith(JOB_PREFIX)}
    for job_id in jobs.keys() - sources.keys():
        scheduler.remove_job(job_id)
    for job_id, source in sources.items():
        trigger = IntervalTrigger(seconds=source.every_s, jitter=config.crawl.jitter_s or None, timezone=UTC)
        job = jobs.get(job_id)
        if job is None:
            job = scheduler.add_job(crawl_source_job, trigger, id=job_id, name=source.name or source.url,
                                    args=[str(config.home), source.id], next_run_time=datetime.now(UTC))
        elif job.trigger.interval.total_seconds() != source.every_s:
            job.reschedule(trigger)
        if source.paused and job.next_run_time is not None:
            job.pause()
        elif not source.paused and job.next_run_time is None:
            job.resume()


def run_daemon(config: Config, sessions: sessionmaker[Session], stop: threading.Event | None = None) -> None:
    """Keep the schedule until SIGTERM/SIGINT (or ``stop``, for tests), then stop cleanly. One daemon per
    install: a second waits until the first stops or dies (monitor.storage.one_holder)."""
    from monitor.storage.one_holder import one_holder

    stop = stop or _stop
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            # Event.set() from a handler can deadlock: the handler runs in the main thread, which may hold the
            # event's own lock inside stop.wait(); a short-lived thread sets them instead
            signal.signal(signum, lambda *_: threading.Thread(target=lambda: (stop.set(), _stop.set())).start())
    with one_holder(sessions.kw["bind"], "daemon", stop, _say_waiting) as still_held:
        if still_held is not None:
            _keep_schedule(config, sessions, stop, still_held)


def _say_waiting() -> None:
    logger.warning("another `likeness run` keeps the schedule: waiting until it stops")


def _keep_schedule(config: Config, sessions: sessionmaker[Session], stop: threading.Event,
                   still_held: Callable[[], None]) -> None:
    scheduler = make_scheduler(sessions.kw["bind"])
    scheduler.start(paused=True)
    try:
        reconcile(scheduler, sessions, config)
        scheduler.add_job(send_alerts_job, "interval", seconds=config.alerts.send_every_s, id=ALERTS_JOB_ID,
                          name="send alerts", args=[str(config.home)], executor="alerts", replace_existing=True,
                          next_run_time=datetime.now(UTC) + timedelta(seconds=ALERTS_FIRST_AFTER_S))
        scheduler.resume()
        while not stop.wait(RECONCILE_EVERY_S):
            still_held()  # LostHold: stop, before another daemon fires the same jobs
            reconcile(scheduler, sessions, config)
    finally:
        _stop.set()
        scheduler.shutdown(wait=True)
        _stop.clear()
