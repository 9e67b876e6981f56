"""A batch scanned in this process, then on pools of analysis workers: media seconds per wall second.

``Scanner.scan_all`` on a batch of podcast-like files (about 90 s each, 44.1 kHz mp3) against 10
enrolled performers, on a fresh $LIKENESS_HOME each time (nothing from the analysis cache):

- in this process, torch with its default thread count (``[workers] analysis = 1``);
- on pools of 1, 2, 4 … worker processes (up to the usable cores), each with one torch thread.

A pool's time includes starting its workers (a fork each, then the voice model) and sending them the
gallery; the fork server itself (started once per process) is timed apart, with the start-up of the
other start methods. "× real time" is audio seconds per wall-clock second.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.voice_throughput import AUDIO_RATE_HZ, SHARED_VOICES, build_home, fresh_copy, target_voiceprint
from enrollment import voice  # at import, before torch loads anywhere: it sets OMP_WAIT_POLICY (read once, then)

N_FILES = 10
FILE_S = 90.0  # each file holds at least this much audio
N_PERFORMERS = 10
TARGET_IN = (0, 4, 8)  # files that carry one utterance of the enrolled target (something to detect)


def _read_16k(path: Path) -> np.ndarray:
    import soundfile

    wav, rate = soundfile.read(path, dtype="float32")
    assert rate == 16_000, f"{path}: {rate} Hz"
    return wav


def _utterances() -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], str]:
    """(other voices' utterances, target's utterances to hide in files, target's enrolment clips, description)."""
    if (SHARED_VOICES / "cohort").is_dir():
        target_dir = sorted(p for p in (SHARED_VOICES / "speakers").iterdir() if p.is_dir())[0]
        clips = sorted(target_dir.glob("*.flac"))
        others = [_read_16k(p) for p in sorted((SHARED_VOICES / "cohort").glob("*.flac"))]
        return (others, [_read_16k(p) for p in clips[: len(TARGET_IN)]], [_read_16k(p) for p in clips[-5:]],
                f"LibriSpeech ({SHARED_VOICES}/cohort; target speaker {target_dir.name})")
    from monitor.synthetic import OTHER_VOICE, PERFORMER_VOICE, TEXTS, synthesise

    others = [synthesise(text, voice) for text in TEXTS for voice in (OTHER_VOICE, "en-us+m3")]
    target = [synthesise(text, PERFORMER_VOICE) for text in TEXTS[:2]]
    return (others, target[:1] * len(TARGET_IN), [synthesise(TEXTS[3], PERFORMER_VOICE), target[1]],
            f"espeak-ng ({SHARED_VOICES} is absent)")


def build_batch(directory: Path, seed: int = 0) -> dict[str, Any]:
    """Write the batch: N_FILES mp3 of at least FILE_S each (utterances, 0.3–1.2 s pauses), and the enrolment."""
    import librosa

    from monitor.synthetic import write_audio

    rng = np.random.default_rng(seed)
    others, hidden, enrol, source = _utterances()
    directory.mkdir(parents=True, exist_ok=True)
    files, durations, next_other = [], [], 0
    for index in range(N_FILES):
        parts = [hidden[TARGET_IN.index(index)]] if index in TARGET_IN else []
        while sum(p.size for p in parts) < FILE_S * 16_000:  # cycles through the utterances when they run out
            parts.insert(int(rng.integers(0, len(parts) + 1)), others[next_other % len(others)])
            next_other += 1
        pieces = [piece for wav in parts for piece in (wav, np.zeros(int(rng.uniform(0.3, 1.2) * 16_000), np.float32))]
        wav16 = np.concatenate(pieces).astype(np.float32)
        wav16 *= 0.5 / max(float(np.abs(wav16).max()), 1e-9)
        files.append(write_audio(directory / f"episode-{index:02d}.mp3",
                                 librosa.resample(wav16, orig_sr=16_000, target_sr=AUDIO_RATE_HZ), AUDIO_RATE_HZ))
        durations.append(wav16.size / 16_000)
    warm = write_audio(directory / "warm.wav", np.concatenate(others[:1])[: 5 * 16_000])
    return {"files": files, "durations_s": durations, "warm": warm, "enrol": enrol, "source": source}


def _fresh_scanner(template: Path, home: Path, workers: int):
    from monitor.config import load_config
    from monitor.db import open_database
    from monitor.scan import Scanner

    config = load_config(fresh_copy(template, home))
    return Scanner(config, open_database(config.database_url), workers)


def measure_start_up(template: Path, work: Path, warm: Path, workers: int) -> dict[str, float]:
    """Seconds from a new pool of ``workers`` to an answer from each (fork or spawn, imports, voice model).

    Must run before any other pool in this process: the first forkserver pool starts the server.
    """
    from monitor.workers import AnalysisPool

    scanner = _fresh_scanner(template, work / f"start-{time.perf_counter_ns()}", 1)
    timings = {}
    for label, method in (("forkserver, first pool (starts the server: imports torch once)", "forkserver"),
                          ("forkserver, server running", "forkserver"), ("spawn (imports torch in each)", "spawn")):
        start = time.perf_counter()
        with AnalysisPool(scanner.config, scanner.gallery, workers, start_method=method) as pool:
            for future in [pool.submit(warm) for _ in range(workers)]:
                future.result()
        timings[label] = time.perf_counter() - start
    return timings


def measure_batch(template: Path, work: Path, files: list[Path], workers: int, pooled: bool,
                  repeats: int) -> dict[str, Any]:
    """Fastest of ``repeats`` scans of the whole batch, each on a fresh home: wall and CPU seconds, detections.

    CPU: this process's (all its threads) plus, for a pool, its workers' (model loading included, the fork
    server's one-off imports not), so that a busy machine's figures can still be compared.
    """
    walls, cpus, found = [], [], None
    for repeat in range(repeats):
        scanner = _fresh_scanner(template, work / f"home-{workers}-{pooled}-{repeat}-{time.perf_counter_ns()}", workers)
        with scanner.workers_running(force=pooled) as pool:
            start, cpu = time.perf_counter(), time.process_time()
            rows = scanner.scan_all([str(path) for path in files], force_pool=pooled)
            walls.append(time.perf_counter() - start)
            cpus.append(time.process_time() - cpu + (sum(pool.stats.cpu_s.values()) if pool is not None else 0.0))
        scanner.sessions.kw["bind"].dispose()
        failed = [row for row in rows if row.error or row.reused]
        if failed:
            raise RuntimeError(f"{failed[0].source}: {failed[0].error or 'came from the cache'}")
        found = [sorted(d["performer_id"] for d in row.detections or []) for row in rows]
    return {"wall_s": min(walls), "all_s": walls, "cpu_s": min(cpus), "detections": found}


def run(work_dir: Path, repeats: int = 2, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Every measurement; ``work_dir`` is an empty scratch directory. Returns a JSON-able dict."""
    import torch

    from monitor.config import load_config
    from monitor.workers import usable_cores

    os.environ.pop("LIKENESS_DATABASE_URL", None)  # never write benchmark performers into a real database
    load_start = os.getloadavg()[0]
    cores = usable_cores()
    log("writing the batch")
    batch = build_batch(work_dir / "batch")
    audio_s = sum(batch["durations_s"])
    target = target_voiceprint(batch.pop("enrol"), load_config(work_dir / "unused"))
    template = work_dir / "template"
    target_id = build_home(template, N_PERFORMERS, target)
    log(f"{N_FILES} files, {audio_s / 60:.1f} min in all ({batch['source']}); {cores} usable cores")

    log("worker start-up by start method")
    start_up = measure_start_up(template, work_dir, batch["warm"], min(2, cores))
    voice.voice_encoder()  # in-process runs start with the model loaded, as the pools' workers load it in their time
    counts = sorted({1, *(2**i for i in range(1, 8) if 2**i < cores), cores})
    settings = [("in-process", 1, False), *((f"{n} worker{'s' if n > 1 else ''}", n, True) for n in counts)]
    runs = []
    for label, workers, pooled in settings:
        threads = torch.get_num_threads() if not pooled else 1
        log(f"{label} ({threads} torch thread{'s' if threads > 1 else ''} each): {repeats} × {N_FILES} files")
        result = measure_batch(template, work_dir, batch["files"], workers, pooled, repeats)
        runs.append({"label": label, "processes": workers if pooled else 0, "torch_threads": threads, **result,
                     "x_realtime": audio_s / result["wall_s"], "audio_per_cpu_s": audio_s / result["cpu_s"],
                     "target_found_in": [i for i, ids in enumerate(result["detections"]) if target_id in ids]})
    in_process = runs[0]["x_realtime"]
    by_workers = {run["processes"]: run["x_realtime"] for run in runs[1:]}
    return {
        "machine": {"cpus_usable": cores, "torch_threads_default": torch.get_num_threads(),
                    "load_average_1min_start": load_start, "load_average_1min_end": os.getloadavg()[0]},
        "audio": {"files": N_FILES, "total_s": audio_s, "mean_file_s": audio_s / N_FILES, "source": batch["source"],
                  "format": f"mp3, {AUDIO_RATE_HZ / 1000:g} kHz mono", "performers": N_PERFORMERS},
        "start_up_s": start_up, "repeats": repeats, "runs": runs,
        "same_detections": all(run["detections"] == runs[0]["detections"] for run in runs),
        "target_expected_in": list(TARGET_IN),
        "speed_up_vs_in_process": {n: x / in_process for n, x in by_workers.items()},
        "speed_up_vs_one_worker": {n: x / by_workers[1] for n, x in by_workers.items()},
        "x_realtime_per_core": {n: x / n for n, x in by_workers.items()},
    }


if __name__ == "__main__":  # workers are started from a fork server: this module must not run again in them
    import json
    import sys
    import tempfile

    with tempfile.TemporaryDirectory(prefix="pool-bench-") as scratch:
        print(json.dumps(run(Path(scratch), log=lambda line: print(line, file=sys.stderr)), indent=2, default=str))
