"""`likeness run` and `likeness scheduler`: one APScheduler job per source, kept in the project's database.

APScheduler 3 (4 is still alpha) with its SQLAlchemy job store in the same database, so the schedule
survives restarts: a job's next run time is stored, missed runs are coalesced into one, a source
never runs twice at once, and jitter spreads sources out. The ``sources`` table is the truth: the
daemon reconciles the jobs with it at start and every ``RECONCILE_EVERY_S`` (so `source add`,
`pause`, `remove` take effect without a restart). Each job runs one crawl pass of its source through
exactly the code of `likeness crawl`. SIGTERM or SIGINT stops the daemon between items; media
fetched but not yet analysed is analysed by the next pass.

`likeness scheduler` keeps the same schedule but runs nothing itself: each due crawl, and each alert run, is
a task on the broker's ``crawl`` or ``mail`` queue for `likeness worker` processes. A task the broker would
not take (down for over a minute) is tried again ``RETRY_ENQUEUE_S`` later, not at the source's next time.
Either command holds the install's one schedule: a second copy of either waits.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from enrollment.errors import LikenessError
from monitor.config import Config, load_config
from monitor.storage.models import Source

RECONCILE_EVERY_S = 30
JOB_PREFIX = "source-"
ALERTS_JOB_ID = "alerts-send"
LICENCES_JOB_ID = "licences-end"
HOURLY_S = 3600  # how often licences whose window has passed give their detections back, and the hourly jobs
# What is pending goes out this soon after start. Not at once: APScheduler 3 can log a spurious error when
# a stop signal lands while it hands a due job over, and a stop right after start is the common case.
ALERTS_FIRST_AFTER_S = 5
JOBS_TABLE = "apscheduler_jobs"
RETRY_ENQUEUE_S = 60
logger = logging.getLogger(__name__)
_stop = threading.Event()  # set by SIGTERM/SIGINT; running crawls check it between items
_after_crawl: tuple[Callable[[str], None], ...] = ()  # what run_daemon was given to run after each crawl


def crawl_source_job(home: str, source_id: int) -> None:
    """What a stored job runs (module-level, so that the job store can keep a reference to it)."""
    from monitor.pipeline.crawl import Crawl
    from monitor.storage.db import open_database

    config = load_config(home)
    sessions = open_database(config.database_url)
    report = Crawl(config, sessions, stop=_stop).run([source_id])
    logger.info("source %s: %s pages, %s new media, %s detections, %s errors", source_id,
                report.pages_fetched, report.media_new, len(report.detections), len(report.errors))
    for follow in _after_crawl if report.detections else ():
        try:
            follow(home)
        except Exception as error:  # what follows a crawl never keeps its alerts from going out
            logger.error("after the crawl of source %s, %s failed: %s", source_id, follow.__name__, error)
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


def end_licences_job(home: str) -> None:
    """Allow-list rules whose window has passed: their detections are new again, their alerts written to the
    outbox (the alerts job delivers them)."""
    from monitor.pipeline.allowed import end_expired_rules
    from monitor.storage.custody import local_actor
    from monitor.storage.db import open_database

    config = load_config(home)
    with open_database(config.database_url).begin() as session:
        ended = end_expired_rules(session, config, datetime.now(UTC), local_actor())
    for rule_id, detection_ids in ended.items():
        logger.info("allow-list rule %s ended: detections %s are new again", rule_id, detection_ids)


def enqueue_crawl_job(home: str, source_id: int) -> None:
    """What a stored job runs under `likeness scheduler`: the source's pass handed to a crawl worker."""
    from monitor.broker.app import CRAWL

    _enqueue(home, CRAWL, [source_id], f"{JOB_PREFIX}{source_id}")


def enqueue_alerts_job(home: str) -> None:
    """The due alerts handed to a mail worker."""
    from monitor.broker.app import SEND_ALERTS

    _enqueue(home, SEND_ALERTS, [], ALERTS_JOB_ID)


def _enqueue(home: str, task: str, args: list, job_id: str) -> None:
    from monitor.broker.app import send

    try:
        send(load_config(home).broker_url, task, args)
    except LikenessError as error:  # the broker down: try again soon, not at the job's next time (a day, maybe)
        logger.error("%s not handed to the workers, tried again in %s s: %s", job_id, RETRY_ENQUEUE_S, error)
        if _keeping is not None and (job := _keeping.get_job(job_id)) is not None:
            job.modify(next_run_time=datetime.now(UTC) + timedelta(seconds=RETRY_ENQUEUE_S))


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


def reconcile(scheduler, sessions: sessionmaker[Session], config: Config, on_workers: bool = False) -> int:
    """Make the stored jobs match the sources: add new ones (due now), follow interval and pause
    changes, remove jobs of removed sources. A job whose source is unchanged keeps its next run time; its
    function follows ``on_workers`` (a crawl handed to the workers, or run here) → how many sources."""
    from apscheduler.triggers.interval import IntervalTrigger

    run = enqueue_crawl_job if on_workers else crawl_source_job

    with sessions() as session:
        sources = {f"{JOB_PREFIX}{source.id}": source for source in session.scalars(select(Source))}
    jobs = {job.id: job for job in scheduler.get_jobs() if job.id.startswith(JOB_PREFIX)}
    for job_id in jobs.keys() - sources.keys():
        scheduler.remove_job(job_id)
    for job_id, source in sources.items():
        trigger = IntervalTrigger(seconds=source.every_s, jitter=config.crawl.jitter_s or None, timezone=UTC)
        job = jobs.get(job_id)
        if job is None:
            job = scheduler.add_job(run, trigger, id=job_id, name=source.name or source.url,
                                    args=[str(config.home), source.id], next_run_time=datetime.now(UTC))
        elif job.trigger.interval.total_seconds() != source.every_s:
            job.reschedule(trigger)
        if job.func is not run:
            job.modify(func=run)
        if source.paused and job.next_run_time is not None:
            job.pause()
        elif not source.paused and job.next_run_time is None:
            job.resume()
    return len(sources)


def run_daemon(config: Config, sessions: sessionmaker[Session], stop: threading.Event | None = None,
               on_workers: bool = False, hourly: tuple[tuple[Callable[[str], None], str, str], ...] = (),
               after_crawl: tuple[Callable[[str], None], ...] = ()) -> None:
    """Keep the schedule until SIGTERM/SIGINT (or ``stop``, for tests), then stop cleanly; ``on_workers``: hand
    the crawls and alert runs to the broker's workers; ``hourly``: more jobs, (module-level function of the home,
    job id, name), run every hour; ``after_crawl``: functions of the home run after each crawl here that found
    something, before its alerts go out. One daemon per install: a second waits until the first stops or dies
    (monitor.storage.one_holder)."""
    from monitor.storage.one_holder import one_holder

    global _after_crawl
    _after_crawl = after_crawl
    stop = stop or _stop
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            # Event.set() from a handler can deadlock: the handler runs in the main thread, which may hold the
            # event's own lock inside stop.wait(); a short-lived thread sets them instead
            signal.signal(signum, lambda *_: threading.Thread(target=lambda: (stop.set(), _stop.set())).start())
    with one_holder(sessions.kw["bind"], "daemon", stop, _say_waiting) as still_held:
        if still_held is not None:
            _keep_schedule(config, sessions, stop, still_held, on_workers, hourly)


def _say_waiting() -> None:
    logger.warning("another `likeness run` or `likeness scheduler` keeps the schedule: waiting until it stops")


_keeping = None  # the scheduler this process runs, while it does: a job that could not enqueue moves itself


def _keep_schedule(config: Config, sessions: sessionmaker[Session], stop: threading.Event,
                   still_held: Callable[[], None], on_workers: bool, hourly: tuple = ()) -> None:
    global _keeping
    scheduler = _keeping = make_scheduler(sessions.kw["bind"])
    scheduler.start(paused=True)
    try:
        sources = reconcile(scheduler, sessions, config, on_workers)
        scheduler.add_job(enqueue_alerts_job if on_workers else send_alerts_job, "interval",
                          seconds=config.alerts.send_every_s, id=ALERTS_JOB_ID, name="send alerts",
                          args=[str(config.home)], executor="alerts", replace_existing=True,
                          next_run_time=datetime.now(UTC) + timedelta(seconds=ALERTS_FIRST_AFTER_S))
        for job, job_id, name in ((end_licences_job, LICENCES_JOB_ID, "end licences"), *hourly):
            scheduler.add_job(job, "interval", seconds=HOURLY_S, id=job_id, name=name,
                              args=[str(config.home)], executor="alerts", replace_existing=True,
                              next_run_time=datetime.now(UTC) + timedelta(seconds=ALERTS_FIRST_AFTER_S))
        scheduler.resume()
        logger.info("keeping the schedule of %s sources%s", sources, " for the workers" if on_workers else "")
        while not stop.wait(RECONCILE_EVERY_S):
            still_held()  # LostHold: stop, before another daemon fires the same jobs
            reconcile(scheduler, sessions, config, on_workers)
    finally:
        _stop.set()
        scheduler.shutdown(wait=True)
        _stop.clear()
        _keeping = None
