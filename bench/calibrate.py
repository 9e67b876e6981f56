"""Calibration study on ``../shared/data``: how far apart same-person and other-person similarities lie.

Everything goes through the code a scan uses (decode, speech detection, 1.6 s partials, windows of
``voice.window_partials`` partials, the project's matching calls), with ``config/default.toml``.

Voice: each of the 6 LibriSpeech speakers enrols its first 3 utterances (voiceprint = normalised mean
of the clip embeddings). Target trials: the speaker's other 7 utterances; impostor trials: every cohort
utterance and every other speaker's non-enrolled utterance, against each voiceprint. A trial's
similarity is its best window's cosine with the voiceprint (what a scan thresholds). Measured: EER,
false-alarm rate and recall at ``voice.calibration_center``, recall at 1 % false alarms, impostor upper
and target lower quantiles. Multi-speaker: ``quality.two_voice_split`` on single-speaker clips (each
utterance, and two utterances of one speaker joined) and on two utterances of different speakers joined.

Faces: each person enrols the largest face of their first photo; every face found in every other photo
is scored against each performer's reference (similarity = 1 - dlib distance). A photo's trial against
a performer is its best face, as in a scan. Measured: same-person and cross-person similarity ranges.

Run: ``python -m bench.calibrate [--json]`` from the repository root (about 30 s on 2 idle CPU cores).
"""

from __future__ import annotations

import argparse
import functools
import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist

import numpy as np

from enrollment import face, quality, voice
from enrollment.media import decode_audio, load_image
from enrollment.settings import FaceSettings, MediaLimits, VoiceSettings
from monitor.analyse import face_calibration, voice_calibration
from monitor.config import Config, load_config
from monitor.matching import Gallery, match_faces, match_voice

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ENROLLED_CLIPS = 3
# faces/_mixed/32bit.png is an RGBA copy of an Obama photo (an edge case for decoding, not an identity)
MIXED_IDENTITY = {"32bit.png": "obama"}
MIN_PART_PARTIALS = 4  # each voice of a two-speaker clip: at least 4 partials (about 4 s of speech)


def default_config() -> Config:
    """``config/default.toml`` alone: a home without config.toml, so no installation overrides it."""
    with tempfile.TemporaryDirectory() as home:
        return load_config(home)


def speech_of(paths: tuple[Path, ...], settings: VoiceSettings, limits: MediaLimits) -> voice.Speech:
    """The speech kept from the files' audio joined end to end (one file: a plain recording)."""
    return voice.find_speech(np.concatenate([decode_audio(path, limits) for path in paths]), settings)


@functools.cache
def speech_partials(paths: tuple[Path, ...], settings: VoiceSettings, limits: MediaLimits) -> voice.Partials:
    """Partial embeddings of :func:`speech_of`. Cached (embeddings only: the audio is not kept)."""
    return voice.embed_partials(speech_of(paths, settings, limits), settings)


def voice_windows(paths: tuple[Path, ...], config: Config) -> voice.Partials:
    return voice.window_embeddings(speech_partials(paths, config.voice, config.media), config.voice.window_partials)


def speaker_files() -> dict[str, list[Path]]:
    root = DATA / "voices" / "speakers"
    return {folder.name: sorted(folder.glob("*.flac")) for folder in sorted(root.iterdir()) if folder.is_dir()}


def cohort_files() -> list[Path]:
    return sorted((DATA / "voices" / "cohort").glob("*.flac"))


@dataclass
class Trials:
    """Best similarities of genuine (``target``) and other-person (``impostor``) trials, and the decisions."""

    target: np.ndarray
    impostor: np.ndarray
    target_hits: np.ndarray  # bool: the project's matching call reported a match
    impostor_hits: np.ndarray
    threshold: float  # the similarity whose score is the configured threshold
    worst_impostors: list[tuple[float, str]]
    notes: dict = field(default_factory=dict)


def _gallery(prints: np.ndarray, modality: str) -> Gallery:
    ids = np.arange(1, len(prints) + 1)
    names = {int(i): f"p{i}" for i in ids}
    empty = np.zeros(0, np.int64)
    if modality == "voice":
        return Gallery(names, ids, prints, empty, empty, np.zeros((0, face.EMBEDDING_SIZE), np.float32))
    return Gallery(names, empty, np.zeros((0, voice.EMBEDDING_SIZE), np.float32), ids, ids - 1, prints)


Row = tuple[np.ndarray, set[int], int | None, str]  # best similarity per performer, matched, owner, label


def _collect(rows: list[Row], names: list[str], threshold: float) -> Trials:
    target, impostor, target_hits, impostor_hits, labelled = [], [], [], [], []
    for best, matched, owner, label in rows:
        for column, similarity in enumerate(best):
            if column == owner:
                target.append(similarity)
                target_hits.append(column in matched)
            else:
                impostor.append(similarity)
                impostor_hits.append(column in matched)
                labelled.append((round(float(similarity), 4), f"{label} vs {names[column]}"))
    return Trials(np.array(target), np.array(impostor), np.array(target_hits, bool), np.array(impostor_hits, bool),
                  threshold, sorted(labelled, reverse=True)[:5])


def voice_trials(config: Config) -> Trials:
    """Scan every non-enrolled utterance against the 6 voiceprints, best window per voiceprint."""
    speakers = speaker_files()
    names = list(speakers)
    enrolled = [(path,) for files in speakers.values() for path in files[:ENROLLED_CLIPS]]
    clips = {clip: voice.mean_embedding(speech_partials(clip, config.voice, config.media).embeddings)
             for clip in enrolled}
    gallery = _gallery(np.stack([voice.mean_embedding(np.stack([clips[(path,)] for path in files[:ENROLLED_CLIPS]]))
                                 for files in speakers.values()]), "voice")
    calibration = voice_calibration(config)
    scanned = [(path, index) for index, files in enumerate(speakers.values()) for path in files[ENROLLED_CLIPS:]]
    scanned += [(path, None) for path in cohort_files()]
    rows, unscored = [], []
    for path, owner in scanned:
        windows = voice_windows((path,), config)
        if not len(windows):  # under ~1.2 s of speech: nothing to score, never a detection
            unscored.append(path.name)
            continue
        decided = match_voice(windows.embeddings, windows.start_s, windows.end_s, gallery, calibration, 1.0, 0)
        best = (windows.embeddings @ gallery.voiceprints.T).max(axis=0)  # the product match_voice thresholds
        rows.append((best, {m.performer_id - 1 for m in decided.matches}, owner, path.name))
    trials = _collect(rows, names, calibration.similarity_threshold)
    short = [clip[0].name for clip in enrolled
             if speech_of(clip, config.voice, config.media).speech_s < config.voice.min_speech_s]
    trials.notes = {"unscored_no_window": unscored, "enrolled_under_min_speech_s": short}
    return trials


def face_photos() -> dict[str, list[Path]]:
    root = DATA / "faces"
    people = {folder.name: sorted(p for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
              for folder in sorted(root.iterdir()) if folder.is_dir() and not folder.name.startswith("_")}
    for name, person in MIXED_IDENTITY.items():
        people[person].append(root / "_mixed" / name)
    return people


@functools.cache
def photo_faces(path: Path, settings: FaceSettings, limits: MediaLimits) -> tuple[list[face.FaceBox], np.ndarray]:
    """Boxes and descriptors (F, 128) of every face detected in a photo, largest first. Cached."""
    rgb = load_image(path, limits)
    boxes = face.detect_faces(rgb, settings.upsample)
    return boxes, face.encode_faces(rgb, boxes)


def face_trials(config: Config) -> Trials:
    """Every face of every non-enrolled photo against each person's first photo (its largest face)."""
    people = face_photos()
    names = list(people)
    references = []
    for photos in people.values():
        boxes, found = photo_faces(photos[0], config.face, config.media)
        if problem := quality.face_problem(boxes, True, config.face):
            raise SystemExit(f"{photos[0]}: {problem}")
        references.append(found[0])
    gallery = _gallery(np.stack(references), "face")
    calibration = face_calibration(config)
    rows, faces_per_photo = [], {}
    for owner, photos in enumerate(people.values()):
        for index, path in enumerate(photos):
            found = photo_faces(path, config.face, config.media)[1]
            faces_per_photo[f"{path.parent.name}/{path.name}"] = len(found)
            if index == 0 or not len(found):
                continue
            best = face.face_similarity(found, gallery.face_references).max(axis=0)  # best face per performer
            decided = match_faces(found, np.zeros(len(found)), gallery, calibration, 1.0, 0)
            rows.append((best, {m.performer_id - 1 for m in decided.matches}, owner, f"{path.parent.name}/{path.name}"))
    trials = _collect(rows, names, calibration.similarity_threshold)
    trials.notes = {"faces_per_photo": faces_per_photo,
                    "no_same_person_trial": [name for name, photos in people.items() if len(photos) == 1]}
    return trials


def equal_error_rate(target: np.ndarray, impostor: np.ndarray) -> tuple[float, float]:
    """(EER, the similarity where false alarms and misses are closest)."""
    candidates = np.unique(np.concatenate([target, impostor]))
    false_alarms = np.array([np.mean(impostor >= t) for t in candidates])
    misses = np.array([np.mean(target < t) for t in candidates])
    best = int(np.argmin(np.abs(false_alarms - misses)))
    return float((false_alarms[best] + misses[best]) / 2), float(candidates[best])


def recall_at_false_alarm(target: np.ndarray, impostor: np.ndarray, rate: float) -> tuple[float, float]:
    """(recall, threshold) at the lowest threshold whose false-alarm rate is at most ``rate``."""
    candidates = np.unique(np.concatenate([target, impostor, [impostor.max() + 1e-6]]))
    threshold = float(min(t for t in candidates if np.mean(impostor >= t) <= rate))
    return float(np.mean(target >= threshold)), threshold


def _q(values: np.ndarray, levels: dict[str, float]) -> dict[str, float]:
    return {name: round(float(np.quantile(values, level)), 4) for name, level in levels.items()}


def summarise(trials: Trials) -> dict:
    """Rates at the configured threshold (decided by the project's matching) and the distributions' tails.

    The normal fits estimate the rates on speakers not in these files: the observed false-alarm rate
    can only say "under 1 in ~1,000" with this many impostor trials.
    """
    eer, eer_threshold = equal_error_rate(trials.target, trials.impostor)
    recall_1, threshold_1 = recall_at_false_alarm(trials.target, trials.impostor, 0.01)
    impostor_fit = NormalDist(float(trials.impostor.mean()), float(trials.impostor.std()))
    target_fit = NormalDist(float(trials.target.mean()), float(trials.target.std()))
    return {
        "n_target": len(trials.target), "n_impostor": len(trials.impostor),
        "threshold_similarity": round(trials.threshold, 4),
        "false_alarm_rate": round(float(trials.impostor_hits.mean()), 4),
        "false_alarms": int(trials.impostor_hits.sum()),
        "recall": round(float(trials.target_hits.mean()), 4), "misses": int((~trials.target_hits).sum()),
        "eer": round(eer, 4), "eer_threshold": round(eer_threshold, 4),
        "recall_at_1pct_false_alarms": round(recall_1, 4), "threshold_at_1pct": round(threshold_1, 4),
        "impostor": _q(trials.impostor, {"median": 0.5, "q99": 0.99, "q999": 0.999, "max": 1.0}),
        "target": _q(trials.target, {"min": 0.0, "q01": 0.01, "q05": 0.05, "q10": 0.10, "median": 0.5}),
        "normal_fit": {"impostor_mean_sd": [round(impostor_fit.mean, 4), round(impostor_fit.stdev, 4)],
                       "target_mean_sd": [round(target_fit.mean, 4), round(target_fit.stdev, 4)],
                       "false_alarm_rate": float(f"{1 - impostor_fit.cdf(trials.threshold):.2g}"),
                       "miss_rate": float(f"{target_fit.cdf(trials.threshold):.2g}"),
                       "impostor_q999": round(impostor_fit.inv_cdf(0.999), 4),
                       "impostor_q9999": round(impostor_fit.inv_cdf(0.9999), 4)},
        "worst_impostors": trials.worst_impostors, **trials.notes,
    }


def multi_speaker_study(config: Config) -> dict:
    """two_voice_split of single-speaker clips (each utterance; two of one speaker's joined) and of two
    speakers' utterances joined (each with at least MIN_PART_PARTIALS partials, about 4 s of speech).
    """
    def long_enough(path: Path) -> bool:
        return len(speech_partials((path,), config.voice, config.media)) >= MIN_PART_PARTIALS

    speakers = list(speaker_files().values())
    cohort = cohort_files()
    single = [(path,) for files in speakers for path in files] + [(path,) for path in cohort]
    single += [(files[i], files[i + 1]) for files in speakers for i in range(0, len(files), 2)]
    usable = [[path for path in files if long_enough(path)] for files in speakers]
    double = [(a[i], b[i]) for k, a in enumerate(usable) for b in usable[k + 1:] for i in range(3)]
    usable_cohort = [path for path in cohort if long_enough(path)]
    double += list(zip(usable_cohort[::2], usable_cohort[1::2], strict=False))

    def splits(clips: list[tuple[Path, ...]]) -> np.ndarray:
        found = [quality.two_voice_split(voice_windows(clip, config).embeddings) for clip in clips]
        return np.array([split for split in found if split is not None]).reshape(-1, 2)

    one, two = splits(single), splits(double)
    counted = two[two[:, 1] >= quality.MIN_MINORITY_FRACTION]  # speakers_problem ignores a smaller second voice
    limit = config.voice.multi_speaker_max_similarity
    return {
        "single_clips": len(single), "single_with_split": len(one),
        "single_similarity": _q(one[:, 0], {"min": 0.0, "q01": 0.01, "q05": 0.05, "median": 0.5}),
        "two_clips": len(double), "two_with_split": len(two), "two_minority_at_least_0.2": len(counted),
        "two_similarity": _q(counted[:, 0], {"median": 0.5, "q95": 0.95, "q99": 0.99, "max": 1.0}),
        "configured_max_similarity": limit,
        "single_refused": int(np.sum((one[:, 0] < limit) & (one[:, 1] >= quality.MIN_MINORITY_FRACTION))),
        "two_refused": int(np.sum(counted[:, 0] < limit)),
    }


def face_study(config: Config) -> dict:
    trials = face_trials(config)
    return {
        "n_same": len(trials.target), "n_cross": len(trials.impostor),
        "threshold_similarity": round(trials.threshold, 4),
        "same_person": _q(trials.target, {"min": 0.0, "median": 0.5, "max": 1.0}),
        "cross_person": _q(trials.impostor, {"min": 0.0, "median": 0.5, "max": 1.0}),
        "same_matched": int(trials.target_hits.sum()), "cross_matched": int(trials.impostor_hits.sum()),
        "closest_cross": trials.worst_impostors, **trials.notes,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        raise SystemExit(f"{DATA} is absent: the calibration data lives beside the checkout")
    config = default_config()
    started = time.perf_counter()
    report = {"voice": summarise(voice_trials(config)), "multi_speaker": multi_speaker_study(config),
              "face": face_study(config)}
    report["seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for section, figures in report.items():
        print(f"[{section}]" if isinstance(figures, dict) else f"{section} = {figures}")
        for name, value in figures.items() if isinstance(figures, dict) else ():
            print(f"  {name}: {value}")


if __name__ == "__main__":
    main()
