"""Detections: listed for review (filtered, a page at a time), shown, and reviewed (the decision, its note and
who made it are kept, in the custody chain and the audit trail)."""

from __future__ import annotations

import base64
import binascii
import json
import math
from types import SimpleNamespace

from sqlalchemy import Select, exists, select, tuple_
from sqlalchemy.orm import Session, selectinload

from enrollment.errors import LikenessError, NotFound
from enrollment.models import Performer, utc_now
from monitor.services import audit
from monitor.services.context import Context
from monitor.services.roles import ARTIST_DECISIONS, ARTIST_WORDS, Forbidden
from monitor.storage import custody
from monitor.storage.detections import detection_json, latest_source, latest_sources
from monitor.storage.models import REVIEW_STATUSES, Detection, Media, Review, Sighting
from monitor.storage.tenancy import visible_detections

REVIEW_DECISIONS = tuple(status for status in REVIEW_STATUSES if status != "new")
ORDERS = ("newest", "score")
MAX_PAGE = 200
MAX_ID = 2**31 - 1  # ids are INTEGER columns (32 bits on PostgreSQL): a cursor past it was not given here


LEAN_COLUMNS = (Detection.id, Detection.agency_id, Detection.performer_id, Detection.media_id, Detection.modality,
                Detection.score, Detection.similarity, Detection.segments, Detection.status, Detection.created_at,
                Detection.details, Performer.name, Media.sha256, Media.media_type, Media.duration_s,
                Media.content_credentials, Detection.allowed_by_rule_id, Detection.reupload_of_id)


def _query(ctx: Context, performer_id: int | None = None, status: str | None = None,
           modality: str | None = None, tier: str | None = None, source_id: int | None = None,
           lean: bool = False) -> Select:
    """The detections ``ctx`` may see, filtered: ``tier`` a voice detection's (same_voice, soundalike),
    ``source_id`` one of the agency's sources that found the media. ``lean``: rows of LEAN_COLUMNS, one query
    and no ORM objects (a page of a list: see :func:`_lean`), else Detection objects."""
    ctx.require("read")
    if lean:
        query = (select(*LEAN_COLUMNS).join(Performer, Performer.id == Detection.performer_id)
                 .join(Media, Media.id == Detection.media_id))
    else:
        query = select(Detection).options(selectinload(Detection.performer), selectinload(Detection.media))
    query = query.where(visible_detections(ctx.scoped_agency_id()))
    if ctx.performer_ids is not None:
        query = query.where(Detection.performer_id.in_(ctx.performer_ids))
    if performer_id is not None:
        query = query.where(Detection.performer_id == performer_id)
    if status is not None:
        if status not in REVIEW_STATUSES:
            raise LikenessError(f"status must be one of {', '.join(REVIEW_STATUSES)}")
        query = query.where(Detection.status == status)
    if modality is not None:
        query = query.where(Detection.modality == modality)
    if tier is not None:
        query = query.where(Detection.details["tier"].as_string() == tier)
    if source_id is not None:
        query = query.where(exists().where(Sighting.media_id == Detection.media_id,
                                           Sighting.agency_id == Detection.agency_id, Sighting.source_id == source_id))
    return query


def _as_json(session: Session, detection: Detection) -> dict:
    return detection_json(detection, latest_source(session, detection.media_id, detection.agency_id))


def _lean(row) -> SimpleNamespace:
    """A row of LEAN_COLUMNS as the DETECTION object's builder reads a Detection."""
    (detection_id, agency_id, performer_id, media_id, modality, score, similarity, segments, status, created_at,
     details, name, sha256, media_type, duration_s, credentials, allowed_by_rule_id, reupload_of_id) = row
    return SimpleNamespace(
        id=detection_id, agency_id=agency_id, performer_id=performer_id, media_id=media_id, modality=modality,
        score=score, similarity=similarity, segments=segments, status=status, created_at=created_at,
        details=details, allowed_by_rule_id=allowed_by_rule_id, reupload_of_id=reupload_of_id,
        performer=SimpleNamespace(name=name),
        media=SimpleNamespace(sha256=sha256, media_type=media_type, duration_s=duration_s,
                              content_credentials=credentials))


def _all_as_json(session: Session, rows: list[Detection]) -> list[dict]:
    """DETECTION objects of many rows, their sources read in one query."""
    sources = latest_sources(session, rows)
    return [detection_json(row, sources.get((row.media_id, row.agency_id))) for row in rows]


def list_detections(ctx: Context, performer_id: int | None = None, status: str | None = None) -> list[dict]:
    """DETECTION objects, newest first; only ``performer_id``'s and only those with ``status`` when given."""
    query = _query(ctx, performer_id, status).order_by(Detection.created_at.desc(), Detection.id.desc())
    with ctx.reading() as session:
        return _all_as_json(session, list(session.scalars(query)))


def page_of_detections(ctx: Context, performer_id: int | None = None, status: str | None = None,
                       modality: str | None = None, order: str = "newest", limit: int = 50,
                       cursor: str | None = None, tier: str | None = None, source_id: int | None = None) -> dict:
    """One page of DETECTION objects → ``{"items": [...], "next_cursor": str | None}``; ``order`` newest (by id)
    or score (best first); ``limit`` 1–200; ``cursor`` as a previous page's ``next_cursor`` gave it; filters as
    :func:`_query`'s."""
    query = _page_query(ctx, performer_id, status, modality, order, limit, cursor, tier, source_id)
    with ctx.reading() as session:
        return _page(session, query, order, limit)


def review_queue(ctx: Context, performer_id: int | None = None, status: str | None = None,
                 modality: str | None = None, order: str = "newest", cursor: str | None = None,
                 tier: str | None = None, source_id: int | None = None) -> dict:
    """What the review queue shows, read in one transaction: a page of 50 (as :func:`page_of_detections`) and
    the choices of its filters → ``{"page", "performers": [{"id", "name"}], "sources": [{"id", "name", "url"}]}``."""
    from monitor.services.performers import names_query
    from monitor.services.sources import choices_query

    query = _page_query(ctx, performer_id, status, modality, order, 50, cursor, tier, source_id)
    with ctx.reading() as session:
        return {"page": _page(session, query, order, 50),
                "performers": [row._asdict() for row in session.execute(names_query(ctx))],
                "sources": [row._asdict() for row in session.execute(choices_query(ctx))]}


def _page_query(ctx: Context, performer_id: int | None, status: str | None, modality: str | None, order: str,
                limit: int, cursor: str | None, tier: str | None, source_id: int | None) -> Select:
    """The query of one page, one row more than ``limit`` (whether there is a next page)."""
    if order not in ORDERS:
        raise LikenessError(f"order must be one of {', '.join(ORDERS)}")
    if not 1 <= limit <= MAX_PAGE:
        raise LikenessError(f"limit must be from 1 to {MAX_PAGE}")
    query = _query(ctx, performer_id, status, modality, tier, source_id, lean=True)
    after = _decode_cursor(cursor, order) if cursor else None
    if order == "newest":
        query = query.order_by(Detection.id.desc())
        query = query.where(Detection.id < after[0]) if after else query
    else:
        query = query.order_by(Detection.score.desc(), Detection.id.desc())
        query = query.where(tuple_(Detection.score, Detection.id) < tuple_(*after)) if after else query
    return query.limit(limit + 1)


def _page(session: Session, query: Select, order: str, limit: int) -> dict:
    rows = [_lean(row) for row in session.execute(query)]
    items = _all_as_json(session, rows[:limit])
    last = rows[limit - 1] if len(rows) > limit else None
    key = None if last is None else [last.id] if order == "newest" else [last.score, last.id]
    return {"items": items, "next_cursor": _encode_cursor(key) if key else None}


def _encode_cursor(key: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, order: str) -> list:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        key = None
    size = 1 if order == "newest" else 2
    if not (isinstance(key, list) and len(key) == size and all(isinstance(v, int | float) for v in key)
            and all(math.isfinite(v) for v in key) and isinstance(key[-1], int) and 0 <= key[-1] <= MAX_ID):
        raise LikenessError("cursor is not one this list gave (start again without it)")
    return key


def visible_detection(session: Session, ctx: Context, detection_id: int) -> Detection:
    detection = session.scalar(_query(ctx).where(Detection.id == detection_id))
    if detection is None:
        raise NotFound(f"no detection with id {detection_id} (see `likeness detections list`)")
    return detection


def get_detection(ctx: Context, detection_id: int) -> dict:
    """One DETECTION object; NotFound for an id this actor may not see (another agency's: as if none)."""
    with ctx.reading() as session:
        return _as_json(session, visible_detection(session, ctx, detection_id))


def review(ctx: Context, detection_id: int, status: str, note: str | None = None,
           reviewed_by: str | None = None) -> dict:
    """Record a decision (confirmed, dismissed, authorized) → the DETECTION with its new status.

    The review row, the "reviewed" custody entry and the audit event name ``reviewed_by`` (default: the actor's
    name), in the same transaction as the status change. An artist's decision on their own detection is kept as
    their word: "authorised by me" (authorized), "not authorised" (confirmed), "not me" (dismissed).
    """
    ctx.require("review")
    if status not in REVIEW_DECISIONS:
        raise LikenessError(f"status must be one of {', '.join(REVIEW_DECISIONS)}")
    if ctx.role == "artist" and status not in ARTIST_DECISIONS:
        raise Forbidden(f"an artist may say only {', '.join(ARTIST_WORDS.values())}")
    reviewer = reviewed_by or ctx.actor.name
    with ctx.sessions.begin() as session:
        detection = visible_detection(session, ctx, detection_id)
        detection.status = status
        detection.updated_at = utc_now()
        detection.reviews.append(Review(status=status, note=note, reviewed_by=reviewer))
        details = {"detection_id": detection.id, "status": status, "note": note}
        if ctx.role == "artist":
            details["artist_says"] = ARTIST_WORDS[status]
        custody.record(session, detection.media, "reviewed", details, agency_id=detection.agency_id, actor=reviewer)
        if status == "confirmed":  # its re-uploads will be known again (staydown)
            from monitor.pipeline.staydown import keep_print

            keep_print(session, ctx.config, detection)
        audit.record(ctx, "detection.review", f"detection {detection.id}", session=session,
                     agency_id=detection.agency_id, **details)
        session.flush()
        return _as_json(session, detection)


def review_many(ctx: Context, detection_ids: list[int], status: str, note: str | None = None) -> dict:
    """The same decision on several detections (at most 200), each in a transaction of its own: one refused does
    not stop the others → ``{"reviewed": [id, …], "refused": [{"id", "reason"}, …]}``."""
    if len(detection_ids) > MAX_PAGE:
        raise LikenessError(f"at most {MAX_PAGE} detections at once")
    done: dict = {"reviewed": [], "refused": []}
    for detection_id in dict.fromkeys(detection_ids):
        try:
            review(ctx, detection_id, status, note)
            done["reviewed"].append(detection_id)
        except LikenessError as refused:
            done["refused"].append({"id": detection_id, "reason": str(refused)})
    return done


def detection_page(ctx: Context, detection_id: int) -> dict:
    """What the dashboard shows of one detection: the DETECTION, the score over time (``curve``: [[time_s,
    score], …], voices), where the agency found it (``sightings``), its ``reviews`` and the agency's custody
    chain of the media (``custody``)."""
    from monitor.storage.models import Sighting

    with ctx.reading() as session:
        detection = visible_detection(session, ctx, detection_id)
        sightings = session.scalars(select(Sighting).where(Sighting.media_id == detection.media_id,
                                                           Sighting.agency_id == detection.agency_id)
                                    .order_by(Sighting.first_seen_at))
        return {
            "detection": _as_json(session, detection),
            "curve": detection.curve or [],
            "sightings": [{"source": s.source, "page_url": s.page_url, "page_title": s.page_title,
                           "first_seen_at": s.first_seen_at.isoformat(timespec="seconds")} for s in sightings],
            "reviews": [{"status": r.status, "note": r.note, "by": r.reviewed_by,
                         "at": r.reviewed_at.isoformat(timespec="seconds")} for r in detection.reviews],
            "custody": custody.chain_of(session, detection.media_id, detection.agency_id),
        }


def media_file(ctx: Context, detection_id: int):
    """(the path of the detection's media in the content store, its media type) for playing it back; NotFound
    when the detection is not this actor's or the file is gone."""
    from monitor.storage.content_store import content_store

    with ctx.reading() as session:
        detection = visible_detection(session, ctx, detection_id)
        path = content_store(ctx.config).path_for(detection.media.sha256)
        media_type = detection.media.media_type
    if not path.is_file():
        raise NotFound(f"the media of detection {detection_id} is gone from the store")
    return path, media_type


def detection_picture(ctx: Context, detection_id: int, which: str) -> bytes:
    """A JPEG of a face detection: ``faces`` (the found face next to the performer's reference) or
    ``key-frame`` (the video frame it was found in, as analysed); NotFound when there is none to show."""
    from monitor.alerts.findings import analysed_frame, found_face, reference_face
    from monitor.alerts.pictures import face_pair_picture, jpeg_of

    with ctx.reading() as session:
        detection = visible_detection(session, ctx, detection_id)
        details, media = detection.details or {}, detection.media
        picture = None
        if detection.modality == "face" and "box" in details:
            if which == "faces" and (found := found_face(ctx.config, media, details)) is not None:
                picture = face_pair_picture(found, reference_face(session, ctx.config, detection.performer_id))
            elif which == "key-frame" and media.media_type == "video":
                frame = analysed_frame(ctx.config, media, details)
                picture = jpeg_of(frame) if frame is not None else None
    if picture is None:
        raise NotFound(f"detection {detection_id} has no {which} picture")
    return picture
