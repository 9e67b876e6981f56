"""Staydown: the fingerprints kept of each confirmed clone, to know its re-uploads.

When a detection is confirmed, its media's perceptual fingerprint (:mod:`monitor.enforcement.fingerprints`:
Chromaprint for sound, a perceptual hash for a picture) is kept for its agency and performer. A later detection
of the same performer in media with the same fingerprint, at any URL, re-encoded or trimmed, is linked to the
confirmed one (``detections.reupload_of_id``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from enrollment.models import Base, UTCDateTime, utc_now


class StaydownPrint(Base):
    __tablename__ = "staydown_prints"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"), index=True)
    performer_id: Mapped[int] = mapped_column(ForeignKey("performers.id", ondelete="CASCADE"), index=True)
    detection_id: Mapped[int] = mapped_column(ForeignKey("detections.id", ondelete="CASCADE"), unique=True)
    # audio: [uint32, …]; image: "hex of 64 bits"; video: {"audio": [uint32, …] or null, "frames": ["hex", …] or null}
    kind: Mapped[str] = mapped_column(String(10))
    print_data: Mapped[list | str] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
