"""Typed settings used by enrollment code.

The values live in ``config/default.toml`` (one place, each one commented); ``monitor.config``
builds these objects from it. Field names carry their units.
"""

from dataclasses import dataclass

# face.detector's choices (enrollment.face): YuNet, or dlib's HOG detector (the project's first, kept as a fallback)
FACE_DETECTORS = ("yunet", "hog")


@dataclass(frozen=True)
class MediaLimits:
    max_file_bytes: int
    max_duration_s: float
    max_image_pixels: int
    max_image_side_px: int
    max_frame_side_px: int
    frame_every_s: float


@dataclass(frozen=True)
class VoiceSettings:
    vad_aggressiveness: int
    min_speech_s: float
    min_rms_dbfs: float
    max_clipped_fraction: float
    max_noise_flatness: float
    min_speech_flatness: float
    partial_stride_s: float
    window_partials: int
    multi_speaker_max_similarity: float
    calibration_center: float
    calibration_slope: float
    threshold: float
    same_voice_threshold: float
    chance_at_center: float
    chance_tenfold_snorm: float
    max_false_alarms_per_file: float
    cohort_dir: str
    shipped_cohort: bool
    cohort_top_n: int


@dataclass(frozen=True)
class FaceSettings:
    detector: str  # one of FACE_DETECTORS
    min_face_px: int
    upsample: int
    calibration_center: float
    calibration_slope: float
    threshold: float
    cohort_dir: str
