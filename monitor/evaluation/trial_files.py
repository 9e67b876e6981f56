"""Each voice trial file's scoring windows under every transform: the bulk of an evaluation's time (decoding,
transforming and embedding every file a dozen times), spread over a process per core for a long list.

A file's work depends on nothing but the file, its index (which seeds its transforms) and the configuration, so
the files are shared out to worker processes of one compute thread each (:func:`monitor.analysis.worker_process.
one_thread`: two processes on two cores embed more per second than one process on two threads) and their answers
read back in order. A short list is worked out here: starting a process and its model costs a few seconds.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from enrollment import voice
from enrollment.errors import LikenessError
from enrollment.media import decode_audio
from monitor.config import Config
from monitor.evaluation.transforms import apply_audio

FILES_PER_PROCESS = 16  # below this many files for each extra process, the files are worked out in this process


@dataclass
class TrialFile:
    """What one trial file gave: ``windows`` transform → its scoring windows (W, 256); ``no_speech``: the
    transforms that left no window; ``clean``: an impostor file's clean embeddings (K, 256), one row per listening
    condition, None for another file or one without speech; ``error``: why it did not decode (the rest empty)."""

    windows: dict[str, np.ndarray]
    no_speech: list[str]
    clean: np.ndarray | None = None
    error: str | None = None


def partials(wav: np.ndarray, config: Config) -> voice.Partials:
    """The embedded partials of a recording's speech (16 kHz mono float32)."""
    return voice.embed_partials(voice.find_speech(wav, config.voice), config.voice)


def trial_file(path: Path, impostor: bool, transforms: list[str], seed: int, config: Config) -> TrialFile:
    """One file's windows under each of ``transforms`` (in order), seeded by ``seed``; an ``impostor`` file is
    also embedded clean, as a member of the population."""
    try:
        wav = decode_audio(path, config.media)
    except LikenessError as error:
        return TrialFile({}, [], error=str(error))
    clean_partials, clean = None, None
    if impostor:
        clean_partials = partials(wav, config)
        if len(clean_partials):
            clean = voice.embeddings_in_conditions(wav, clean_partials, config.voice)
    windows, no_speech = {}, []
    for name in transforms:
        found_partials = clean_partials if name == "clean" and clean_partials is not None else \
            partials(apply_audio(name, wav, seed=seed), config)
        windows[name] = voice.window_embeddings(found_partials, config.voice.window_partials).embeddings
        if not len(windows[name]):
            no_speech.append(name)
    return TrialFile(windows, no_speech, clean)


def trial_files(files: list[tuple[Path, bool]], transforms: list[str], config: Config) -> Iterator[TrialFile]:
    """:func:`trial_file` of each ``(path, impostor)``, in order, the n-th seeded by n; on a process per usable
    core when there are FILES_PER_PROCESS files or more for each."""
    from monitor.analysis.workers import usable_cores

    processes = min(usable_cores(), len(files) // FILES_PER_PROCESS)
    jobs = [(path, impostor, transforms, seed, config) for seed, (path, impostor) in enumerate(files)]
    if processes < 2:
        yield from (trial_file(*job) for job in jobs)
        return
    pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("forkserver"),
                               initializer=_worker_start)
    try:
        yield from pool.map(_trial_file, jobs)
    except BrokenProcessPool:  # a worker gone: Ctrl-C (workers leave at once), or killed for its memory
        raise LikenessError("an evaluation worker process stopped before it answered (interrupted, or out of "
                            "memory): nothing was measured") from None
    finally:  # stopped early: the files not started yet are not worked out
        pool.shutdown(wait=True, cancel_futures=True)


def _trial_file(job: tuple) -> TrialFile:
    return trial_file(*job)


def _worker_start() -> None:
    """A worker process: one compute thread, and gone at once, without a word, at Ctrl-C (which reaches the whole
    process group): the parent sees its pool broken and stops too, saying so in one line."""
    from monitor.analysis.worker_process import one_thread

    signal.signal(signal.SIGINT, lambda *_: os._exit(130))
    one_thread()
