"""``likeness eval DIR``: detection quality measured on an agency's own recordings and photos.

DIR holds one folder per identity; ``DIR/_impostors`` (or ``--impostors DIR2``) holds people who are
none of them: each file is its own person, unless it sits in a sub-folder (one per person). Other folders
whose name starts with ``_`` or ``.`` are ignored. Files are told apart by content (enrollment.media.probe):
images are faces, audio and video are voices.

Per identity and modality, the first ``enrol`` files in sorted order are its references (voices: the first
that enrolment accepts, enough speech and one voice; the refused stay trials) and the rest are
its target trials; they are also impostor trials against every other identity, as is every impostor file
against every identity. The result, per modality and transform, is monitor.evaluation.metrics's summary
(EER, recall at 1 % false alarms, rates at the configured operating points), plus a DET plot per modality.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from enrollment.errors import LikenessError
from enrollment.media import probe, sha256_file
from monitor.config import Config
from monitor.evaluation import metrics
from monitor.evaluation.transforms import AUDIO_TRANSFORMS, IMAGE_TRANSFORMS
from monitor.evaluation.trials import ModalityFiles, ModalityTrials

IMPOSTORS_FOLDER = "_impostors"
DEFAULT_ENROL = {"voice": 3, "face": 1}  # references per identity: 3 clips make a steady voiceprint
MAX_LISTED_SKIPPED = 20  # per result: a folder of broken files must not bury the figures
PLOT_NAMES = {"voice": "det_voice.png", "face": "det_face.png"}
MODALITY_OF = {"audio": "voice", "video": "voice", "image": "face"}


class EvalInputError(LikenessError):
    """DIR, the impostors folder or a transform name is unusable: a usage error (the CLI exits 2)."""


@dataclass
class Layout:
    """What DIR holds: identity name → its files (sorted), and (label, file) pairs of impostor files."""

    directory: Path
    impostors_dir: Path | None
    identities: dict[str, list[Path]]
    impostors: list[tuple[str, Path]]


@dataclass
class EvalReport:
    """``results``: one dict per modality × transform; ``skipped``: files no modality could read."""

    directory: Path
    impostors_dir: Path | None
    results: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"dir": str(self.directory), "impostors": str(self.impostors_dir) if self.impostors_dir else None,
                "results": self.results, "skipped": self.skipped}


def resolve_transforms(names: tuple[str, ...] | list[str]) -> list[str]:
    """The transforms to run, in order, without repeats: ``("clean",)`` for none, every known one for ``all``.

    EvalInputError names a transform that neither the audio nor the image table knows.
    """
    known = list(dict.fromkeys([*AUDIO_TRANSFORMS, *IMAGE_TRANSFORMS]))
    chosen: list[str] = []
    for name in names or ("clean",):
        if name == "all":
            chosen += known
        elif name in known:
            chosen.append(name)
        else:
            raise EvalInputError(f"unknown transform {name!r}; known: all, {', '.join(known)}")
    return list(dict.fromkeys(chosen))


def _visible_files(folder: Path) -> list[Path]:
    """Every file under ``folder``, hidden ones (any part starting with ``.``) left out, sorted by path."""
    return sorted(path for path in folder.rglob("*")
                  if path.is_file() and not any(part.startswith(".") for part in path.relative_to(folder).parts))


def discover(directory: Path, impostors_dir: Path | None = None) -> Layout:
    """Read DIR's layout (no file is opened). EvalInputError when DIR is missing or holds no files."""
    directory = Path(directory)
    for folder, what in ((directory, ""), (impostors_dir, " (--impostors)")):
        if folder is not None and not Path(folder).is_dir():
            reason = "not a folder" if Path(folder).exists() else "no such folder"
            raise EvalInputError(f"{folder}: {reason}{what}")
    folders = sorted(path for path in directory.iterdir() if path.is_dir() and path.name[0] not in "_.")
    identities = {folder.name: files for folder in folders if (files := _visible_files(folder))}
    if not identities:
        raise EvalInputError(f"{directory}: no identity folder with files in it (one folder per person)")
    impostors_dir = Path(impostors_dir) if impostors_dir is not None else directory / IMPOSTORS_FOLDER
    impostors: list[tuple[str, Path]] = []
    if impostors_dir.is_dir():
        for path in _visible_files(impostors_dir):
            parts = path.relative_to(impostors_dir).parts
            impostors.append((parts[0] if len(parts) > 1 else path.stem, path))  # a sub-folder is one person
    else:
        impostors_dir = None
    return Layout(directory, impostors_dir, identities, impostors)


def _split_by_modality(layout: Layout, config: Config, on_file: Callable[[str], None]
                       ) -> tuple[dict[str, ModalityFiles], list[dict], dict[Path, str]]:
    """Probe every file: voice and face files, the unreadable ones (``{"file", "reason"}``), and all sha256."""
    by_modality = {"voice": ModalityFiles(), "face": ModalityFiles()}
    skipped: list[dict] = []
    sha256_of: dict[Path, str] = {}

    def modality_of(path: Path) -> str | None:
        on_file(f"reading {path}")
        try:
            sha256_of[path] = sha256_file(path)
            return MODALITY_OF[probe(path, config.media).media_type]
        except (LikenessError, OSError) as error:
            skipped.append({"file": str(path), "reason": str(error)})
            return None

    for identity, paths in layout.identities.items():
        for path in paths:
            if modality := modality_of(path):
                by_modality[modality].identities.setdefault(identity, []).append(path)
    for label, path in layout.impostors:
        if modality := modality_of(path):
            by_modality[modality].impostors.append((label, path))
    return by_modality, skipped, sha256_of


def evaluate(layout: Layout, transforms: list[str], config: Config, enrol: int | None = None,
             plot_dir: Path = Path("."), on_file: Callable[[str], None] = lambda _label: None,
             roster: int = 0) -> EvalReport:
    """Measure every modality DIR has files of, under each transform it knows; write its DET plot.

    ``enrol``: references per identity (default 3 voice clips, 1 photo). ``transforms`` from
    :func:`resolve_transforms`; a name a modality's table does not know is left out for that modality.
    ``on_file`` is told of each file as it is read (progress). ``roster``: people of the impostors enrolled
    as extra performers (monitor.evaluation.roster), for false alarms per file at that roster size.
    """
    from monitor.evaluation.roster import enrol_roster
    from monitor.evaluation.trials import face_trials, voice_trials

    by_modality, skipped, sha256_of = _split_by_modality(layout, config, on_file)
    report = EvalReport(layout.directory, layout.impostors_dir, skipped=skipped)
    for modality, files in by_modality.items():
        table = AUDIO_TRANSFORMS if modality == "voice" else IMAGE_TRANSFORMS
        names = [name for name in transforms if name in table]
        if not files.identities or not names:  # nothing of this kind in DIR, or nothing asked of it
            continue
        references = enrol or DEFAULT_ENROL[modality]
        files, extra = enrol_roster(files, roster)
        if modality == "voice":
            trials = voice_trials(files, names, references, config, set(sha256_of.values()), sha256_of, on_file)
        else:
            trials = face_trials(files, names, references, config, on_file)
        n_extra = len([name for name in extra if name in trials.identities])
        report.results += _summarise(trials, Path(plot_dir) / PLOT_NAMES[modality], layout.directory.name, n_extra)
    return report


def _summarise(trials: ModalityTrials, plot_path: Path, dataset: str, n_extra: int = 0) -> list[dict]:
    """One result dict per transform, and the DET plot of those that have both kinds of trial."""
    from monitor.evaluation.roster import per_file_summary
    results, curves, operating_points = [], {}, {}
    for transform, scores in trials.scores.items():
        skipped = trials.skipped + scores.skipped
        row = {"modality": trials.modality, "transform": transform, "identities": len(trials.identities),
               "score_unit": trials.score_unit, "thresholds": {k: round(v, 5) for k, v in trials.thresholds.items()}}
        if trials.modality == "face":
            row["no_face_found"] = scores.no_face_found
        if not scores.target or not scores.impostor:
            row["error"] = "no target trials" if not scores.target else "no impostor trials"
            row["n_target"], row["n_impostor"] = len(scores.target), len(scores.impostor)
        else:
            summary = metrics.summarise(scores.target, scores.impostor, trials.thresholds)
            row.update(summary.as_json())
            _thresholds, false_alarm, miss = metrics.det_curve(scores.target, scores.impostor)
            curves[transform] = (false_alarm, miss)
            if transform == "clean" or (not operating_points and transform == next(iter(trials.scores))):
                operating_points = {f"{name} ({transform})": (rates.false_alarm_rate, rates.miss_rate)
                                    for name, rates in summary.at_thresholds.items()}
        row["per_file"] = per_file_summary(scores.per_file, len(trials.identities), n_extra, trials.thresholds,
                                           trials.roster_thresholds, trials.chance_center)
        row["files_skipped"] = len(skipped)
        row["skipped"] = skipped[:MAX_LISTED_SKIPPED]
        row["det_plot"] = None
        results.append(row)
    if curves:
        from monitor.evaluation.det_plot import save_det_plot

        save_det_plot(curves, plot_path, f"{trials.modality.capitalize()}: {dataset} "
                      f"({len(trials.identities)} identities)", operating_points)
        for row in results:
            if row["transform"] in curves:
                row["det_plot"] = str(plot_path)
    return results
