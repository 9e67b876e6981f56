"""Takedown notices an agency drafts from its confirmed detections, and what became of each.

A notice names its detections, the legal basis it invokes, where it goes (an e-mail address or a platform's
form), who signs it, its text in full and the files drafted with it (the PDF and the evidence bundle it cites
by SHA-256 and signing key). Its status moves along :data:`NEXT`; every move is a row of ``notice_events``
with its time, actor and note, so the dates of a notice's life are kept, not overwritten. After it is sent,
its media's URL and page are captured again (``notice_rechecks``): what each answered, and the verdict.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from enrollment.models import Base, UTCDateTime, utc_now

BASES = ("dmca", "take-it-down", "publicity", "platform")
VERDICTS = ("removed", "still_up", "changed", "unreachable")
RECHECKED = ("sent", "acknowledged", "still_up")  # a notice whose material is captured again on schedule
STATUSES = ("drafted", "sent", "acknowledged", "removed", "still_up", "refused", "withdrawn")
# what each status may become (a platform that removed something and put it back: still_up again)
NEXT: dict[str, frozenset[str]] = {
    "drafted": frozenset({"sent", "withdrawn"}),
    "sent": frozenset({"acknowledged", "removed", "still_up", "refused", "withdrawn"}),
    "acknowledged": frozenset({"removed", "still_up", "refused", "withdrawn"}),
    "still_up": frozenset({"sent", "removed", "refused", "withdrawn"}),
    "refused": frozenset({"sent", "withdrawn"}),
    "removed": frozenset({"still_up"}),
    "withdrawn": frozenset(),
}


class Notice(Base):
    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_agency_status", "agency_id", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"), index=True)
    basis: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="drafted")
    recipient: Mapped[str] = mapped_column(String(2000))  # an e-mail address or a form's https:// URL
    host: Mapped[str | None] = mapped_column(String(253))  # where the material was found (None: a local file)
    signer_email: Mapped[str] = mapped_column(String(320))
    signer_name: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    evidence_sha256: Mapped[str] = mapped_column(String(64))
    evidence_fingerprint: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    detections: Mapped[list[NoticeDetection]] = relationship(cascade="all, delete-orphan", lazy="selectin",
                                                             order_by="NoticeDetection.detection_id")
    events: Mapped[list[NoticeEvent]] = relationship(cascade="all, delete-orphan", lazy="selectin",
                                                     order_by="NoticeEvent.id")

    @property
    def folder(self) -> str:
        """Where its files are, under the home: ``notice-ID.txt``, ``notice-ID.pdf``, ``evidence-ID.zip``."""
        return f"notices/{self.id}"

    @property
    def updated_at(self) -> datetime:
        return self.events[-1].at

    def move_to(self, status: str, actor: str, note: str | None = None) -> None:
        """The next step of its life, dated now (whether the step is allowed is the caller's: :data:`NEXT`)."""
        self.status = status
        self.events.append(NoticeEvent(agency_id=self.agency_id, status=status, at=utc_now(), actor=actor,
                                       note=note))


class NoticeDetection(Base):
    """A detection a notice asks to take down (a performer's erasure removes the link, not the notice)."""

    __tablename__ = "notice_detections"

    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), primary_key=True)
    detection_id: Mapped[int] = mapped_column(ForeignKey("detections.id", ondelete="CASCADE"), primary_key=True,
                                              index=True)


class NoticeEvent(Base):
    """One step of a notice's life: its status from ``at``, who recorded it and why."""

    __tablename__ = "notice_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    actor: Mapped[str] = mapped_column(String(320))
    note: Mapped[str | None] = mapped_column(Text)


class NoticeRecheck(Base):
    """One capture again of a notice's media URL (``kind`` media) or of the page it was on (page): what it
    answered and the verdict (``removed``: 404, 410 or 451, or gone from its page; ``still_up``: the same bytes,
    or the page still shows it; ``changed``: other content at the URL; ``unreachable``: no answer that proves
    either, ``error`` says why)."""

    __tablename__ = "notice_rechecks"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(10))
    verdict: Mapped[str] = mapped_column(String(20))
    status_code: Mapped[int | None] = mapped_column()
    sha256: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    captured_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    def as_row(self) -> dict:
        """The row of ``notice recheck --json`` (docs/cli.md), without the notice's status."""
        return {"notice_id": self.notice_id, "url": self.url, "kind": self.kind, "verdict": self.verdict,
                "status_code": self.status_code, "error": self.error, "sha256": self.sha256,
                "captured_at": self.captured_at.isoformat(timespec="seconds")}
