"""A batch scanned in this process, then on pools of analysis workers: media seconds per wall second.

``Scanner.scan_all`` on a batch of podcast-like files (about 90 s each, 44.1 kHz mp3) against 10
enrolled performers, on a fresh $LIKENESS_HOME each time (nothing from the analysis cache):

- in this process, torch with its default thread count (``[workers] analysis = 1``);
- on pools of 1, 2, 4 … worker processes (up to the usable cores), each with one torch thread;
- on a pool sized to the cores against 10,000 performers (issue 7: < 5 % more than 10);
- the naive baseline in the same run: resemblyzer's ``preprocess_wav`` + ``embed_utterance`` per file, in
  this process with torch's default threads (issue 7: the pool ≥ 1.5× it, and ≥ 150× real time).

Settings are interleaved repeat by repeat, so that a change in the machine's load touches them alike. The
10,000 performers' extra is the median over repeats of each repeat's ratio to the same pool against 10,
wall-clock and CPU: a pair run seconds apart shares the machine's state, and one lucky run moves a median
little (a fastest-of-n figure, compared across settings, moved by ±3 % between runs of the same code).

A pool's workers are started, with the voice model loaded and the gallery received, before its batch
is timed, as this process and the baseline have loaded theirs: that start-up is timed apart for each
batch, and the fork server's own (once per process) with the other start methods'. "× real time" is
audio seconds per wall-clock second.
"""

from __future__ import annotations

import os
import statistics
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
LARGE_GALLERY = 10_000
TARGET_X_REALTIME = 150.0
TARGET_VS_BASELINE = 1.5
TARGET_EXTRA_PCT = 5.0
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
    from monitor.demo.synthetic import OTHER_VOICE, PERFORMER_VOICE, TEXTS, synthesise

    others = [synthesise(text, voice) for text in TEXTS for voice in (OTHER_VOICE, "en-us+m3")]
    target = [synthesise(text, PERFORMER_VOICE) for text in TEXTS[:2]]
    return (others, target[:1] * len(TARGET_IN), [synthesise(TEXTS[3], PERFORMER_VOICE), target[1]],
            f"espeak-ng ({SHARED_VOICES} is absent)")


def build_batch(directory: Path, seed: int = 0, n_files: int = N_FILES, file_s: float = FILE_S) -> dict[str, Any]:
    """Write the batch: ``n_files`` mp3 of at least ``file_s`` seconds each (utterances, 0.3–1.2 s pauses), and the
    enrolment."""
    import librosa

    from monitor.demo.synthetic import write_audio

    rng = np.random.default_rng(seed)
    others, hidden, enrol, source = _utterances()
    directory.mkdir(parents=True, exist_ok=True)
    files, durations, next_other = [], [], 0
    for index in range(n_files):
        parts = [hidden[TARGET_IN.index(index)]] if index in TARGET_IN else []
        while sum(p.size for p in parts) < file_s * 16_000:  # cycles through the utterances when they run out
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
    from monitor.pipeline.scan import Scanner
    from monitor.storage.db import open_database

    config = load_config(fresh_copy(template, home))
    return Scanner(config, open_database(config.database_url), workers)


def measure_start_up(template: Path, work: Path, warm: Path, workers: int) -> dict[str, float]:
    """Seconds from a new pool of ``workers`` to an answer from each (fork or spawn, imports, voice model).

    Must run before any other pool in this process: the first forkserver pool starts the server.
    """
    from monitor.analysis.workers import AnalysisPool

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
                  warm: Path) -> dict[str, Any]:
    """One scan of the whole batch on a fresh home: wall and CPU seconds, detections per file.

    A pool's workers are started and have loaded the voice model (one ``warm`` file each) before the clock
    starts, as this process and the baseline have theirs: the batch then measures analysis, not start-up,
    which is timed apart (``start_up_s``: a fork each, the model, the gallery sent over).
    CPU: this process's (all its threads) plus, for a pool, its workers' during the batch, so that a busy
    machine's figures can still be compared.
    """
    scanner = _fresh_scanner(template, work / f"home-{workers}-{pooled}-{time.perf_counter_ns()}", workers)
    with scanner.workers_running(force=pooled) as pool:
        start_up_s, start_up_cpu_s = 0.0, 0.0
        if pool is not None:
            start = time.perf_counter()
            for future in [pool.submit(warm) for _ in range(workers)]:
                future.result()
            start_up_s, start_up_cpu_s = time.perf_counter() - start, sum(pool.stats.cpu_s.values())
        start, cpu = time.perf_counter(), time.process_time()
        rows = scanner.scan_all([str(path) for path in files], force_pool=pooled)
        wall = time.perf_counter() - start
        cpu_s = time.process_time() - cpu + (sum(pool.stats.cpu_s.values()) - start_up_cpu_s if pool else 0.0)
    scanner.sessions.kw["bind"].dispose()
    failed = [row for row in rows if row.error or row.reused]
    if failed:
        raise RuntimeError(f"{failed[0].source}: {failed[0].error or 'came from the cache'}")
    return {"wall_s": wall, "cpu_s": cpu_s, "start_up_s": start_up_s,
            "detections": [sorted(d["performer_id"] for d in row.detections or []) for row in rows]}


def measure_baseline(encoder: Any, files: list[Path]) -> dict[str, Any]:
    """The naive loop: resemblyzer's preprocess_wav(path) + embed_utterance(wav) for each file, one process."""
    from resemblyzer import preprocess_wav

    start, cpu = time.perf_counter(), time.process_time()
    for path in files:
        encoder.embed_utterance(preprocess_wav(path))
    return {"wall_s": time.perf_counter() - start, "cpu_s": time.process_time() - cpu, "start_up_s": 0.0,
            "detections": []}


Setting = tuple[str, int, bool, int]  # (label, worker processes, on a pool, enrolled performers)


def _settings(cores: int) -> tuple[list[int], list[Setting]]:
    """The pool sizes measured against N_PERFORMERS (1, the powers of two below ``cores``, ``cores``), and every
    setting in measuring order: in this process, each pool size, then a pool of ``cores`` against LARGE_GALLERY."""
    counts = sorted({1, *(2**i for i in range(1, 8) if 2**i < cores), cores})
    settings = [("in-process", 1, False, N_PERFORMERS),
                *((f"{n} worker{'s' if n > 1 else ''}", n, True, N_PERFORMERS) for n in counts),
                (f"{cores} worker{'s' if cores > 1 else ''}, {LARGE_GALLERY:,} performers", cores, True, LARGE_GALLERY)]
    return counts, settings


def _measure_interleaved(work_dir: Path, batch: dict[str, Any], templates: dict[int, Path], settings: list[Setting],
                         encoder: Any, repeats: int, log: Callable[[str], None]) -> dict[str, list[dict[str, Any]]]:
    """Setting label (and "baseline") → its ``repeats`` batch results (:func:`measure_batch`'s dicts), in order.

    Every setting, then the baseline, runs once per repeat: a change in the machine's load touches them alike.
    """
    measured: dict[str, list[dict[str, Any]]] = {label: [] for label, *_ in settings}
    measured["baseline"] = []
    for repeat in range(repeats):
        log(f"repeat {repeat + 1} of {repeats}: " + ", ".join(measured))
        for label, workers, pooled, performers in settings:
            measured[label].append(measure_batch(templates[performers], work_dir, batch["files"], workers, pooled,
                                                 batch["warm"]))
        measured["baseline"].append(measure_baseline(encoder, batch["files"]))
    return measured


def _fastest_runs(settings: list[Setting], measured: dict[str, list[dict[str, Any]]], audio_s: float,
                  target_ids: dict[int, int]) -> list[dict[str, Any]]:
    """One row per setting, then the baseline's: its fastest repeat (wall-clock), every repeat's wall seconds,
    × real time (audio seconds per wall second), audio seconds per CPU second, and the files (indices) where
    the target (performer id ``target_ids[performers]``) was detected."""
    import torch

    runs = []
    for label, workers, pooled, performers in [*settings, ("baseline", 0, False, 0)]:
        fastest = min(measured[label], key=lambda result: result["wall_s"])
        runs.append({"label": label, "processes": workers if pooled else 0, "performers": performers,
                     "torch_threads": 1 if pooled else torch.get_num_threads(), **fastest,
                     "all_s": [result["wall_s"] for result in measured[label]],
                     "x_realtime": audio_s / fastest["wall_s"], "audio_per_cpu_s": audio_s / fastest["cpu_s"],
                     "target_found_in": [i for i, ids in enumerate(fastest["detections"])
                                         if performers and target_ids[performers] in ids]})
    return runs


def _gallery_extra_pct(large: list[dict[str, Any]], full: list[dict[str, Any]]) -> tuple[float, float]:
    """What LARGE_GALLERY performers add over N_PERFORMERS on the same pool, % (wall-clock, CPU): the median over
    repeats of each repeat's ratio (``large[i]`` against ``full[i]``, run seconds apart)."""
    paired = list(zip(large, full, strict=True))
    extra_pct = 100 * (statistics.median(big["wall_s"] / small["wall_s"] for big, small in paired) - 1)
    extra_cpu_pct = 100 * (statistics.median(big["cpu_s"] / small["cpu_s"] for big, small in paired) - 1)
    return extra_pct, extra_cpu_pct


def _targets(full: dict[str, Any], large: dict[str, Any], baseline: dict[str, Any], in_process_x: float,
             extra_pct: float, extra_cpu_pct: float) -> dict[str, Any]:
    """Issue 7's targets and whether they are met. ``full``, ``large``, ``baseline``: the fastest-run rows of the
    pool sized to the cores (against N_PERFORMERS, then LARGE_GALLERY) and of the baseline; ``in_process_x``: × real
    time in this process; ``extra_pct``, ``extra_cpu_pct``: :func:`_gallery_extra_pct`'s."""
    return {
        "x_realtime": full["x_realtime"], "x_realtime_min": TARGET_X_REALTIME,
        "vs_baseline": full["x_realtime"] / baseline["x_realtime"], "vs_baseline_min": TARGET_VS_BASELINE,
        "in_process_vs_baseline": in_process_x / baseline["x_realtime"],
        "extra_pct": extra_pct, "extra_cpu_pct": extra_cpu_pct, "extra_pct_max": TARGET_EXTRA_PCT,
        "extra_pct_fastest": 100 * (large["wall_s"] / full["wall_s"] - 1),
        "met": full["x_realtime"] >= TARGET_X_REALTIME
        and full["x_realtime"] / baseline["x_realtime"] >= TARGET_VS_BASELINE,
        "extra_met": extra_pct < TARGET_EXTRA_PCT and extra_cpu_pct < TARGET_EXTRA_PCT,
    }


def run(work_dir: Path, repeats: int = 5, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Every measurement; ``work_dir`` is an empty scratch directory. Returns a JSON-able dict."""
    import torch

    from bench.voice_throughput import baseline_encoder
    from monitor.analysis.workers import usable_cores
    from monitor.config import load_config

    os.environ.pop("LIKENESS_DATABASE_URL", None)  # never write benchmark performers into a real database
    load_start = os.getloadavg()[0]
    cores = usable_cores()
    log("writing the batch")
    batch = build_batch(work_dir / "batch")
    audio_s = sum(batch["durations_s"])
    target = target_voiceprint(batch.pop("enrol"), load_config(work_dir / "unused"))
    templates = {n: work_dir / f"template-{n}" for n in (N_PERFORMERS, LARGE_GALLERY)}
    target_ids = {n: build_home(template, n, target) for n, template in templates.items()}
    log(f"{N_FILES} files, {audio_s / 60:.1f} min in all ({batch['source']}); {cores} usable cores")

    log("worker start-up by start method")
    start_up = measure_start_up(templates[N_PERFORMERS], work_dir, batch["warm"], min(2, cores))
    voice.voice_encoder()  # in-process runs start with the model loaded, as the pools' workers load it in their time
    encoder, _ = baseline_encoder()
    counts, settings = _settings(cores)
    measured = _measure_interleaved(work_dir, batch, templates, settings, encoder, repeats, log)
    runs = _fastest_runs(settings, measured, audio_s, target_ids)
    pools, baseline = runs[1 : 1 + len(counts)], runs[-1]
    in_process, full, large = runs[0]["x_realtime"], pools[-1], runs[-2]
    by_workers = {run["processes"]: run["x_realtime"] for run in pools}
    extra_pct, extra_cpu_pct = _gallery_extra_pct(measured[large["label"]], measured[full["label"]])
    return {
        "machine": {"cpus_usable": cores, "torch_threads_default": torch.get_num_threads(),
                    "load_average_1min_start": load_start, "load_average_1min_end": os.getloadavg()[0]},
        "audio": {"files": N_FILES, "total_s": audio_s, "mean_file_s": audio_s / N_FILES, "source": batch["source"],
                  "format": f"mp3, {AUDIO_RATE_HZ / 1000:g} kHz mono", "performers": N_PERFORMERS},
        "start_up_s": start_up, "repeats": repeats, "runs": runs,
        "same_detections": all(run["detections"] == runs[0]["detections"] for run in pools),
        "same_found_large": large["target_found_in"] == runs[0]["target_found_in"],
        "target_expected_in": list(TARGET_IN),
        "speed_up_vs_in_process": {n: x / in_process for n, x in by_workers.items()},
        "speed_up_vs_one_worker": {n: x / by_workers[1] for n, x in by_workers.items()},
        "x_realtime_per_core": {n: x / n for n, x in by_workers.items()},
        "targets": _targets(full, large, baseline, in_process, extra_pct, extra_cpu_pct),
    }


if __name__ == "__main__":  # workers are started from a fork server: this module must not run again in them
    import json
    import sys
    import tempfile

    with tempfile.TemporaryDirectory(prefix="pool-bench-") as scratch:
        print(json.dumps(run(Path(scratch), log=lambda line: print(line, file=sys.stderr)), indent=2, default=str))
