"""A pool of analysis worker processes: media analysed on every core, the models loaded once per worker.

``AnalysisPool(config, gallery, workers).submit(path)`` → ``Future[Analysis]``. Each worker is a
process started once with the config and the gallery; it runs :func:`monitor.analyse.analyse` (pure:
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
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import pickle
import signal
import threading
import time
import traceback
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path

from enrollment.errors import LikenessError, unexpected
from monitor.analyse import Analysis
from monitor.config import Config
from monitor.matching import Gallery

START_METHOD = "forkserver"
# imported once by the fork server, so that no worker pays for them: monitor.analyse (numpy, PyAV, the
# matching code; it sets OMP_WAIT_POLICY before torch loads), resemblyzer (torch), librosa.filters (the mel
# basis: 1 s of imports, lazily loaded by librosa). Not dlib: its import loads the face models (1.4 s), and
# most media has no picture; a worker loads them on its first video or image.
PRELOAD = ("monitor.analyse", "resemblyzer", "librosa.filters")
ONE_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
STOP_TIMEOUT_S = 10.0  # a worker asked to stop has this long to finish before it is killed
logger = logging.getLogger(__name__)


class WorkerCrashed(LikenessError):
    """The worker process analysing an item died (a signal, or exited) before it answered."""


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


def one_thread() -> None:
    """One compute thread in this process (torch intra- and inter-op, OpenMP, MKL, OpenBLAS).

    Called first thing in each worker, before any model has run: torch's thread pools are created on
    first use, with the count set here.
    """
    for name in ONE_THREAD_VARIABLES:
        os.environ[name] = "1"  # read by native libraries loaded from now on (dlib's BLAS)
    import torch

    torch.set_num_threads(1)
    with contextlib.suppress(RuntimeError):  # allowed only before any inter-op work; a fresh worker has done none
        torch.set_num_interop_threads(1)
    try:
        from threadpoolctl import threadpool_limits  # installed with librosa (through scikit-learn)
    except ImportError:
        return
    threadpool_limits(1)  # numpy's OpenBLAS, loaded by the fork server with one thread per core


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


@dataclass
class PoolStats:
    """For reports and tests: worker processes started (replacements included), crashes, and the CPU seconds
    each worker had used at its last answer (model loading included), by process id."""

    started: int = 0
    crashed: int = 0
    pids: list[int] = field(default_factory=list)
    cpu_s: dict[int, float] = field(default_factory=dict)


class AnalysisPool:
    """``workers`` analysis processes, started on the first item; close it (or use ``with``) to stop them."""

    def __init__(self, config: Config, gallery: Gallery, workers: int, start_method: str | None = None) -> None:
        start_method = start_method or START_METHOD  # read here, so that a test can set another
        self.config = config
        self.gallery = gallery
        self.size = workers
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
        """Analyse ``path`` on a worker. The future raises what ``analyse`` raised there, or WorkerCrashed."""
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
        """Hand queued items to idle workers; collect answers; notice deaths. Ends once closed and idle."""
        try:
            while True:
                self._assign()
                busy = [worker for worker in self._workers if worker.item is not None]
                with self._lock:
                    if self._closing and not self._queue and not busy:
                        return
                watched = [self._wake_r, *(w.conn for w in busy), *(w.process.sentinel for w in self._workers)]
                ready = set(wait(watched))
                if self._wake_r in ready:
                    while _read_some(self._wake_r):
                        pass
                for worker in list(self._workers):
                    if worker.item is not None and worker.conn in ready:
                        self._receive(worker)
                    elif worker.process.sentinel in ready:
                        self._bury(worker)
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

    def _start_worker(self) -> _Worker:
        ours, theirs = self._context.Pipe()
        process = self._context.Process(target=_work, args=(theirs, self.config, self.gallery),
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
        item, worker.item = worker.item, None
        if outcome == "ok":
            item.future.set_result(value)
        else:
            item.future.set_exception(value)

    def _bury(self, worker: _Worker) -> None:
        """A worker that died: its item (if any) fails with one line; the next item starts a new worker."""
        worker.process.join(STOP_TIMEOUT_S)
        if worker.process.is_alive():  # an EOF without an exit: it is no use any more
            worker.process.kill()
            worker.process.join()
        self._workers.remove(worker)
        worker.conn.close()
        if worker.item is not None:
            self.stats.crashed += 1
            worker.item.future.set_exception(
                WorkerCrashed(f"the analysis worker died while analysing it ({_exit_reason(worker.process.exitcode)})"))
            worker.item = None

    def _stop_workers(self) -> None:
        for worker in self._workers:
            with contextlib.suppress(OSError):  # already dead
                worker.conn.send(None)
        for worker in self._workers:
            worker.process.join(STOP_TIMEOUT_S)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
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


# ------------------------------------------------------------------------------- in the worker


def _work(conn: Connection, config: Config, gallery: Gallery) -> None:
    """A worker's life: one thread, then paths in; out ("ok", Analysis) or ("error", exception), with the
    CPU seconds this worker has used so far."""
    from monitor.analyse import analyse

    # Ctrl-C reaches the whole process group: the parent decides what stops, and lets running items finish
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    one_thread()
    while True:
        try:
            path = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if path is None:
            return
        try:
            reply = ("ok", analyse(Path(path), config, gallery), time.process_time())
        except Exception as error:
            reply = ("error", _portable(error), time.process_time())
        try:
            conn.send(reply)
        except (pickle.PicklingError, TypeError, AttributeError) as error:  # a result that cannot travel: a bug
            conn.send(("error", _portable(error), time.process_time()))
        except OSError:  # the parent is gone
            return


def _portable(error: Exception) -> Exception:
    """``error`` as it can be sent to the parent: itself (its traceback as a note), else its one line."""
    error.add_note("in the analysis worker:\n" + "".join(traceback.format_exception(error)).rstrip())
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:
        if isinstance(error, LikenessError):
            return LikenessError(str(error))
        return RuntimeError(unexpected(error))
