"""Proof of removal: a sent notice's material captured again (:mod:`monitor.pipeline.recheck`), and per host how
platforms answer notices: how many were sent, how many removed, and how soon."""

from __future__ import annotations

import statistics
from collections.abc import Callable

from sqlalchemy import select

from enrollment.errors import LikenessError
from enrollment.models import utc_now
from monitor.config import Config
from monitor.services.context import Context
from monitor.storage.notices import RECHECKED, Notice, NoticeEvent


def recheck_notices(ctx: Context, notice_id: int | None = None, now: bool = False) -> list[dict]:
    """Capture again the material of the agency's notices that are due (``notices.recheck_after_hours`` after
    they were sent), or with ``now`` of every sent one at once; ``notice_id``: that one only → ``[{"notice_id",
    "url", "kind" (media or page), "verdict" (removed, still_up, changed, unreachable), "status_code", "error",
    "sha256", "captured_at", "notice_status"}]``, one per URL."""
    from monitor.pipeline.recheck import due_notices, recheck
    from monitor.services.notices import visible_notice

    ctx.require("notices")
    agency_id = ctx.scoped_agency_id()
    with ctx.reading() as session:
        if notice_id is not None:
            notice = visible_notice(session, ctx, notice_id)
            if notice.status not in (*RECHECKED, "removed"):
                raise LikenessError(f"notice {notice_id} is {notice.status}: what a notice names is captured again "
                                    f"once it is sent")
        if now:
            query = select(Notice.id).where(Notice.status.in_(RECHECKED)).order_by(Notice.id)
            query = query.where(Notice.agency_id == agency_id) if agency_id is not None else query
            ids = [notice_id] if notice_id is not None else list(session.scalars(query))
        else:
            due = due_notices(session, ctx.config.notices.recheck_after_hours, utc_now(), agency_id)
            ids = [i for i in due if notice_id is None or i == notice_id]
    return recheck(ctx.config, ctx.sessions, ids, ctx.actor.name, ctx.actor.kind, timestamper(ctx.config))


def notice_rechecks(ctx: Context, notice_id: int) -> list[dict]:
    """Every capture again of a notice's material, oldest first → ``[{"notice_id", "url", "kind", "verdict",
    "status_code", "error", "sha256", "captured_at"}]``; NotFound for another agency's notice."""
    from monitor.services.notices import visible_notice
    from monitor.storage.notices import NoticeRecheck

    ctx.require("notices")
    with ctx.reading() as session:
        notice = visible_notice(session, ctx, notice_id)
        found = session.scalars(select(NoticeRecheck).where(NoticeRecheck.notice_id == notice.id)
                                .order_by(NoticeRecheck.id))
        return [row.as_row() for row in found]


def timestamper(config: Config) -> Callable[[bytes], dict] | None:
    """A recheck's custody entry stamped by the first timestamp authority of ``evidence.timestamp_urls`` that
    grants one (its failure noted in the entry, not fatal); None without any configured."""
    import base64

    from monitor.evidence.timestamp import request_timestamp

    if not config.evidence.timestamp_urls:
        return None

    def stamp(data: bytes) -> dict:
        try:
            granted = request_timestamp(data, config.evidence)
        except LikenessError as failure:
            return {"timestamp_error": str(failure)}
        return {"timestamp": {"tsa": granted.url, "gen_time": granted.gen_time.isoformat(),
                              "token": base64.b64encode(granted.token_der).decode(),
                              "over": "the canonical JSON of the other details (sorted keys)"}}

    return stamp


def recheck_notices_job(home: str) -> None:
    """What `likeness run` and `likeness scheduler` run hourly: capture again what is due (module-level: the job
    store keeps a reference)."""
    import logging

    from monitor.config import load_config
    from monitor.services.context import Actor

    ctx = Context(load_config(home), Actor.local("system"))
    rows = recheck_notices(ctx)
    if rows:
        logging.getLogger(__name__).info("notices rechecked: %s", ", ".join(
            f"{row['notice_id']} {row['kind']} {row['verdict']}" for row in rows))


def notice_stats(ctx: Context) -> list[dict]:
    """Per host the agency sent notices to, by host → ``[{"host", "sent", "removed", "removal_rate" (0–1),
    "median_hours_to_removal" (None before any removal)}]``; a notice counts once, from its first sending to
    its first removal."""
    ctx.require("notices")
    query = (select(Notice.id, Notice.host, NoticeEvent.status, NoticeEvent.at)
             .join(NoticeEvent, NoticeEvent.notice_id == Notice.id).order_by(NoticeEvent.id))
    if (agency_id := ctx.scoped_agency_id()) is not None:
        query = query.where(Notice.agency_id == agency_id)
    sent, removed, hosts = {}, {}, {}
    with ctx.reading() as session:
        for notice_id, host, status, at in session.execute(query):
            hosts[notice_id] = host or "(no host)"
            if status == "sent":
                sent.setdefault(notice_id, at)
            elif status == "removed" and notice_id in sent:
                removed.setdefault(notice_id, at)
    rows = []
    for host in sorted({hosts[notice_id] for notice_id in sent}):
        ours = [notice_id for notice_id in sent if hosts[notice_id] == host]
        hours = [(removed[n] - sent[n]).total_seconds() / 3600 for n in ours if n in removed]
        rows.append({"host": host, "sent": len(ours), "removed": len(hours),
                     "removal_rate": round(len(hours) / len(ours), 4),
                     "median_hours_to_removal": round(statistics.median(hours), 2) if hours else None})
    return rows
