"""Proof of removal: the material a sent notice names, captured again, and what the platform did judged from it.

Each notice's media URL is fetched again (into the content store: the same bytes are the same SHA-256) and so
is the page it was found on. What they answered is appended to a WARC file under ``warc/`` (so an evidence
bundle exported afterwards carries the platform's answer beside the first capture), recorded as a
``rechecked`` custody entry of the media (with what the caller's ``stamp`` adds: an RFC 3161 timestamp) and a
``notice_rechecks`` row with its verdict, and moves the notice
to ``removed`` or ``still_up`` where the verdicts say so (as :data:`monitor.storage.notices.NEXT` allows).
Fetches go through the crawler's :class:`~monitor.fetch.http.Fetcher`: a URL that now redirects to a private
address is refused like any other, and is ``unreachable``, never ``removed``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from monitor.config import Config
from monitor.fetch.exchange import Exchange
from monitor.storage import audit_log, custody
from monitor.storage.detections import latest_sighting
from monitor.storage.models import Detection, Media
from monitor.storage.notices import NEXT, RECHECKED, Notice, NoticeDetection, NoticeEvent, NoticeRecheck

GONE_STATUSES = frozenset({404, 410, 451})  # not found, gone, unavailable for legal reasons


@dataclass(frozen=True)
class Target:
    """One URL of a notice to capture again: its media's URL (``kind`` media) or the page it was on."""

    notice_id: int
    agency_id: int
    media_id: int
    sha256: str  # the media as first found
    url: str
    kind: str
    media_url: str  # what a page must still show to keep it up


def due_notices(session: Session, after_hours: list[float], now: datetime, agency_id: int | None = None) -> list[int]:
    """Ids of the notices whose material is due to be captured again: sent (or acknowledged, still up) at least
    one of ``after_hours`` ago, and not captured since that moment."""
    sent_at = (select(NoticeEvent.notice_id, func.max(NoticeEvent.at).label("at"))
               .where(NoticeEvent.status == "sent").group_by(NoticeEvent.notice_id).subquery())
    last_check = (select(NoticeRecheck.notice_id, func.max(NoticeRecheck.captured_at).label("at"))
                  .group_by(NoticeRecheck.notice_id).subquery())
    query = (select(Notice.id, sent_at.c.at, last_check.c.at).join(sent_at, sent_at.c.notice_id == Notice.id)
             .outerjoin(last_check, last_check.c.notice_id == Notice.id).where(Notice.status.in_(RECHECKED))
             .order_by(Notice.id))
    if agency_id is not None:
        query = query.where(Notice.agency_id == agency_id)
    due = []
    for notice_id, sent, checked in session.execute(query):
        marks = [sent + timedelta(hours=hours) for hours in after_hours if sent + timedelta(hours=hours) <= now]
        if marks and (checked is None or checked < max(marks)):
            due.append(notice_id)
    return due


def recheck(config: Config, sessions: sessionmaker[Session], notice_ids: list[int], actor: str,
            actor_kind: str = "cli", stamp: Callable[[bytes], dict] | None = None) -> list[dict]:
    """Capture the notices' URLs again and record what they answered → ``[{"notice_id", "url", "kind",
    "verdict", "status_code", "error", "sha256", "captured_at", "notice_status"}]``, one per URL. ``stamp(data)``: what
    to add to each custody entry for its details as canonical JSON (an RFC 3161 timestamp), where given."""
    with sessions() as session:
        targets = [target for notice_id in notice_ids for target in _targets(session, notice_id)]
    if not targets:
        return []
    captured = [(target, exchange, _details(target, exchange, stamp))
                for target, exchange in asyncio.run(_capture_all(config, targets))]
    rows = []
    for notice_id in dict.fromkeys(t.notice_id for t in targets):
        ours = [capture for capture in captured if capture[0].notice_id == notice_id]
        with sessions.begin() as session:
            rows += _record(session, notice_id, ours, actor, actor_kind)
    return rows


def _details(target: Target, exchange: Exchange, stamp: Callable[[bytes], dict] | None) -> dict:
    """What the custody entry of one capture says: the answer, the verdict and what ``stamp`` adds over them."""
    import json

    verdict, error = judge(target, exchange)
    details = {"notice_id": target.notice_id, "url": target.url, "kind": target.kind, "verdict": verdict,
               "status": exchange.status, "sha256": exchange.sha256, "error": error,
               "captured_at": exchange.fetched_at.isoformat()}
    return details | stamp(json.dumps(details, sort_keys=True).encode()) if stamp is not None else details


def _targets(session: Session, notice_id: int) -> list[Target]:
    notice = session.get(Notice, notice_id)
    media = session.execute(select(Media.id, Media.sha256).join(Detection, Detection.media_id == Media.id)
                            .join(NoticeDetection, NoticeDetection.detection_id == Detection.id)
                            .where(NoticeDetection.notice_id == notice_id).distinct().order_by(Media.id)).all()
    targets = []
    for media_id, sha256 in media:
        seen = latest_sighting(session, media_id, notice.agency_id)
        if seen is None or not seen.source.startswith(("http://", "https://")):
            continue
        targets.append(Target(notice_id, notice.agency_id, media_id, sha256, seen.source, "media", seen.source))
        if seen.page_url:
            targets.append(Target(notice_id, notice.agency_id, media_id, sha256, seen.page_url, "page", seen.source))
    return targets


async def _capture_all(config: Config, targets: list[Target]) -> list[tuple[Target, Exchange]]:
    from monitor.fetch.http import Fetcher
    from monitor.fetch.warc import crawl_warc_path, write_warc
    from monitor.storage.content_store import content_store

    store = content_store(config)
    warc_path = crawl_warc_path(config.home / "warc", "recheck")
    async with Fetcher(config, store) as fetcher:
        exchanges = await asyncio.gather(*(fetcher.get_media(t.url) if t.kind == "media" else fetcher.get_page(t.url)
                                           for t in targets))
    for exchange in exchanges:
        if exchange.status is not None:  # the answer as received, kept as evidence
            payload = store.path_for(exchange.sha256) if exchange.sha256 else exchange.body
            await asyncio.to_thread(write_warc, exchange, warc_path, payload)
    if store.shared is not None and warc_path.exists():
        store.shared.put_capture(warc_path)
    return list(zip(targets, exchanges, strict=True))


def judge(target: Target, exchange: Exchange) -> tuple[str, str | None]:
    """(verdict, why it is not proof either way) of one capture."""
    status = exchange.status
    if status in GONE_STATUSES:
        return "removed", None
    if status is None or not 200 <= status < 300:
        return "unreachable", exchange.error or f"answered {status}"
    if target.kind == "media":
        if exchange.error:  # a page served where the file was
            return "changed", exchange.error
        return ("still_up" if exchange.sha256 == target.sha256 else "changed"), None
    return ("still_up" if _shows(exchange.body, target.media_url) else "removed"), None


def _shows(page: bytes, media_url: str) -> bool:
    """Whether a page still refers to the media: its URL whole, or its path (with its query)."""
    parts = urlsplit(media_url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    needles = {media_url, path, media_url.replace("&", "&amp;"), path.replace("&", "&amp;")} - {"", "/"}
    return any(needle.encode() in page for needle in needles)


def _record(session: Session, notice_id: int, captured: list[tuple[Target, Exchange, dict]], actor: str,
            actor_kind: str) -> list[dict]:
    notice = session.get(Notice, notice_id, with_for_update=True)
    rows, verdicts = [], []
    for target, exchange, details in captured:
        verdicts.append((target.kind, details["verdict"]))
        kept = NoticeRecheck(notice_id=notice_id, agency_id=notice.agency_id, url=target.url, kind=target.kind,
                             verdict=details["verdict"], status_code=exchange.status, sha256=exchange.sha256,
                             error=details["error"], captured_at=exchange.fetched_at)
        session.add(kept)
        custody.record(session, session.get(Media, target.media_id), "rechecked", details,
                       agency_id=notice.agency_id, actor=actor)
        rows.append(kept.as_row())
    outcome = _outcome(verdicts)
    if outcome and outcome != notice.status and outcome in NEXT[notice.status]:
        notice.move_to(outcome, actor, "recheck: " + ", ".join(f"{kind} {verdict}" for kind, verdict in verdicts))
    audit_log.append(session, notice.agency_id, "notice.recheck", f"notice {notice_id}", actor, actor_kind, None,
                     {"verdicts": [row["verdict"] for row in rows], "status": notice.status})
    return [row | {"notice_status": notice.status} for row in rows]


def _outcome(verdicts: list[tuple[str, str]]) -> str | None:
    """What the captures prove of a notice: removed (every media URL gone), still_up (one still the same), or
    nothing (changed, or no answer)."""
    media = [verdict for kind, verdict in verdicts if kind == "media"]
    if media and all(verdict == "removed" for verdict in media):
        return "removed"
    return "still_up" if "still_up" in media else None
