"""Voice scanning throughput: decode → VAD → embed → match → store, as × real time.

Measures ``monitor.pipeline.scan.Scanner.scan`` end to end on a ~10 minute mp3 against galleries of 10 and
10,000 enrolled performers (a fresh $LIKENESS_HOME each time, so nothing comes from the analysis
cache), resemblyzer's own ``preprocess_wav`` + ``embed_utterance`` on the same file, and the
project's pipeline stages one by one. "× real time" is audio seconds per wall-clock second.
"""

from __future__ import annotations

import os
import shutil
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

SHARED_VOICES = Path(__file__).resolve().parents[2] / "shared" / "data" / "voices"
GALLERY_SIZES = (10, 10_000)
AUDIO_RATE_HZ = 44_100  # the test mp3 is written like a podcast's: 44.1 kHz mono (decode includes resampling)
TARGET_X_REALTIME = 100.0
TARGET_EXTRA_PCT = 10.0
Timed = dict[str, Any]


def time_runs(function: Callable[[], Any], repeats: int) -> tuple[Timed, Any]:
    """Run ``function`` ``repeats`` times: wall and process-CPU seconds (median, best, all)."""
    walls, cpus, value = [], [], None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        value = function()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return {"median_s": statistics.median(walls), "best_s": min(walls), "all_s": walls,
            "cpu_median_s": statistics.median(cpus), "cpu_best_s": min(cpus)}, value


# ------------------------------------------------------------------------------------------- audio


def _read_16k(path: Path) -> np.ndarray:
    import soundfile

    wav, rate = soundfile.read(path, dtype="float32")
    assert rate == 16_000, f"{path}: {rate} Hz"
    return wav


def _librispeech(minutes: float) -> tuple[list[np.ndarray], list[np.ndarray], str]:
    """(scanned utterances, target speaker's enrolment clips, description); the target's voice is in the audio."""
    cohort = sorted((SHARED_VOICES / "cohort").glob("*.flac"))
    target_dir = sorted(p for p in (SHARED_VOICES / "speakers").iterdir() if p.is_dir())[0]
    target_clips = sorted(target_dir.glob("*.flac"))
    scanned = [_read_16k(p) for p in target_clips[:3]]  # the clone to be found, at three places
    enrol = [_read_16k(p) for p in target_clips[-5:]]  # enrolled from other recordings of the same speaker
    need = minutes * 60 * 16_000 - sum(w.size for w in scanned)
    others: list[np.ndarray] = []
    for path in cohort:
        if sum(w.size for w in others) >= need:
            break
        others.append(_read_16k(path))
    for i, wav in enumerate(scanned):  # at about 1/4, 1/2 and 3/4 of the recording
        others.insert((i + 1) * len(others) // 4 + i, wav)
    speakers = {p.name.split("-")[0] for p in cohort[: len(others) - 3]}
    text = (f"LibriSpeech: {len(others)} utterances, {len(speakers) + 1} speakers ({SHARED_VOICES}/cohort; "
            f"target speaker {target_dir.name}: 3 utterances scanned, 5 others enrolled)")
    return others, enrol, text


def _espeak(minutes: float) -> tuple[list[np.ndarray], list[np.ndarray], str]:
    from monitor.demo.synthetic import OTHER_VOICE, PERFORMER_VOICE, TEXTS, synthesise

    other = [synthesise(text, OTHER_VOICE) for text in TEXTS[:3]]
    target = [synthesise(text, PERFORMER_VOICE) for text in TEXTS[:2]]
    parts, total = [], 0
    while total < minutes * 60 * 16_000:
        parts += other + target[:1]
        total += sum(w.size for w in other) + target[0].size
    enrol = [synthesise(TEXTS[3], PERFORMER_VOICE), target[1]]
    return parts, enrol, f"espeak-ng ({OTHER_VOICE} and target {PERFORMER_VOICE}); {SHARED_VOICES} is absent"


def build_audio(directory: Path, minutes: float, seed: int = 0) -> dict[str, Any]:
    """Write the scanned mp3 (utterances separated by 0.3–1.2 s pauses), a warm-up clip, the enrolment clips."""
    import librosa

    from monitor.demo.synthetic import write_audio

    rng = np.random.default_rng(seed)
    if (SHARED_VOICES / "cohort").is_dir():
        parts, enrol, source = _librispeech(minutes)
    else:
        parts, enrol, source = _espeak(minutes)
    pieces = [piece for wav in parts for piece in (wav, np.zeros(int(rng.uniform(0.3, 1.2) * 16_000), np.float32))]
    wav16 = np.concatenate(pieces).astype(np.float32)
    wav16 *= 0.5 / max(float(np.abs(wav16).max()), 1e-9)
    path = write_audio(directory / "scanned.mp3",
                       librosa.resample(wav16, orig_sr=16_000, target_sr=AUDIO_RATE_HZ), AUDIO_RATE_HZ)
    warm = write_audio(directory / "warm.wav", wav16[: 20 * 16_000])  # 20 s to load models before timing
    return {"path": path, "warm": warm, "source": source, "duration_s": wav16.size / 16_000, "enrol": enrol,
            "format": f"mp3, {AUDIO_RATE_HZ / 1000:g} kHz mono, {path.stat().st_size / 1e6:.1f} MB"}


# ----------------------------------------------------------------------------------------- gallery


def target_voiceprint(clips: list[np.ndarray], config) -> np.ndarray:
    """The enrolment path's voiceprint in every listening condition, (K, 256): each clip's embeddings, then
    their mean per condition."""
    from enrollment import voice

    per_clip = [voice.embeddings_in_conditions(w, voice.embed_partials(voice.find_speech(w, config.voice),
                                                                       config.voice), config.voice) for w in clips]
    return np.stack([voice.mean_embedding(rows) for rows in np.stack(per_clip).swapaxes(0, 1)])


def build_home(home: Path, n_performers: int, target: np.ndarray, seed: int = 0) -> int:
    """A $LIKENESS_HOME whose SQLite database holds ``n_performers`` consenting performers with voiceprints.

    All are random non-negative unit vectors (GE2E embeddings pass a ReLU), in every listening condition, but
    one, in the middle, which carries ``target`` (K, 256). Returns that performer's id.
    """
    from sqlalchemy import insert, text

    from enrollment import voice
    from enrollment.models import Agency, Consent, Performer, Voiceprint, to_blob
    from monitor.config import load_config
    from monitor.storage.db import open_database

    rng = np.random.default_rng(seed)
    vectors = np.abs(rng.standard_normal((n_performers, len(target), voice.EMBEDDING_SIZE))).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=2, keepdims=True)
    target_id = n_performers // 2 + 1
    vectors[target_id - 1] = target
    sessions = open_database(load_config(home).database_url)
    version = voice.voice_model_version()
    ids = range(1, n_performers + 1)
    with sessions.begin() as session:
        session.add(Agency(id=1, name="Bench agency"))  # the one agency every performer belongs to
        session.flush()
        session.execute(insert(Performer), [{"id": i, "name": f"Performer {i:05d}", "agency_id": 1} for i in ids])
        session.execute(insert(Consent), [{"performer_id": i, "consented_by": f"Performer {i:05d}"} for i in ids])
        session.execute(insert(Voiceprint), [
            {"performer_id": i, "embedding": to_blob(vectors[i - 1, 0]),
             "condition_embeddings": to_blob(vectors[i - 1, 1:]), "n_clips": 1, "speech_s": 30.0,
             "model_version": version} for i in ids])
    with sessions.begin() as session:
        session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    sessions.kw["bind"].dispose()
    return target_id


def fresh_copy(template: Path, home: Path) -> Path:
    """A new home holding a copy of ``template``'s database only (empty content store, no analyses)."""
    home.mkdir(parents=True)
    for path in template.glob("likeness.db*"):
        shutil.copy(path, home / path.name)
    return home


# ------------------------------------------------------------------------------------- measurements


def measure_scans(work: Path, audio: Path, duration_s: float, templates: dict[int, tuple[Path, int]],
                  repeats: int) -> list[dict[str, Any]]:
    """Scanner(config, sessions) then .scan(audio) on a fresh copy of each gallery; sizes interleaved per repeat."""
    import torch

    from monitor.config import load_config
    from monitor.pipeline.scan import Scanner
    from monitor.storage.db import open_database

    runs: dict[int, dict[str, list]] = {n: {"load": [], "scan": [], "cpu": [], "rows": []} for n in templates}
    for repeat in range(repeats):
        for n, (template, _target_id) in templates.items():
            config = load_config(fresh_copy(template, work / f"home-{n}-{repeat}-{time.perf_counter_ns()}"))
            sessions = open_database(config.database_url)
            start = time.perf_counter()
            scanner = Scanner(config, sessions)
            runs[n]["load"].append(time.perf_counter() - start)
            start, cpu = time.perf_counter(), time.process_time()
            row = scanner.scan(str(audio))
            runs[n]["scan"].append(time.perf_counter() - start)
            runs[n]["cpu"].append(time.process_time() - cpu)
            runs[n]["rows"].append(row)
            sessions.kw["bind"].dispose()
            if row.error or row.reused:
                raise RuntimeError(f"scan failed or came from the cache: {row.error or 'reused'}")
    results = []
    for n, run in runs.items():
        row = run["rows"][-1]
        results.append({
            "torch_threads": torch.get_num_threads(), "performers": n, "gallery_load_s": min(run["load"]),
            "scan_best_s": min(run["scan"]), "scan_median_s": statistics.median(run["scan"]), "scan_all_s": run["scan"],
            "cpu_best_s": min(run["cpu"]), "x_realtime": duration_s / min(run["scan"]),
            "x_realtime_median": duration_s / statistics.median(run["scan"]),
            "audio_per_cpu_s": duration_s / min(run["cpu"]),
            "detections": len(row.detections or []),
            "target_detected": any(d["performer_id"] == templates[n][1] for d in row.detections or []),
        })
    return results


def baseline_encoder() -> tuple[Any, float]:
    """resemblyzer's own ``VoiceEncoder("cpu")`` for the baseline, and its load time in seconds."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from resemblyzer import VoiceEncoder
    start = time.perf_counter()
    return VoiceEncoder("cpu", verbose=False), time.perf_counter() - start


def measure_baseline(encoder: Any, audio: Path, duration_s: float, repeats: int) -> dict[str, Any]:
    """resemblyzer's own path per file: preprocess_wav(path) (librosa decode + resample + VAD) + embed_utterance."""
    import torch
    from resemblyzer import preprocess_wav

    pre, wav = time_runs(lambda: preprocess_wav(audio), repeats)
    embed, _ = time_runs(lambda: encoder.embed_utterance(wav), repeats)
    total = pre["best_s"] + embed["best_s"]
    return {"torch_threads": torch.get_num_threads(), "preprocess_wav": pre, "embed_utterance": embed,
            "total_best_s": total, "x_realtime": duration_s / total, "speech_s": wav.size / 16_000}


def measure_stages(work: Path, audio: Path, duration_s: float, templates: dict[int, tuple[Path, int]],
                   repeats: int) -> dict[str, Any]:
    """The project's voice pipeline stage by stage, each stage ``repeats`` times (fastest and median)."""
    from enrollment import voice
    from enrollment.media import decode_audio, probe
    from monitor.analysis.analyse import voice_calibration, voice_chance
    from monitor.config import load_config
    from monitor.matching.voice_cohort import scoring_gallery
    from monitor.matching.voice_match import match_voice
    from monitor.storage.content_store import ContentStore
    from monitor.storage.db import open_database

    config = load_config(work / "stages")
    stages: dict[str, Timed] = {}
    stages["ingest (sha256 + copy into store)"], _ = time_runs(
        lambda: ContentStore(work / "stages" / f"store-{time.perf_counter_ns()}").add_file(audio, 1 << 40), repeats)
    stages["probe"], _ = time_runs(lambda: probe(audio, config.media), repeats)
    stages["decode (PyAV + resample to 16 kHz)"], wav = time_runs(lambda: decode_audio(audio, config.media), repeats)
    stages["VAD (find_speech)"], speech = time_runs(lambda: voice.find_speech(wav, config.voice), repeats)
    stages["embed_partials (mel + encoder)"], partials = time_runs(
        lambda: voice.embed_partials(speech, config.voice), repeats)
    stages["  of which mel spectrogram"], _ = time_runs(lambda: voice.mel_frames(speech.wav), repeats)
    stages["window_embeddings"], windows = time_runs(
        lambda: voice.window_embeddings(partials, config.voice.window_partials), repeats)
    for n, (template, _target_id) in templates.items():
        sessions = open_database(load_config(template).database_url)
        with sessions() as session:
            stages[f"load_gallery, {n:,} performers"], gallery = time_runs(  # with the population's statistics
                lambda s=session: scoring_gallery(s, config.voice), repeats)
        sessions.kw["bind"].dispose()
        stages[f"match_voice, {n:,} performers"], _ = time_runs(lambda g=gallery: match_voice(
            windows.embeddings, windows.start_s, windows.end_s, g, voice_calibration(config),
            config.scan.merge_gap_s, config.scan.closest_per_modality, config.voice.same_voice_threshold,
            voice_chance(config)), repeats)
    for timed in stages.values():
        timed["x_realtime"] = duration_s / max(timed["best_s"], 1e-9)
    return {"stages": stages, "speech_s": speech.speech_s, "partials": len(partials), "windows": len(windows)}


def _gallery_templates(work: Path, target: np.ndarray, log: Callable[[str], None]) -> dict[int, tuple[Path, int]]:
    """Gallery size → (template home under ``work``, the target performer's id), for each of GALLERY_SIZES.

    ``target``: the target's voiceprint (K, 256), one performer's among random ones (:func:`build_home`).
    """
    templates: dict[int, tuple[Path, int]] = {}
    for n in GALLERY_SIZES:
        start = time.perf_counter()
        templates[n] = work / f"template-{n}", build_home(work / f"template-{n}", n, target)
        log(f"{n:,} performers inserted in {time.perf_counter() - start:.1f} s")
    return templates


def _end_to_end(work: Path, audio: dict[str, Any], templates: dict[int, tuple[Path, int]], encoder: Any,
                default_threads: int, repeats: int,
                log: Callable[[str], None]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[int, dict]]:
    """Scans and baselines with ``default_threads`` torch threads, then with 1 (when that differs).

    Returns (every scan row of :func:`measure_scans`, one :func:`measure_baseline` per thread count, thread
    count → {"wall", "cpu"}: % the largest gallery's fastest scan takes over the smallest's). Leaves torch's
    thread count at the last one measured.
    """
    import torch

    duration_s = audio["duration_s"]
    scans, baselines, extra_pct = [], [], {}
    for threads in dict.fromkeys([default_threads, 1]):
        torch.set_num_threads(threads)
        measure_scans(work / "warm", audio["warm"], 20.0, {10: templates[10]}, 1)  # models, lazy imports, thread pools
        log(f"end to end, torch threads {threads}: {repeats} × {len(GALLERY_SIZES)} scans")
        rows = measure_scans(work, audio["path"], duration_s, templates, repeats)
        extra_pct[threads] = {"wall": 100 * (rows[-1]["scan_best_s"] / rows[0]["scan_best_s"] - 1),
                              "cpu": 100 * (rows[-1]["cpu_best_s"] / rows[0]["cpu_best_s"] - 1)}
        log(f"baseline, torch threads {threads}: resemblyzer preprocess_wav + embed_utterance")
        baselines.append(measure_baseline(encoder, audio["path"], duration_s, repeats))
        scans += rows
    return scans, baselines, extra_pct


def run(work: Path, minutes: float = 10.0, repeats: int = 3, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Every voice throughput measurement; ``work`` is an empty scratch directory. Returns a JSON-able dict.

    End to end and baseline are measured with torch's default thread count (one process using the whole
    machine) and, where that is more than one, with one thread (one scanning process per core).
    """
    import torch

    from enrollment import voice
    from monitor.config import load_config

    os.environ.pop("LIKENESS_DATABASE_URL", None)  # never write benchmark performers into a real database
    start = time.perf_counter()
    voice.voice_encoder()
    load_s = time.perf_counter() - start
    log(f"voice model loaded in {load_s:.2f} s; writing the test audio")
    audio = build_audio(work, minutes)
    duration_s = audio["duration_s"]
    log(f"audio: {duration_s / 60:.1f} min, {audio['source']}")
    config = load_config(work / "unused")
    target = target_voiceprint(audio.pop("enrol"), config)
    templates = _gallery_templates(work, target, log)
    encoder, baseline_load_s = baseline_encoder()
    default_threads = torch.get_num_threads()
    scans, baselines, extra_pct = _end_to_end(work, audio, templates, encoder, default_threads, repeats, log)
    largest = [s for s in scans if s["performers"] == GALLERY_SIZES[-1]]
    threads_used = max(largest, key=lambda s: s["x_realtime"])["torch_threads"]  # the faster setting
    worst = min((s for s in scans if s["torch_threads"] == threads_used), key=lambda s: s["x_realtime"])
    torch.set_num_threads(threads_used)
    log(f"stage breakdown, torch threads {threads_used}")
    stages = measure_stages(work, audio["path"], duration_s, templates, repeats) | {"torch_threads": threads_used}
    torch.set_num_threads(default_threads)
    return {
        "audio": {k: str(v) if isinstance(v, Path) else v for k, v in audio.items()},
        "model_load_s": {"voice_encoder() (imports torch and resemblyzer, reads weights)": load_s,
                         "baseline's own VoiceEncoder()": baseline_load_s},
        "torch_threads_default": default_threads, "device": str(voice.voice_encoder().device), "repeats": repeats,
        "end_to_end": scans, "extra_pct_largest_vs_smallest": extra_pct, "baseline": baselines,
        "breakdown": stages, "gallery_extra_s": _gallery_extra_s(stages["stages"]),
        "targets": {"x_realtime_min": TARGET_X_REALTIME, "extra_pct_max": TARGET_EXTRA_PCT,
                    "x_realtime_worst_size": worst["x_realtime"], "torch_threads": threads_used,
                    "x_realtime_met": worst["x_realtime"] >= TARGET_X_REALTIME,
                    "extra_pct": extra_pct[threads_used]["wall"],
                    "extra_pct_met": extra_pct[threads_used]["wall"] < TARGET_EXTRA_PCT},
    }


def _gallery_extra_s(stages: dict[str, Timed]) -> dict[str, float]:
    """What the largest gallery adds over the smallest, stage by stage: per file (match) and per command (load)."""
    def extra(stage: str) -> float:
        return stages[f"{stage}, {GALLERY_SIZES[-1]:,} performers"]["best_s"] - stages[
            f"{stage}, {GALLERY_SIZES[0]:,} performers"]["best_s"]

    return {"match_voice_per_file_s": extra("match_voice"), "load_gallery_per_command_s": extra("load_gallery")}
