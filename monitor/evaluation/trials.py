"""Trial scores for ``likeness eval``: every trial file against every identity, as a scan would score it.

Voice scores are adaptive s-norm deviations (monitor.matching.voice_scores: about 0 for another voice, 3-12 for
the same voice on clean speech); face scores are similarities ``1 - dlib distance`` (-1 where a photo
shows no face). Transforms (monitor.evaluation.transforms) degrade the trial files only: references,
and the population they are normalised against, stay clean, as a performer's enrolment would be.

Nothing is stored and no database is used. Each file is decoded once; its embeddings are computed once
per transform and reused for every identity.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from enrollment import face, voice
from enrollment.conditions import VOICE_CONDITIONS
from enrollment.errors import LikenessError
from enrollment.media import decode_audio, load_image
from monitor.config import Config
from monitor.evaluation.transforms import apply_image

if TYPE_CHECKING:
    from monitor.matching.voice_cohort import VoiceCohort

NO_FACE_SCORE = -1.0  # below any similarity a found face can have with a reference (≥ 1 - 2 = -1)
OnFile = Callable[[str], None]


@dataclass
class ModalityFiles:
    """One modality's files: ``identities`` name → files in sorted order; ``impostors`` (label, file) pairs."""

    identities: dict[str, list[Path]] = field(default_factory=dict)
    impostors: list[tuple[str, Path]] = field(default_factory=list)

    @property
    def n_files(self) -> int:
        return sum(map(len, self.identities.values())) + len(self.impostors)


@dataclass
class TransformScores:
    """One transform's trials: ``target`` and ``impostor`` scores (lists of floats, in the modality's units)."""

    target: list[float] = field(default_factory=list)
    impostor: list[float] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)  # {"file", "reason"}: trial files not scored here
    no_face_found: int = 0  # faces only: trial photos where no face was found (scored NO_FACE_SCORE)
    # each trial file's own identity column (None: an impostor file), best score against every identity, and
    # how many speaker turns it was decided on (voice; 1 for a photo)
    per_file: list[tuple[int | None, list[float], int]] = field(default_factory=list)


@dataclass
class ModalityTrials:
    """Every transform's trials of one modality.

    ``identities``: the identities with at least one usable reference (their order is the score columns');
    ``thresholds``: operating point name → score; ``skipped``: files left out under every transform
    (unreadable, or a reference with no speech or no face); ``scores``: transform → its trials;
    ``roster_thresholds``: (performers, a file's turns) → the thresholds a scan decides that file with
    (voice: raised for the roster, monitor.matching.voice_match); None: ``thresholds``; ``chance_center``: the
    score strangers' tails are fitted around (voice: voice.calibration_center; None: not fitted).
    """

    modality: str
    score_unit: str
    identities: list[str]
    thresholds: dict[str, float]
    skipped: list[dict]
    scores: dict[str, TransformScores]
    roster_thresholds: Callable[[int, int], dict[str, float]] | None = None
    chance_center: float | None = None


NO_SPEECH_SCORE = -100.0  # s-norm of a trial with no window to score: below any threshold (finite for the metrics)


def _skip(path: Path | str, reason: str) -> dict:
    return {"file": str(path), "reason": reason}


def _decoded(paths: list[Path], load: Callable[[Path], np.ndarray], on_file: OnFile,
             skipped: list[dict]) -> Iterator[tuple[Path, np.ndarray]]:
    """``(path, decoded)`` for each file that decodes; the others are listed in ``skipped`` with why."""
    for path in paths:
        on_file(str(path))
        try:
            yield path, load(path)
        except LikenessError as error:
            skipped.append(_skip(path, str(error)))


def _add_trial(scores: TransformScores, best: np.ndarray, own: int | None, turns: int = 1) -> None:
    """File the best score against each identity, ``best`` (P,), as one target (column ``own``) and impostors,
    and as one file's scores (decided on ``turns`` speaker turns)."""
    scores.per_file.append((own, best.tolist(), turns))
    for column, value in enumerate(best.tolist()):
        (scores.target if column == own else scores.impostor).append(float(value))


# ------------------------------------------------------------------------------------------------ voice


# a voice trial: (its identity's column in the scores, None for an impostor file; its label in the population,
# left out of its normalisation; transform name → its scoring windows (W, 256), W = 0 where too little speech)
VoiceTrial = tuple[int | None, str, dict[str, np.ndarray]]


@dataclass
class _CleanImpostors:
    """Impostor files with speech, embedded clean: members of the population that trials are normalised against."""

    embeddings: list[np.ndarray] = field(default_factory=list)  # each (K, 256): one row per listening condition
    labels: list[str] = field(default_factory=list)  # who each is (files in one impostor sub-folder share one)
    sha256: list[str] = field(default_factory=list)  # of each source file


def _voice_references(files: ModalityFiles, enrol: int, config: Config, on_file: OnFile,
                      skipped: list[dict]) -> tuple[dict[str, list[np.ndarray]], set[Path]]:
    """Identity → its references' embeddings, each (K, 256) (one row per listening condition), and the files
    they came from: the first ``enrol`` files of each identity that enrolment accepts (enough speech, no
    silence, clipping or second voice: enrollment.quality), as an agency would enrol its clearest clips.
    Files refused on the way are noted in ``skipped`` and stay trials; identities without a usable reference
    are absent."""
    from enrollment.quality import check_voice_reference

    references: dict[str, list[np.ndarray]] = {}
    used: set[Path] = set()
    for identity, paths in files.identities.items():
        for path in paths:
            if len(references.get(identity, ())) == enrol:
                break
            for _path, wav in _decoded([path], lambda p: decode_audio(p, config.media), on_file, skipped):
                checked = check_voice_reference(wav, config.voice)
                if checked.reason is not None:
                    skipped.append(_skip(path, f"not enrolled: {checked.reason}"))
                    continue
                embeddings = voice.embeddings_in_conditions(wav, checked.partials, config.voice)
                references.setdefault(identity, []).append(embeddings)
                used.add(path)
    return references, used


def _voice_trial_windows(trial_files: list[tuple[Path, str | None, str]], names: list[str], transforms: list[str],
                         config: Config, sha256_of: dict[Path, str], on_file: OnFile, skipped: list[dict],
                         per_transform: dict[str, TransformScores]) -> tuple[list[VoiceTrial], _CleanImpostors]:
    """Every trial file's windows under every transform, and the impostor files that join the population.

    ``trial_files``: (path, identity or None for an impostor file, population label), in order: a file's index
    seeds its transforms. Files that do not decode are added to ``skipped`` and are no trial; a transform that
    leaves no window is noted in its ``skipped``: still a trial, scored as a miss (a scan would find nothing).
    """
    from monitor.evaluation.trial_files import trial_files as worked_out

    trials: list[VoiceTrial] = []
    impostors = _CleanImpostors()
    answers = worked_out([(path, identity is None) for path, identity, _label in trial_files], transforms, config)
    for (path, identity, label), answer in zip(trial_files, answers, strict=True):
        on_file(str(path))
        if answer.error is not None:
            skipped.append(_skip(path, answer.error))
            continue
        for name in answer.no_speech:
            per_transform[name].skipped.append(_skip(path, "too little speech: scored as no match"))
        if answer.clean is not None:  # an impostor file is also a member of the population, embedded clean
            impostors.embeddings.append(answer.clean)
            impostors.labels.append(label)
            impostors.sha256.append(sha256_of[path])
        trials.append((names.index(identity) if identity is not None else None, label, answer.windows))
    return trials, impostors


def _voice_thresholds(config: Config) -> dict[str, float]:
    """Operating point ("same_voice", "soundalike") → its threshold in s-norm units (the calibration inverted)."""
    return _voice_roster_thresholds(config)(1, 0)


def _voice_roster_thresholds(config: Config) -> Callable[[int, int], dict[str, float]]:
    """(performers, a file's turns) → operating point → the s-norm a scan detects at (monitor.matching.voice_match);
    0 comparisons: the calibrated thresholds alone."""
    from monitor.analysis.analyse import voice_calibration, voice_chance
    from monitor.matching.voice_match import roster_thresholds

    def thresholds(performers: int, turns: int) -> dict[str, float]:
        chance = voice_chance(config) if performers * turns else None
        return roster_thresholds(voice_calibration(config), config.voice.same_voice_threshold, chance,
                                 performers * turns)

    return thresholds


def _voice_population_cohort(config: Config, known_sha256: set[str], impostors: _CleanImpostors) -> VoiceCohort:
    """The population trials are normalised against (embeddings (K, C, 256)): the shipped cohort
    (when configured) less any member whose file is among ``known_sha256``, then the clean impostor files."""
    from monitor.matching.voice_cohort import VoiceCohort, shipped_voice_cohort

    cohort = shipped_voice_cohort() if config.voice.shipped_cohort else VoiceCohort.empty()
    keep = ~np.isin(cohort.sha256, sorted(known_sha256))  # a file is never compared with itself
    cohort = VoiceCohort(cohort.embeddings[:, keep], cohort.labels[keep], cohort.sha256[keep])
    if impostors.embeddings:
        cohort = cohort + VoiceCohort(np.stack(impostors.embeddings, axis=1).astype(np.float32),
                                      np.array(impostors.labels), np.array(impostors.sha256))
    return cohort


def _voiceprints(references: dict[str, list[np.ndarray]], names: list[str]) -> np.ndarray:
    """Each identity's voiceprint per listening condition, (K, P, 256): the normalised mean of its references'."""
    return np.stack([np.stack([voice.mean_embedding(np.stack(references[name])[:, k])
                               for k in range(len(VOICE_CONDITIONS))]) for name in names], axis=1)


def _score_voice_trials(trials: list[VoiceTrial], prints: np.ndarray, cohort: VoiceCohort, config: Config,
                        per_transform: dict[str, TransformScores]) -> None:
    """File each trial's best s-norm against each of the P identities of ``prints`` (K, P, 256) in
    ``per_transform``; a transform that left a trial no window scores NO_SPEECH_SCORE against everyone.

    A trial is normalised against ``cohort`` less its own label's members; each population is
    built once (per label with members in the cohort, and once for every other label).
    """
    from monitor.matching.voice_match import turn_scores
    from monitor.matching.voice_scores import build_population

    populations: dict[str, object] = {}

    def population(label: str):  # -> VoicePopulation, leaving out the trial's own identity
        key = label if label in cohort.labels else ""
        if key not in populations:
            populations[key] = build_population(prints, cohort.embeddings, config.voice.cohort_top_n,
                                                cohort_mask=cohort.labels != label if key else None)
        return populations[key]

    for own, label, windows in trials:
        for name, found in windows.items():
            if not len(found):
                _add_trial(per_transform[name], np.full(prints.shape[1], NO_SPEECH_SCORE, np.float32), own)
                continue
            turns, scored = turn_scores(found, population(label))
            _add_trial(per_transform[name], scored.score.max(axis=0), own, len(turns))


def voice_trials(files: ModalityFiles, transforms: list[str], enrol: int, config: Config,
                 known_sha256: set[str], sha256_of: dict[Path, str], on_file: OnFile) -> ModalityTrials:
    """Score every voice trial file against every identity's voiceprint, once per transform.

    The first ``enrol`` files of each identity that enrolment accepts make its voiceprint (K, 256) per
    condition. The population is the shipped cohort (less any member whose file is among ``known_sha256``: a
    file is never compared with itself) plus every impostor file, clean; a trial leaves out the members of its
    own identity.
    A trial's score against an identity is its best speaker turn's s-norm (units: population deviations), as a
    scan decides (monitor.matching.voice_match).
    """
    skipped: list[dict] = []
    references, reference_files = _voice_references(files, enrol, config, on_file, skipped)
    names = [name for name in files.identities if name in references]
    skipped += [_skip(f"{name}/", "no usable reference recording: identity left out")
                for name in files.identities if name not in references]

    per_transform = {name: TransformScores() for name in transforms}
    trial_files = [(path, identity, identity) for identity in names for path in files.identities[identity]
                   if path not in reference_files]
    trial_files += [(path, None, label) for label, path in files.impostors]
    trials, impostors = _voice_trial_windows(trial_files, names, transforms, config, sha256_of, on_file, skipped,
                                             per_transform)
    result = ModalityTrials("voice", "s-norm", names, _voice_thresholds(config), skipped, per_transform,
                            _voice_roster_thresholds(config), config.voice.calibration_center)
    if names:
        cohort = _voice_population_cohort(config, known_sha256, impostors)
        _score_voice_trials(trials, _voiceprints(references, names), cohort, config, per_transform)
    return result


# ------------------------------------------------------------------------------------------------- face


def face_trials(files: ModalityFiles, transforms: list[str], enrol: int, config: Config,
                on_file: OnFile) -> ModalityTrials:
    """Score every trial photo against every identity's reference faces, once per transform.

    A reference is the largest face of each of the first ``enrol`` photos. A trial photo's score against an
    identity is the best similarity (1 - dlib distance, -1..1) over every face found in it and every
    reference of the identity; a photo with no face scores ``NO_FACE_SCORE`` against everyone.
    """
    from monitor.analysis.analyse import face_calibration

    skipped: list[dict] = []
    encodings: list[np.ndarray] = []
    owners: list[str] = []
    for identity, paths in files.identities.items():
        for path, rgb in _decoded(paths[:enrol], lambda p: load_image(p, config.media), on_file, skipped):
            boxes = face.detect_faces(rgb, config.face.upsample, config.face.detector)
            if not boxes:
                skipped.append(_skip(path, "no face found (reference)"))
                continue
            encodings.append(face.encode_faces(rgb, boxes[:1])[0])
            owners.append(identity)
    names = [name for name in files.identities if name in owners]
    skipped += [_skip(f"{name}/", "no usable reference photo: identity left out")
                for name in files.identities if name not in owners]
    thresholds = {"default": face_calibration(config).similarity_threshold}
    per_transform = {name: TransformScores() for name in transforms}
    if not names:
        return ModalityTrials("face", "similarity", names, thresholds, skipped, per_transform)

    reference_matrix = np.stack(encodings)  # (R, 128)
    owner_column = np.array([names.index(owner) for owner in owners])  # (R,)
    trial_files = [(path, identity) for identity in names for path in files.identities[identity][enrol:]]
    trial_files += [(path, None) for _label, path in files.impostors]
    for seed, (path, identity) in enumerate(trial_files):
        on_file(str(path))
        try:
            rgb = load_image(path, config.media)
        except LikenessError as error:
            skipped.append(_skip(path, str(error)))
            continue
        own = names.index(identity) if identity is not None else None
        for name in transforms:
            scores = per_transform[name]
            degraded = apply_image(name, rgb, seed=seed)
            found = face.encode_faces(degraded, face.detect_faces_adaptive(degraded, config.face.upsample,
                                                                           detector=config.face.detector))
            best = np.full(len(names), NO_FACE_SCORE, np.float32)
            if len(found):
                per_reference = face.face_similarity(found, reference_matrix).max(axis=0)  # (R,)
                np.maximum.at(best, owner_column, per_reference)
            else:
                scores.no_face_found += 1
            _add_trial(scores, best, own)
    return ModalityTrials("face", "similarity", names, thresholds, skipped, per_transform)
