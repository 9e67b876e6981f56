"""A pool of analysis worker processes: media analysed on every core, the models loaded once per worker.

``AnalysisPool(config, gallery, workers).submit(path)`` → ``Future[Analysis]``. Each worker is a
process started once with the config and the gallery; it runs :func:`monitor.analysis.analyse.analyse` (pure:
it stores nothing) with one torch thread, so that N workers on N cores do not oversubscribe them,
and it loads each model on first use. Database writes stay in the calling process.

Start method: ``forkserver``, with torch, librosa, PyAV and resemblyzer imported once by the fork
server (``PRELOAD``; about 3.5 s, once per process). Each worker is then a fork of a process that has
imported them but never run a model or started a thread: it answers its first item about 0.3 s later
(0.5 CPU-s: the voice model, copy-on-write faults) and shares the imported pages with its siblings.
``fork`` from the caller would be cheaper still, but the caller has threads (the crawler's event loop
and analysis threads, OpenMP once torch has run, as when the cohort folder is embedded at start) and a
forked child inherits their locks, held, without the threads; ``spawn`` pays the torch import (2–3 CPU-s)
in every worker, and again for each replacement. As with any start method but fork, a script that
scans through a pool must guard its entry point (``if __name__ == "__main__":``): each worker imports
the caller's ``__main__`` again.

A worker that dies (killed, out of memory, a segfault in a native decoder) fails only the item it
held, with :class:`WorkerCrashed` (one line); a new worker takes its place for the next item.
:class:`concurrent.futures.ProcessPoolExecutor` cannot do this: it cannot tell which item killed a
worker, so it fails every item in flight and refuses new ones ("broken"). Here each worker has its
own pipe, and a dispatcher thread knows which item each one holds.

A worker that holds an item longer than ``[workers] item_timeout_s`` (a decoder in an endless loop) is
terminated, then killed if it does not go; the item fails with :class:`WorkerTimedOut` (one line) and a
new worker takes the next item, as after a crash.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path

from enrollment.errors import LikenessError, unexpected
from monitor.analysis.analyse import Analysis
from monitor.analysis.worker_process import work
from monitor.config import Config
from monitor.matching.gallery import Gallery

START_METHOD = "forkserver"
# imported once by the fork server, so that no worker pays for them: monitor.analysis.analyse (numpy, PyAV, the
# matching code; it sets OMP_WAIT_POLICY before torch loads), resemblyzer (torch), librosa.filters (the mel
# basis: 1 s of imports, lazily loaded by librosa). Not dlib: its import loads the face models (1.4 s), and
# most media has no picture; a worker loads them on its first video or image. monitor.analysis.fork_server first:
# no warning or traceback of the server or its workers reaches the terminal.
PRELOAD = ("monitor.analysis.fork_server", "monitor.analysis.analyse", "resemblyzer", "librosa.filters")
STOP_TIMEOUT_S = 10.0  # a worker asked to stop has this long to finish before it is killed
TERMINATE_GRACE_S = 2.0  # a timed-out worker sent SIGTERM has this long to go before SIGKILL (it has no handler)
logger = logging.getLogger(__name__)


class WorkerCrashed(LikenessError):
    """The worker process analysing an item died (a signal, or exited) before it answered."""


class WorkerTimedOut(LikenessError):
    """The worker process analysing an item had not answered after ``[workers] item_timeout_s``: it was killed."""


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask, which a container or taskset narrows)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def worker_count(requested: int) -> int:
    """``requested`` workers; 0 means one per usable core (``[workers] analysis = 0``)."""
    if requested < 0:
        raise LikenessError(f"workers.analysis must be 0 (one per core) or more, not {requested}")
    return requested or usable_cores()


@dataclass
class _Item:
    future: Future
    path: str
    running: bool = False  # its future was marked running (it may go back to the queue, never twice running)


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: Connection
    item: _Item | None = None
    deadline: float = float("inf")  # time.monotonic() by which it must answer its item


@dataclass
class PoolStats:
    """For reports and tests: worker processes started (replacements included), crashes, items timed out, and the
    CPU seconds each worker had used at its last answer (model loading included), by process id."""

    started: int = 0
    crashed: int = 0
    timed_out: int = 0
    pids: list[int] = field(default_factory=list)
    cpu_s: dict[int, float] = field(default_factory=dict)


class AnalysisPool:
    """``workers`` analysis processes, started on the first item; close it (or use ``with``) to stop them."""

    def __init__(self, config: Config, gallery: Gallery, workers: int, start_method: str | None = None) -> None:
        start_method = start_method or START_METHOD  # read here, so that a test can set another
        self.config = config
        self.gallery = gallery
        self.size = workers
        self.item_timeout_s = config.workers.item_timeout_s  # 0 or less: no limit
        self.stats = PoolStats()
        self._context = multiprocessing.get_context(start_method)
        if start_method == "forkserver":
            self._context.set_forkserver_preload(list(PRELOAD))  # no effect once the server runs
        self._queue: deque[_Item] = deque()
        self._lock = threading.Lock()  # guards _queue and _closing; _workers belongs to the dispatcher
        self._closing = False
        self._workers: list[_Worker] = []
        self._dispatcher: threading.Thread | None = None
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)

    def __enter__(self) -> AnalysisPool:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close(cancel=exc_info[0] is not None)

    def start_server(self) -> None:
        """Start the fork server now (else the first item does), so that its imports overlap the caller's work.

        From the main thread, it starts deaf to Ctrl-C, which reaches the whole process group: killed mid-import,
        it would print a traceback (once ready, it ignores SIGINT itself; workers ignore it too).
        """
        if self._context.get_start_method() != "forkserver":
            return
        from multiprocessing import forkserver

        if threading.current_thread() is not threading.main_thread():
            forkserver.ensure_running()
            return
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # inherited through exec, unlike a handler
        try:
            forkserver.ensure_running()
        finally:
            signal.signal(signal.SIGINT, previous)

    def submit(self, path: Path | str) -> Future[Analysis]:
        """Analyse ``path`` on a worker. The future raises what ``analyse`` raised there, WorkerCrashed or
        WorkerTimedOut."""
        item = _Item(Future(), str(Path(path).resolve()))  # the workers may run in another directory
        with self._lock:
            if self._closing:
                raise RuntimeError("the analysis pool is closed")
            self._queue.append(item)
            if self._dispatcher is None:
                self._dispatcher = threading.Thread(target=self._dispatch, name="analysis-pool", daemon=True)
                self._dispatcher.start()
        os.write(self._wake_w, b".")
        return item.future

    def close(self, cancel: bool = False) -> None:
        """Finish what was submitted (``cancel``: only what is running, the rest is cancelled), stop the workers."""
        with self._lock:
            if self._closing and self._wake_w < 0:
                return
            self._closing = True
            if cancel:
                for item in self._queue:
                    item.future.cancel()
                self._queue = deque(item for item in self._queue if item.running)
            dispatcher = self._dispatcher
        os.write(self._wake_w, b".")
        if dispatcher is not None:
            dispatcher.join()
        for fd in (self._wake_r, self._wake_w):
            os.close(fd)
        self._wake_r = self._wake_w = -1

    # ------------------------------------------------------------------------ dispatcher thread

    def _dispatch(self) -> None:
        """Hand queued items to idle workers; collect answers; notice deaths and timeouts. Ends once closed and idle."""
        try:
            while True:
                self._assign()
                busy = [worker for worker in self._workers if worker.item is not None]
                with self._lock:
                    if self._closing and not self._queue and not busy:
                        return
                watched = [self._wake_r, *(w.conn for w in busy), *(w.process.sentinel for w in self._workers)]
                first_deadline = min((worker.deadline for worker in busy), default=float("inf"))
                ready = set(wait(watched, None if first_deadline == float("inf")
                                 else max(0.0, first_deadline - time.monotonic())))
                if self._wake_r in ready:
                    while _read_some(self._wake_r):
                        pass
                for worker in list(self._workers):
                    if worker.item is not None and worker.conn in ready:
                        self._receive(worker)
                    elif worker.process.sentinel in ready:
                        self._bury(worker)
                    elif worker.item is not None and worker.deadline <= time.monotonic():
                        self._kill_hung(worker)
        except BaseException as error:  # a bug, or workers that cannot start: no caller may wait forever
            logger.debug("the analysis pool failed", exc_info=True)
            self._fail_everything(error)
        finally:
            self._stop_workers()

    def _assign(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    return
                idle = next((worker for worker in self._workers if worker.item is None), None)
                if idle is None and len(self._workers) >= self.size:
                    return
                item = self._queue.popleft()
            if not item.running:
                if not item.future.set_running_or_notify_cancel():
                    continue  # cancelled while it waited
                item.running = True
            try:
                worker = idle or self._start_worker()
                worker.conn.send(item.path)
            except OSError:  # died before taking it (the item is not to blame), or could not start
                with self._lock:
                    self._queue.appendleft(item)
                if idle is not None:
                    self._bury(idle)
                    continue
                raise
            worker.item = item
            if self.item_timeout_s > 0:
                worker.deadline = time.monotonic() + self.item_timeout_s

    def _start_worker(self) -> _Worker:
        ours, theirs = self._context.Pipe()
        process = self._context.Process(target=work, args=(theirs, self.config, self.gallery),
                                        name=f"likeness-analysis-{self.stats.started + 1}", daemon=True)
        process.start()
        theirs.close()  # only the worker holds its end: its death is then an EOF here
        worker = _Worker(process, ours)
        self._workers.append(worker)
        self.stats.started += 1
        self.stats.pids.append(process.pid)
        return worker

    def _receive(self, worker: _Worker) -> None:
        try:
            outcome, value, cpu_s = worker.conn.recv()
            self.stats.cpu_s[worker.process.pid] = cpu_s
        except (EOFError, OSError):  # it died mid-item
            self._bury(worker)
            return
        except Exception as error:  # an answer that cannot be read here (a bug): that item's failure
            outcome, value = "error", RuntimeError(unexpected(error))
        item, worker.item, worker.deadline = worker.item, None, float("inf")
        if outcome == "ok":
            item.future.set_result(value)
        else:
            item.future.set_exception(value)

    def _bury(self, worker: _Worker) -> None:
        """A worker that died: its item (if any) fails with one line; the next item starts a new worker."""
        _reap(worker.process, STOP_TIMEOUT_S)  # an EOF without an exit: it is no use any more
        if (item := self._retire(worker)) is not None:
            self.stats.crashed += 1
            item.future.set_exception(
                WorkerCrashed(f"the analysis worker died while analysing it ({_exit_reason(worker.process.exitcode)})"))

    def _kill_hung(self, worker: _Worker) -> None:
        """A worker past its item's deadline: killed; the item fails with one line; the next item starts a new one."""
        if worker.conn.poll():  # it answered as time ran out: the next turn reads the answer
            return
        worker.process.terminate()
        _reap(worker.process, TERMINATE_GRACE_S)
        item = self._retire(worker)
        self.stats.timed_out += 1
        logger.info("analysis of %s timed out after %g s: worker %s killed", item.path, self.item_timeout_s,
                    worker.process.pid)
        item.future.set_exception(WorkerTimedOut(f"analysis timed out after {self.item_timeout_s:g} s"))

    def _retire(self, worker: _Worker) -> _Item | None:
        """Forget a worker whose process has ended; its item, if it held one."""
        self._workers.remove(worker)
        worker.conn.close()
        item, worker.item = worker.item, None
        return item

    def _stop_workers(self) -> None:
        for worker in self._workers:
            with contextlib.suppress(OSError):  # already dead
                worker.conn.send(None)
        for worker in self._workers:
            _reap(worker.process, STOP_TIMEOUT_S)
            worker.conn.close()
        self._workers.clear()

    def _fail_everything(self, error: BaseException) -> None:
        with self._lock:
            items = [*self._queue, *(worker.item for worker in self._workers if worker.item is not None)]
            self._queue.clear()
            self._closing = True
        for item in items:
            if not item.future.done():
                if not item.running:
                    item.future.set_running_or_notify_cancel()
                item.future.set_exception(RuntimeError(f"the analysis pool failed: {unexpected(error)}"))


def _reap(process: multiprocessing.process.BaseProcess, grace_s: float) -> None:
    """Wait up to ``grace_s`` for ``process`` to end, then kill it."""
    process.join(grace_s)
    if process.is_alive():
        process.kill()
        process.join()


def _read_some(fd: int) -> bool:
    try:
        return bool(os.read(fd, 4096))
    except BlockingIOError:
        return False


def _exit_reason(exitcode: int | None) -> str:
    """``killed by SIGSEGV`` or ``exit status 3``."""
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit status {exitcode}"
