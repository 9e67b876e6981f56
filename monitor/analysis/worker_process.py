"""Inside an analysis worker process (monitor.analysis.workers): one compute thread, then paths in and answers out.

The parent's side (the pool, its dispatcher, deaths and timeouts) is monitor.analysis.workers; this is all that runs
in the child, started by the fork server with ``work`` as its target.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import time
import traceback
from multiprocessing.connection import Connection
from pathlib import Path

from enrollment.errors import LikenessError, unexpected
from monitor.config import Config
from monitor.matching.gallery import Gallery

ONE_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def work(conn: Connection, config: Config, gallery: Gallery) -> None:
    """A worker's life: one thread, then paths in; out ("ok", Analysis) or ("error", exception), with the
    CPU seconds this worker has used so far."""
    from monitor.analysis.analyse import analyse

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
