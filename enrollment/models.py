"""The performer registry: agencies, performers, their consent and their voice and face references.

SQLAlchemy 2 typed ORM. Embeddings are stored as raw little-endian float32 bytes (``to_blob`` /
``from_blob``), which SQLite and PostgreSQL both keep exactly. Deleting a performer deletes every
row that describes their likeness (``ondelete="CASCADE"`` and ORM cascades alike).
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utc_now() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def to_blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_blob(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f4")


class Base(DeclarativeBase):
    pass


class Agency(Base):
    """A tenant: a talent agency, with its performers and (in ``monitor``) everything found for them.

    Nothing of one agency is ever shown to another; an install used by one agency has exactly one."""

    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    # how the platforms it writes to (takedown notices) reach it
    contact_address: Mapped[str | None] = mapped_column(String(1000))
    contact_phone: Mapped[str | None] = mapped_column(String(50))
    contact_email: Mapped[str | None] = mapped_column(String(320))


class Performer(Base):
    __tablename__ = "performers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    agency: Mapped[Agency] = relationship()
    contacts: Mapped[list[Contact]] = relationship(cascade="all, delete-orphan", passive_deletes=True)
    consents: Mapped[list[Consent]] = relationship(cascade="all, delete-orphan", passive_deletes=True)
    voice_references: Mapped[list[VoiceReference]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )
    face_references: Mapped[list[FaceReference]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )
    voiceprint: Mapped[Voiceprint | None] = relationship(cascade="all, delete-orphan", passive_deletes=True)


class Contact(Base):
    """Who is told about this performer's detections: the artist, the agent."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("performer_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    performer_id: Mapped[int] = mapped_column(ForeignKey("performers.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320))


class Consent(Base):
    """A performer's consent to have their likeness described and monitored."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    performer_id: Mapped[int] = mapped_column(ForeignKey("performers.id", ondelete="CASCADE"), index=True)
    consented_by: Mapped[str] = mapped_column(String(200))
    scope: Mapped[str] = mapped_column(String(200), default="voice and face monitoring")
    consented_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    document_name: Mapped[str | None] = mapped_column(String(500))
    document_sha256: Mapped[str | None] = mapped_column(String(64))


class VoiceReference(Base):
    """One accepted reference recording: its embedding and quality figures, not its audio."""

    __tablename__ = "voice_references"
    __table_args__ = (UniqueConstraint("performer_id", "source_sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    performer_id: Mapped[int] = mapped_column(ForeignKey("performers.id", ondelete="CASCADE"), index=True)
    source_sha256: Mapped[str] = mapped_column(String(64))
    source_name: Mapped[str] = mapped_column(String(500))
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    # the other listening conditions (enrollment.conditions, after "clean"): (n - 1, 256) float32
    condition_embeddings: Mapped[bytes | None] = mapped_column(LargeBinary)
    speech_s: Mapped[float] = mapped_column(Float)
    quality: Mapped[dict] = mapped_column(JSON, default=dict)
    model_name: Mapped[str] = mapped_column(String(100))
    model_version: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class FaceReference(Base):
    """One accepted reference photo: the face's 128-d descriptor and box, not the photo."""

    __tablename__ = "face_references"
    __table_args__ = (UniqueConstraint("performer_id", "source_sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    performer_id: Mapped[int] = mapped_column(ForeignKey("performers.id", ondelete="CASCADE"), index=True)
    source_sha256: Mapped[str] = mapped_column(String(64))
    source_name: Mapped[str] = mapped_column(String(500))
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    face_px: Mapped[int] = mapped_column(Integer)
    quality: Mapped[dict] = mapped_column(JSON, default=dict)
    model_name: Mapped[str] = mapped_column(String(100))
    model_version: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class Voiceprint(Base):
    """A performer's voice: the normalised mean of their reference clips' embeddings."""

    __tablename__ = "voiceprints"

    performer_id: Mapped[int] = mapped_column(ForeignKey("performers.id", ondelete="CASCADE"), primary_key=True)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    condition_embeddings: Mapped[bytes | None] = mapped_column(LargeBinary)  # as VoiceReference's
    n_clips: Mapped[int] = mapped_column(Integer)
    speech_s: Mapped[float] = mapped_column(Float)
    model_version: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now, onupdate=utc_now)
