"""What the monitor found: media (content-addressed), where each was seen, detections, reviews.

Only detections are kept of a scan: embeddings of people who match nobody are never stored.

Tenancy: media and their analyses are shared by content (the same bytes are analysed once, against every
agency's performers), and everything else carries its agency: sources, sightings, detections (their
performer's), alerts and each agency's own custody chain of a media. An agency sees a detection only where
it has a sighting of that media itself (:func:`monitor.storage.tenancy.visible_detections`), so no agency
learns what another holds.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from enrollment.models import Base, Performer, UTCDateTime, utc_now
from monitor.storage import accounts, allow_rules, notices, staydown  # noqa: F401  (their tables: the schema)

REVIEW_STATUSES = ("new", "confirmed", "dismissed", "authorized")
# pending: some delivery still to be made; sent: every delivery made; failed: some given up;
# muted: the performer was muted when it was found; unaddressed: nobody to tell (no contact, no URL)
ALERT_STATUSES = ("pending", "sent", "failed", "muted", "unaddressed")
DELIVERY_STATUSES = ("pending", "sent", "failed")


class Media(Base):
    """One distinct content (sha256), analysed once per roster of references and model versions."""

    __tablename__ = "media"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    media_type: Mapped[str | None] = mapped_column(String(10))
    duration_s: Mapped[float | None] = mapped_column(Float)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    # The analysis: which references and models it was made with, and its results
    analysis_key: Mapped[str | None] = mapped_column(String(64))
    analysed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closest: Mapped[list | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    # what its Content Credentials (C2PA) declare, as monitor.analysis.credentials reads them; None: none
    content_credentials: Mapped[dict | None] = mapped_column(JSON)

    sightings: Mapped[list[Sighting]] = relationship(back_populates="media", cascade="all, delete-orphan")


class Sighting(Base):
    """Where an agency found a media: a URL or a local path, and for crawled media the page and source."""

    __tablename__ = "sightings"
    __table_args__ = (UniqueConstraint("agency_id", "media_id", "source", name="uq_sightings_agency_media_source"),
                      # has this agency been at this URL before (the crawler, before downloading it again)
                      Index("ix_sightings_agency_source", "agency_id", "source"))

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"), index=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(Text)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"), index=True)
    page_url: Mapped[str | None] = mapped_column(Text)
    page_title: Mapped[str | None] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    media: Mapped[Media] = relationship(back_populates="sightings")


class Detection(Base):
    """A likely match of one performer's voice or face in one media."""

    __tablename__ = "detections"
    __table_args__ = (UniqueConstraint("performer_id", "media_id", "modality"),
                      # an agency's pages of the detections it sees: newest first, or of a status best score first
                      Index("ix_detections_agency_sighted_newest", "agency_id", "sighted", "id"),
                      Index("ix_detections_agency_sighted_status_score", "agency_id", "sighted", "status", "score",
                            "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"), index=True)  # its performer's
    performer_id: Mapped[int] = mapped_column(ForeignKey("performers.id", ondelete="CASCADE"), index=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"), index=True)
    modality: Mapped[str] = mapped_column(String(10))
    score: Mapped[float] = mapped_column(Float)
    similarity: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    segments: Mapped[list] = mapped_column(JSON)
    # voice: the tier, the turn, the population and chance; face: {"time_s", "box": [top, right, bottom, left]}
    # of the best face, in pixels of the frame as analysed
    details: Mapped[dict | None] = mapped_column(JSON)
    # voice: the score over time, [[time_s, score], …] (≤ 240 points); loaded only where it is drawn (a
    # detection's page, alerts, evidence), not for every row of a list
    curve: Mapped[list | None] = mapped_column(JSON, deferred=True)
    model_version: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(12), default="new", index=True)
    # whether its agency has a sighting of the media: only then does the agency see it (kept by
    # monitor.pipeline.record, where detections and sightings are made)
    sighted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # the allow-list rule (a licence) it was found under, which made it "authorized" (monitor.storage.allow_rules)
    allowed_by_rule_id: Mapped[int | None] = mapped_column(ForeignKey("allow_rules.id", ondelete="SET NULL"))
    # the confirmed detection whose media this one's is a re-upload of (monitor.storage.staydown)
    reupload_of_id: Mapped[int | None] = mapped_column(ForeignKey("detections.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now, onupdate=utc_now)

    performer: Mapped[Performer] = relationship()
    media: Mapped[Media] = relationship()
    reviews: Mapped[list[Review]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="Review.id"
    )


class Review(Base):
    """One review decision on a detection; the detection's ``status`` is the latest one."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    detection_id: Mapped[int] = mapped_column(ForeignKey("detections.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(12))
    reviewed_by: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class Source(Base):
    """A place the crawler watches: a page, feed, sitemap, folder or media URL, on its own schedule."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    url: Mapped[str] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(String(200))
    every_s: Mapped[int] = mapped_column(Integer)
    depth: Mapped[int] = mapped_column(Integer)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    ignore_robots: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class Fetch(Base):
    """One HTTP exchange (or local file read) of a crawl, kept as evidence of what was found where."""

    __tablename__ = "fetches"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # page | media | file
    url: Mapped[str] = mapped_column(Text)
    final_url: Mapped[str | None] = mapped_column(Text)
    status: Mapped[int | None] = mapped_column(Integer)
    request_headers: Mapped[dict | None] = mapped_column(JSON)
    response_headers: Mapped[dict | None] = mapped_column(JSON)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    elapsed_s: Mapped[float | None] = mapped_column(Float)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    error: Mapped[str | None] = mapped_column(Text)
    warc_path: Mapped[str | None] = mapped_column(Text)
    tls_certificate_sha256: Mapped[str | None] = mapped_column(ForeignKey("tls_certificates.sha256"))


class TlsCertificate(Base):
    """A server certificate (DER) an https fetch was answered with, stored once however often it was seen."""

    __tablename__ = "tls_certificates"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    der: Mapped[bytes] = mapped_column(LargeBinary)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class UrlState(Base):
    """What the last visit of a URL left: validators for conditional requests, the content it gave."""

    __tablename__ = "url_states"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(Text, unique=True)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    mtime_ns: Mapped[int | None] = mapped_column(BigInteger)  # local files: changed when size or mtime change
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # a document's kind, title and links when last parsed: followed again after a 304, so that an
    # unchanged index still leads to its pages (each asked for conditionally in turn)
    links: Mapped[dict | None] = mapped_column(JSON)


class Alert(Base):
    """The outbox: one (performer, media) pair to tell the performer's contacts about, at most once ever.

    Written in the same transaction as the detection that raised it; its deliveries are made later
    by the sender (monitor/alerts/sender.py), with retries.
    """

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("performer_id", "media_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"), index=True)  # its performer's
    performer_id: Mapped[int] = mapped_column(ForeignKey("performers.id", ondelete="CASCADE"), index=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"), index=True)
    detection_id: Mapped[int | None] = mapped_column(ForeignKey("detections.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    performer: Mapped[Performer] = relationship()
    deliveries: Mapped[list[Delivery]] = relationship(
        back_populates="alert", cascade="all, delete-orphan", passive_deletes=True, order_by="Delivery.id")


class Delivery(Base):
    """One alert to one recipient: an e-mail address, or an Apprise / webhook URL (stored redacted)."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (UniqueConstraint("alert_id", "channel", "recipient"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(10))  # email | url
    recipient: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # not before this time (retry back-off, the hourly cap, or a sender's claim while it sends)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_id: Mapped[str | None] = mapped_column(String(200))  # one per message: a digest's deliveries share it

    alert: Mapped[Alert] = relationship(back_populates="deliveries")


class AlertPreference(Base):
    """A performer's own alert settings: muted, or thresholds other than ``alerts.*_threshold``."""

    __tablename__ = "alert_preferences"

    performer_id: Mapped[int] = mapped_column(ForeignKey("performers.id", ondelete="CASCADE"), primary_key=True)
    muted: Mapped[bool] = mapped_column(Boolean, default=False)
    voice_threshold: Mapped[float | None] = mapped_column(Float)
    face_threshold: Mapped[float | None] = mapped_column(Float)


class CustodyEvent(Base):
    """One entry of an agency's chain of custody of a media: fetched, hashed, analysed, alerted, reviewed,
    exported.

    Append-only and hash-chained per (agency, media) (``seq`` 1, 2, …; ``prev_hash`` is the previous entry's
    ``hash``; ``hash`` covers the entry's canonical JSON, see monitor/storage/chain.py). Written in the
    same transaction as what it records, from the first fetch on; a bundle carries the chain as it is.
    """

    __tablename__ = "custody_events"
    __table_args__ = (UniqueConstraint("agency_id", "media_id", "seq", name="uq_custody_events_agency_media_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"), index=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    entry: Mapped[dict] = mapped_column(JSON)  # the whole entry as hashed, seq, prev_hash and hash included
    hash: Mapped[str] = mapped_column(String(64))


ALREADY_STORED = "already in the cohort"  # why a file given to the cohort again is skipped


class CohortMember(Base):
    """One recording or photo of someone who is not enrolled: the comparison population.

    Scores are normalised against it (voice: adaptive s-norm), and a detection says where it falls
    in it ("closer than 99 % of 130 other voices"). Embeddings only: the file itself is not kept.
    Voice: (n_conditions, 256) float32 in ``enrollment.conditions.VOICE_CONDITIONS`` order; face: (1, 128),
    the photo's largest face.
    """

    __tablename__ = "cohort_members"
    __table_args__ = (UniqueConstraint("modality", "source_sha256", "model_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    modality: Mapped[str] = mapped_column(String(10))
    source_sha256: Mapped[str] = mapped_column(String(64))
    source_name: Mapped[str] = mapped_column(String(500))
    label: Mapped[str] = mapped_column(String(200))  # who it is, as far as known (the file's stem otherwise)
    embeddings: Mapped[bytes | None] = mapped_column(LargeBinary)  # None: the file held no usable voice or face
    model_version: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class AnalysisClaim(Base):
    """Who is analysing a content under an analysis key right now: one claim per (content, key) across every
    process and machine, so that two scans or crawls that meet the same new bytes analyse them once (the other
    waits for the result). Removed with the result, in the same transaction; a claim whose process is gone is
    taken over (monitor.storage.claims)."""

    __tablename__ = "analysis_claims"
    __table_args__ = (UniqueConstraint("sha256", "analysis_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    analysis_key: Mapped[str] = mapped_column(String(64))
    claimed_by: Mapped[str] = mapped_column(String(300))  # host:pid of the claiming process
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


SCAN_REQUEST_STATUSES = ("queued", "running", "done", "failed")


class ScanRequest(Base):
    """A scan asked for through the API: an uploaded file (already in the content store) or a URL, scanned
    for its agency in the background; ``result`` is the scan's row (the ``scan`` command's JSON) once done.
    A request left ``running`` by a process that died is queued again when the next one starts."""

    __tablename__ = "scan_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"), index=True)
    requested_by: Mapped[str] = mapped_column(String(320))
    target: Mapped[str] = mapped_column(Text)  # the URL, or "upload:NAME" for a file
    sha256: Mapped[str | None] = mapped_column(String(64))  # an upload's content, in the store
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10), default="queued", index=True)
    result: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
