"""The tasks a worker runs: the analysis of one stored content under an analysis key
(:func:`monitor.services.scans.analyse_stored`), and the set-up of each worker process (one torch thread)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from celery import Celery


def register(app: Celery) -> None:
    """The tasks on ``app``, and the set-up of each worker process."""
    from celery.signals import worker_process_init

    from monitor.broker.app import ANALYSE

    @app.task(name=ANALYSE, acks_late=True, reject_on_worker_lost=True)
    def analyse(sha256: str, analysis_key: str) -> None:
        from monitor.services.scans import analyse_stored

        analyse_stored(_context(), sha256, analysis_key)

    worker_process_init.connect(_one_torch_thread, weak=False)


_contexts: list = []


def _context():
    """This process's context, acting as the worker (its database opened once)."""
    if not _contexts:
        from monitor.config import load_config
        from monitor.services.context import Actor, Context

        _contexts.append(Context(load_config(None), Actor.local("worker")))
    return _contexts[0]


def _one_torch_thread(**_signal) -> None:
    """Each worker process analyses one file at a time on one CPU: torch's own threads would fight the other
    processes for the cores."""
    import torch

    torch.set_num_threads(1)
