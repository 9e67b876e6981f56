"""One media file → voice and face matches against the gallery. Nothing is stored here.

Found media is embedded with exactly the enrollment code that embedded the references.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from enrollment import face, voice
from enrollment.conditions import CONDITIONS_VERSION
from enrollment.media import SAMPLE_RATE_HZ, decode_audio, iter_video_frames, load_image, probe
from monitor.config import Config
from monitor.face_population import add_face_populations
from monitor.face_track_matching import match_face_tracks
from monitor.face_tracks import link_tracks
from monitor.matching import Calibration, Gallery, Match, match_faces, match_voice

SCAN_VOICE_SETTINGS = ("vad_aggressiveness", "partial_stride_s", "window_partials", "calibration_center",
                       "calibration_slope", "threshold", "same_voice_threshold", "cohort_top_n")
SCAN_FACE_SETTINGS = ("upsample", "calibration_center", "calibration_slope", "threshold")


@dataclass
class Analysis:
    media_type: str
    duration_s: float | None
    matches: list[Match] = field(default_factory=list)
    closest: list[dict] = field(default_factory=list)
    speech_s: float | None = None
    faces_seen: int | None = None


def voice_calibration(config: Config) -> Calibration:
    return Calibration(config.voice.calibration_center, config.voice.calibration_slope, config.voice.threshold)


def face_calibration(config: Config) -> Calibration:
    return Calibration(config.face.calibration_center, config.face.calibration_slope, config.face.threshold)


def analysis_key(config: Config, gallery: Gallery) -> str:
    """Identifies an analysis: the references compared, the models and every setting that matters.

    A media analysed under the same key is not analysed again.
    """
    def used(settings, names: tuple[str, ...]) -> dict:
        return {name: getattr(settings, name) for name in names}

    # only what a scan uses: changing an enrolment gate or a size limit does not redo every analysis
    described = {
        "references": gallery.reference_digest,
        "voice_population": [gallery.cohort_digest, CONDITIONS_VERSION],
        "face_population": gallery.face_cohort_digest,
        # how matches are decided
        "method": {"voice": "s-norm windows, lenient VAD retry", "face": ["tracks", "population rank"]},
        "voice": [used(config.voice, SCAN_VOICE_SETTINGS),
                  voice.voice_model_version() if len(gallery.voice_ids) else None],
        "face": [used(config.face, SCAN_FACE_SETTINGS), face.face_model_version() if len(gallery.face_ids) else None],
        "media": used(config.media, ("max_duration_s", "max_image_pixels", "max_frame_side_px", "frame_every_s")),
        "scan": config.scan.__dict__,
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode()).hexdigest()


def analyse(path: Path, config: Config, gallery: Gallery) -> Analysis:
    """Decode, embed and match one file. Raises MediaError (one line) when it cannot be read."""
    info = probe(path, config.media)
    result = Analysis(info.media_type, info.duration_s)
    if info.media_type == "image":
        _analyse_image(path, config, gallery, result)
    else:
        if info.has_audio:
            _analyse_voice(path, config, gallery, result)
        if info.media_type == "video":
            _analyse_video_faces(path, config, gallery, result)
    add_face_populations(result.matches, gallery)
    result.matches.sort(key=lambda match: -match.score)
    return result


def _analyse_voice(path: Path, config: Config, gallery: Gallery, result: Analysis) -> None:
    wav = decode_audio(path, config.media)
    # what was decoded, not what the header claims: a truncated file is as long as what is left of it
    result.duration_s = wav.size / SAMPLE_RATE_HZ
    if len(gallery.voice_ids) == 0:
        return
    speech = voice.find_speech(wav, config.voice)
    result.speech_s = round(speech.speech_s, 2)
    windows = voice.window_embeddings(voice.embed_partials(speech, config.voice), config.voice.window_partials)
    decided = match_voice(windows.embeddings, windows.start_s, windows.end_s, gallery, voice_calibration(config),
                          config.scan.merge_gap_s, config.scan.closest_per_modality,
                          config.voice.same_voice_threshold)
    result.matches += decided.matches
    result.closest += decided.closest


def _faces_in(rgb: np.ndarray, config: Config, retry_upsampled: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Every face of one picture: descriptors (N, 128) and boxes (N, 4: top, right, bottom, left) in its pixels.

    ``retry_upsampled``: a small picture with no face is searched again, doubled once more
    (face.detect_faces_adaptive).
    """
    if retry_upsampled:
        boxes = face.detect_faces_adaptive(rgb, config.face.upsample)
    else:
        boxes = face.detect_faces(rgb, config.face.upsample)
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


def _analyse_video_faces(path: Path, config: Config, gallery: Gallery, result: Analysis) -> None:
    if len(gallery.face_ids) == 0:
        return
    encodings, boxes, times = [], [], []
    last_time_s = 0.0
    for time_s, rgb in iter_video_frames(path, config.media):
        # no upsampled retry here: it would double the cost of every frame without a face (most of
        # them, in much of what is crawled), and a face missed in one frame is often found in the next
        found, found_boxes = _faces_in(rgb, config)
        encodings.append(found)
        boxes.append(found_boxes)
        times.append(np.full(len(found), time_s))
        last_time_s = time_s
    result.duration_s = max(result.duration_s or 0.0, last_time_s)
    if encodings:
        _add_face_track_matches(np.concatenate(encodings), np.concatenate(times), np.concatenate(boxes), config,
                                gallery, result)


def _add_face_track_matches(encodings: np.ndarray, time_s: np.ndarray, boxes: np.ndarray, config: Config,
                            gallery: Gallery, result: Analysis) -> None:
    """Faces of sampled frames (N, 128), their times (N,) s and boxes (N, 4) → tracks → matches.

    A performer's detection's segments are the spans of its matching tracks (monitor.face_track_matching).
    """
    result.faces_seen = len(encodings)
    # frames are frame_every_s apart: a face in consecutive sampled frames is one track, and one that
    # goes missing for up to merge_gap_s (a turned head, a frame the detector missed) is still the same
    gap_s = config.scan.merge_gap_s + config.media.frame_every_s
    tracks = link_tracks(time_s, boxes, encodings, gap_s)
    decided = match_face_tracks(tracks, gallery, face_calibration(config), gap_s, config.scan.closest_per_modality)
    result.matches += decided.matches
    result.closest += decided.closest
