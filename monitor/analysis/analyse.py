"""One media file → voice and face matches against the gallery. Nothing is stored here.

Found media is embedded with exactly the enrollment code that embedded the references.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from enrollment import face, voice, voice_stream
from enrollment.conditions import CONDITIONS_VERSION
from enrollment.errors import LikenessError
from enrollment.media import SAMPLE_RATE_HZ, iter_audio_chunks, load_image, probe
from monitor.analysis.credentials import credentials_version, read_credentials
from monitor.config import Config
from monitor.matching.face_population import add_face_populations
from monitor.matching.gallery import Calibration, Gallery, Match, match_faces
from monitor.matching.voice_chance import ChanceModel
from monitor.matching.voice_match import match_voice
from monitor.video.faces import METHOD as VIDEO_FACES_METHOD
from monitor.video.faces import analyse_video_faces

SCAN_VOICE_SETTINGS = ("vad_aggressiveness", "partial_stride_s", "window_partials", "calibration_center",
                       "calibration_slope", "threshold", "same_voice_threshold", "cohort_top_n", "chance_at_center",
                       "chance_tenfold_snorm", "max_false_alarms_per_file")
SCAN_FACE_SETTINGS = ("detector", "upsample", "calibration_center", "calibration_slope", "threshold")
# A worker's time for one media: at real time (video with faces runs several times faster than that on one
# core, speech ~150 times), plus the models' loading; never past ``workers.item_timeout_s``.
TIME_LIMIT_FIXED_S, TIME_LIMIT_PER_MEDIA_S = 300.0, 1.0


@dataclass
class Analysis:
    media_type: str
    duration_s: float | None
    matches: list[Match] = field(default_factory=list)
    closest: list[dict] = field(default_factory=list)
    speech_s: float | None = None
    faces_seen: int | None = None
    content_credentials: dict | None = None  # monitor.analysis.credentials.read_credentials


def voice_calibration(config: Config) -> Calibration:
    return Calibration(config.voice.calibration_center, config.voice.calibration_slope, config.voice.threshold)


def voice_chance(config: Config) -> ChanceModel:
    """How likely a stranger's file reaches a voice score against the roster (monitor.matching.voice_chance)."""
    return ChanceModel(config.voice.calibration_center, config.voice.chance_at_center,
                       config.voice.chance_tenfold_snorm, config.voice.max_false_alarms_per_file)


def face_calibration(config: Config) -> Calibration:
    return Calibration(config.face.calibration_center, config.face.calibration_slope, config.face.threshold)


def model_versions(gallery: Gallery) -> dict[str, str | None]:
    """``{"voice", "face"}``: the version of each model the gallery's references need (None: no such reference).
    Loads the model's library (torch for the voice)."""
    return {"voice": voice.voice_model_version() if len(gallery.voice_ids) else None,
            "face": face.face_model_version() if len(gallery.face_ids) else None}


def models_differing(wanted: dict[str, str | None]) -> str | None:
    """How this process's models differ from the ``wanted`` versions (``{"voice", "face"}``, None: not needed),
    one line; None where they are the same."""
    here = {"voice": voice.voice_model_version, "face": face.face_model_version}
    differing = [f"{modality} model {here[modality]()} here, {version} asked for"
                 for modality, version in wanted.items()
                 if version and modality in here and here[modality]() != version]
    return "; ".join(differing) or None


def time_limit_s(path: Path, config: Config) -> float | None:
    """Seconds a worker may take to analyse the file at ``path``, sized to its duration (read from its headers;
    a still image counts as none); None: no limit (``workers.item_timeout_s`` 0 or less). A file that cannot be
    read gets the largest limit: its worker finds the reason."""
    largest_s = config.workers.item_timeout_s
    if largest_s <= 0:
        return None
    try:
        duration_s = probe(path, config.media).duration_s or 0.0
    except LikenessError:  # the analysis itself reports what is wrong with the file
        return largest_s
    return min(largest_s, TIME_LIMIT_FIXED_S + TIME_LIMIT_PER_MEDIA_S * duration_s)


def analysis_key(config: Config, gallery: Gallery) -> str:
    """Identifies an analysis: the references compared, the models and every setting that matters.

    A media analysed under the same key is not analysed again.
    """
    def used(settings, names: tuple[str, ...]) -> dict:
        return {name: getattr(settings, name) for name in names}

    models = model_versions(gallery)
    # only what a scan uses: changing an enrolment gate or a size limit does not redo every analysis
    described = {
        "references": gallery.reference_digest,
        "voice_population": [gallery.cohort_digest, CONDITIONS_VERSION],
        "face_population": gallery.face_cohort_digest,
        # how matches are decided
        "method": {"voice": "s-norm speaker turns, lenient VAD retry, streamed in blocks",
                   "face": ["tracks", "population rank", VIDEO_FACES_METHOD]},
        "voice": [used(config.voice, SCAN_VOICE_SETTINGS), models["voice"]],
        "face": [used(config.face, SCAN_FACE_SETTINGS), models["face"]],
        "media": used(config.media, ("max_duration_s", "max_image_pixels", "max_image_side_px", "max_frame_side_px",
                                     "frame_every_s")),
        "scan": config.scan.__dict__,
        "credentials": credentials_version(config.credentials),
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode()).hexdigest()


def analyse(path: Path, config: Config, gallery: Gallery) -> Analysis:
    """Decode, embed and match one file, and read its Content Credentials. Raises MediaError (one line) when
    it cannot be read."""
    info = probe(path, config.media)
    result = Analysis(info.media_type, info.duration_s)
    if info.media_type == "image":
        _analyse_image(path, config, gallery, result)
    else:
        if info.has_audio:
            _analyse_voice(path, config, gallery, result)
        if info.media_type == "video":
            _add_video_faces(path, config, gallery, result)
    add_face_populations(result.matches, gallery)
    result.matches.sort(key=lambda match: -match.score)
    result.content_credentials = read_credentials(path, config.credentials)
    return result


def _analyse_voice(path: Path, config: Config, gallery: Gallery, result: Analysis) -> None:
    # decoded a few minutes at a time: a 3-hour podcast is 690 MB of samples, its partials 14 MB
    chunks = iter_audio_chunks(path, config.media)
    # duration: what was decoded, not what the header claims (a truncated file is as long as what is left)
    if len(gallery.voice_ids) == 0:
        result.duration_s = sum(chunk.size for chunk in chunks) / SAMPLE_RATE_HZ
        return
    streamed = voice_stream.stream_partials(chunks, config.voice)
    result.duration_s, result.speech_s = streamed.duration_s, round(streamed.speech_s, 2)
    windows = voice.window_embeddings(streamed.partials, config.voice.window_partials)
    decided = match_voice(windows.embeddings, windows.start_s, windows.end_s, gallery, voice_calibration(config),
                          config.scan.merge_gap_s, config.scan.closest_per_modality,
                          config.voice.same_voice_threshold, voice_chance(config))
    result.matches += decided.matches
    result.closest += decided.closest


def _add_video_faces(path: Path, config: Config, gallery: Gallery, result: Analysis) -> None:
    found = analyse_video_faces(path, config, gallery, face_calibration(config))
    if found is None:
        return
    result.duration_s = max(result.duration_s or 0.0, found.last_frame_s)
    if found.faces_seen is not None:
        result.faces_seen = found.faces_seen
    result.matches += found.matches
    result.closest += found.closest


def _faces_in(rgb: np.ndarray, config: Config, retry_upsampled: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Every face of one picture: descriptors (N, 128) and boxes (N, 4: top, right, bottom, left) in its pixels.

    ``retry_upsampled``: a small picture with no face is searched again, doubled once more
    (face.detect_faces_adaptive).
    """
    if retry_upsampled:
        boxes = face.detect_faces_adaptive(rgb, config.face.upsample, detector=config.face.detector)
    else:
        boxes = face.detect_faces(rgb, config.face.upsample, config.face.detector)
    return face.encode_faces(rgb, boxes), np.array([box.as_list() for box in boxes], dtype=np.int64).reshape(-1, 4)


def _analyse_image(path: Path, config: Config, gallery: Gallery, result: Analysis) -> None:
    if len(gallery.face_ids) == 0:
        return
    encodings, boxes = _faces_in(load_image(path, config.media), config, retry_upsampled=True)
    result.faces_seen = len(encodings)
    # a photo has no time to follow a face through: each face is compared on its own, at {0, 0, score}
    decided = match_faces(encodings, np.zeros(len(encodings)), gallery, face_calibration(config), 0.0,
                          config.scan.closest_per_modality, boxes)
    result.matches += decided.matches
    result.closest += decided.closest
