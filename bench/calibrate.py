"""Calibration study on ``../shared/data``: how far apart same-person and other-person similarities lie.

Everything goes through the code a scan uses (decode, speech detection, 1.6 s partials, windows of
``voice.window_partials`` partials, the project's matching calls), with ``config/default.toml``.

Voice detection quality (EER, false alarms and recall at the default thresholds, under degradations)
is measured by ``likeness eval`` (monitor/evaluation), against the comparison population; this study
keeps what eval does not measure. Multi-speaker: ``quality.two_voice_split`` on single-speaker clips (each
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

import numpy as np

from enrollment import face, quality, voice
from enrollment.media import decode_audio, load_image
from enrollment.settings import FaceSettings, MediaLimits, VoiceSettings
from monitor.analysis.analyse import face_calibration
from monitor.config import Config, load_config
from monitor.matching.gallery import Gallery, match_faces

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
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
    boxes = face.detect_faces(rgb, settings.upsample, settings.detector)
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


def _q(values: np.ndarray, levels: dict[str, float]) -> dict[str, float]:
    return {name: round(float(np.quantile(values, level)), 4) for name, level in levels.items()}


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
    report = {"multi_speaker": multi_speaker_study(config), "face": face_study(config)}
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
