"""What an alert tells: the findings (one per detection) and the message made of them for one recipient.

Shared by the outbox (which gathers findings from the database), the renderer (which turns them
into text, HTML and pictures) and the channels (which deliver a message by e-mail or webhook).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Finding:
    """One detection to tell a recipient about.

    ``score``: calibrated, 0 to 1 (0.5 at the modality's calibration center). ``similarity``: cosine
    similarity of voice embeddings, or 1 − dlib distance for faces. ``threshold``: the alert threshold
    (a score) that ``score`` reached. ``population_rank``: the share (0 to 1) of the comparison
    population (other people's voices or faces) that is *less* similar to the found media than this
    performer, of ``population_size`` people; None while no population is available.
    ``segments``: ``[{"start_s", "end_s", "score"}, …]`` in seconds of the media (faces in a still
    image: 0, 0). ``curve``: voice only, ``[(time_s, score), …]`` one point per scoring window.
    ``found_face_jpeg`` / ``reference_face_jpeg``: face only, small crops (JPEG bytes) when available.
    ``tier``: "same_voice" | "soundalike" for voice once populations exist; None otherwise.
    ``content_credentials``: what the media's C2PA manifest declares (monitor.analysis.credentials), or None.
    ``chance_text``: voice only, how often a stranger's file reaches this score against the roster, in words
    (monitor.matching.voice_chance); None for detections made before it was measured. ``reupload_of``: the
    confirmed detection this media re-uploads (staydown), or None.
    """

    detection_id: int
    performer_id: int
    performer_name: str
    modality: str  # "voice" | "face"
    score: float
    similarity: float
    threshold: float
    segments: list[dict]
    found_url: str  # the media's URL, or its path for a local file
    found_at: datetime  # UTC, when the media was first seen
    media_sha256: str
    media_type: str | None = None  # "audio" | "video" | "image"
    duration_s: float | None = None
    page_url: str | None = None
    page_title: str | None = None
    source_name: str | None = None
    tier: str | None = None
    population_rank: float | None = None
    population_size: int | None = None
    curve: list[tuple[float, float]] | None = None
    content_credentials: dict | None = None
    chance_text: str | None = None
    reupload_of: int | None = None
    found_face_jpeg: bytes | None = field(default=None, repr=False)
    reference_face_jpeg: bytes | None = field(default=None, repr=False)

    def as_json(self) -> dict:
        """JSON-safe, without the pictures."""
        data = asdict(self)
        for name in ("found_face_jpeg", "reference_face_jpeg", "curve"):
            data.pop(name)
        data["found_at"] = self.found_at.isoformat(timespec="seconds")
        return data


@dataclass(frozen=True)
class InlineImage:
    """A picture shown inside the HTML body, referenced there as ``cid:{cid}``."""

    cid: str
    data: bytes
    subtype: str  # "png" | "jpeg"
    description: str


@dataclass(frozen=True)
class Message:
    """One message to one recipient: a single finding, or a digest of several."""

    subject: str
    text: str
    html: str
    findings: list[Finding]
    images: list[InlineImage] = field(default_factory=list)

    def as_json(self) -> dict:
        """What a JSON webhook receives."""
        return {"subject": self.subject, "text": self.text, "findings": [f.as_json() for f in self.findings]}
