"""The tasks a worker runs: the analysis of one stored content under an analysis key
(:func:`monitor.services.scans.analyse_stored`), a scheduled crawl pass of one source
(:func:`monitor.services.sources.crawl_when_due`), the due alerts sent; and the set-up of each worker process
(one torch thread).

An analysis whose worker's models are not those asked for is refused: its reason is stored for whoever waits,
and RabbitMQ dead-letters the message (kept, for a worker of the right version). One that outlives its time
limit (sized to the media's duration: :mod:`monitor.worker.deadline`) is killed, and its failure stored as the
local pool does.

A message whose analysis stopped its worker process (a crash, a kill, memory) is given back to RabbitMQ and
handed out again; on its last allowed delivery (``x-delivery-count`` at the queue's delivery limit), such a
loss is stored as that content's failure before RabbitMQ moves the message to ``analysis.dead``, so that
whoever waits for the analysis gets the reason, and nothing tries it again under the same analysis key."""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from celery import Celery

logger = logging.getLogger(__name__)
RETRY_FIRST_S, RETRIES = 5, 8  # an analysis whose database is out of reach: tried again for about 20 minutes


def register(app: Celery, analyses: bool = True) -> None:
    """The tasks on ``app``, and the set-up of each worker process: where it takes ``analyses``, one compute
    thread, and the models and performers loaded before the first task."""
    from celery.exceptions import Reject
    from celery.signals import worker_process_init

    from monitor.broker.app import ANALYSE, CRAWL, SEND_ALERTS

    @app.task(name=ANALYSE, bind=True, acks_late=True, reject_on_worker_lost=True, Request=_analysis_request())
    def analyse(task, sha256: str, analysis_key: str, models: dict | None = None) -> None:
        from monitor.services.scans import ModelsDiffer, analyse_stored, analysis_time_limit_s
        from monitor.worker.deadline import deadline

        try:
            limit_s = analysis_time_limit_s(_context(), sha256)
            with deadline(limit_s, lambda: _give_up(sha256, analysis_key, f"analysis timed out after {limit_s:g} s")):
                analyse_stored(_context(), sha256, analysis_key, models)
        except ModelsDiffer as refusal:
            logger.error("%s", refusal)
            raise Reject(str(refusal), requeue=False) from None
        except Exception as error:
            _failed(task, sha256, analysis_key, error)

    @app.task(name=CRAWL, acks_late=True, reject_on_worker_lost=True)
    def crawl(source_id: int) -> None:
        from monitor.broker.app import send
        from monitor.services.sources import crawl_when_due

        report = crawl_when_due(_context(), source_id)
        if report is None:
            logger.info("source %s: not crawled (paused, removed, or being crawled)", source_id)
            return
        logger.info("source %s: %s pages, %s new media, %s detections, %s errors", source_id,
                    report["pages_fetched"], report["media_new"], len(report["detections"]), len(report["errors"]))
        if report["detections"]:
            from monitor.services.staydown import draft_reupload_notices

            send(_context().config.broker_url, SEND_ALERTS, [])
            drafted = draft_reupload_notices(_context())
            for notice in drafted["drafted"]:
                logger.info("notice %s drafted for the re-upload detection %s", notice["id"],
                            notice["detection_ids"][0])

    @app.task(name=SEND_ALERTS, acks_late=True, reject_on_worker_lost=True)
    def send_alerts() -> None:
        from monitor.services.alerts import send_due_alerts

        sent = send_due_alerts(_context())
        if sent["messages"] or sent["errors"]:
            logger.info("alerts: %s messages sent%s", sent["messages"], "".join(f"; {e}" for e in sent["errors"][:3]))

    if analyses:
        worker_process_init.connect(_ready_for_analyses, weak=False)


def _analysis_request() -> type:
    """Celery's Request of an analysis, storing the loss of its last delivery as the content's failure."""
    from billiard.einfo import ExceptionWithTraceback
    from billiard.exceptions import WorkerLostError
    from celery.worker.request import Request

    from monitor.broker.app import DELIVERY_LIMIT

    class AnalysisRequest(Request):
        def on_failure(self, exc_info, send_failed_event=True, return_ok=False):
            error = exc_info.exception
            error = error.exc if isinstance(error, ExceptionWithTraceback) else error
            deliveries = int((self._message.headers or {}).get("x-delivery-count") or 0) + 1
            if isinstance(error, WorkerLostError | SystemExit) and deliveries > DELIVERY_LIMIT:
                _give_up(*self.args[:2], f"the analysis stopped its worker process {deliveries} times (a crash, "
                                         f"or out of memory): not tried again under this analysis key")
            return super().on_failure(exc_info, send_failed_event, return_ok)

        def on_timeout(self, soft, timeout):
            if not soft:  # its process was killed: the failure is stored, and the message acknowledged
                _give_up(*self.args[:2], f"analysis timed out after {timeout:g} s")
            return super().on_timeout(soft, timeout)

    return AnalysisRequest


def _failed(task, sha256: str, analysis_key: str, error: Exception) -> None:
    """What nobody planned for (a bug, the database out of reach) → never silently acknowledged: where the
    reason can be stored, whoever waits reads it and the message is dead-lettered (kept); where it cannot (the
    database gone), the analysis is tried again later, ``RETRY_FIRST_S`` doubling, ``RETRIES`` times."""
    from celery.exceptions import Reject

    from enrollment.errors import unexpected
    from monitor.services.scans import tell_not_analysed
    from monitor.storage.claims import claimant

    reason = f"the analysis failed on worker {claimant()}: {unexpected(error)}"
    logger.error("%s of %s", reason, sha256[:12], exc_info=True)
    try:
        tell_not_analysed(_context(), sha256, analysis_key, reason)
    except Exception as stored:
        logger.error("could not store the failure of %s, tried again later: %s", sha256[:12], stored)
        raise task.retry(countdown=RETRY_FIRST_S * 2 ** task.request.retries, max_retries=RETRIES) from None
    raise Reject(reason, requeue=False) from None


def _give_up(sha256: str, analysis_key: str, reason: str) -> None:
    from monitor.services.scans import give_up_analysis

    try:
        give_up_analysis(_context(), sha256, analysis_key, reason)
    except Exception as error:  # the database gone: RabbitMQ still keeps the message, dead-lettered
        logger.error("could not store the failure of %s: %s", sha256[:12], error)


@functools.cache
def _context():
    """This process's context, acting as the worker (its database opened once)."""
    from monitor.config import load_config
    from monitor.services.context import Actor, Context

    return Context(load_config(None), Actor.local("worker"))


def _ready_for_analyses(**_signal) -> None:
    """Each worker process analyses one file at a time on one CPU (torch's own threads would fight the other
    processes for the cores), with the models loaded once, here; where the database is out of reach, its first
    task loads them."""
    from enrollment.errors import unexpected
    from monitor.analysis.worker_process import one_thread
    from monitor.services.scans import prepare_analyses

    one_thread()
    try:
        prepare_analyses(_context())
    except Exception as error:
        logger.error("the models were not loaded before the first task: %s", unexpected(error))
