"""Allow-lists: the licensed and otherwise authorised places of a performer's voice and likeness.

A rule is added, listed and revoked here; :mod:`monitor.pipeline.allowed` applies it to what is found. A new
rule authorises the performer's new detections it covers at once; a revoked one, or one whose window has
passed (:func:`end_expired_rules`, hourly under `likeness run` and `likeness scheduler`), gives them back to
review, each alerted then.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select

from enrollment.errors import LikenessError, NotFound
from enrollment.models import utc_now
from monitor.services import audit
from monitor.services.context import Context
from monitor.services.performers import own_performer
from monitor.storage.allow_rules import KINDS, AllowRule
from monitor.storage.models import Detection


def add_allow_rule(ctx: Context, performer_id: int, kind: str, value: str, valid_from: str | None = None,
                   valid_until: str | None = None, note: str | None = None) -> dict:
    """Allow ``performer_id``'s voice and likeness at a ``domain``, under a ``url_prefix``, or by a
    ``licensee`` (a name) → RULE; ``valid_from`` / ``valid_until``: ISO dates (the whole day included) or
    times. The performer's new detections it covers are ``authorized`` at once (RULE's ``detection_ids``)."""
    from monitor.pipeline.allowed import apply_rule

    ctx.require("performers")
    value = _checked_value(kind, value)
    starts, ends = _moment(valid_from, "--from"), _moment(valid_until, "--until", end_of_day=True)
    if starts and ends and ends <= starts:
        raise LikenessError("--until must come after --from")
    if note is not None and len(note) > 2000:
        raise LikenessError("a note is at most 2000 characters")
    with ctx.sessions.begin() as session:
        performer = own_performer(ctx, session, performer_id)
        rule = AllowRule(agency_id=performer.agency_id, performer_id=performer.id, kind=kind, value=value,
                         valid_from=starts, valid_until=ends, note=note, created_by=ctx.actor.name)
        session.add(rule)
        session.flush()
        apply_rule(session, rule, utc_now(), ctx.actor.name)
        audit.record(ctx, "performer.allow", f"rule {rule.id}", session=session, agency_id=rule.agency_id,
                     performer_id=performer.id, kind=kind, value=value)
        return _rule_json(session, rule)


def list_allow_rules(ctx: Context, performer_id: int) -> list[dict]:
    """The performer's rules, oldest first, each with its ``state`` (active, scheduled, ended, revoked)."""
    ctx.require("read")
    with ctx.reading() as session:
        performer = own_performer(ctx, session, performer_id)
        rules = session.scalars(select(AllowRule).where(AllowRule.performer_id == performer.id).order_by(AllowRule.id))
        return [_rule_json(session, rule) for rule in rules]


def revoke_allow_rule(ctx: Context, rule_id: int) -> dict:
    """Revoke a rule → RULE; the detections it authorised are new again and alerted (``released_ids``)."""
    from monitor.pipeline.allowed import release

    ctx.require("performers")
    with ctx.sessions.begin() as session:
        rule = session.get(AllowRule, rule_id)
        agency_id = ctx.scoped_agency_id()
        if rule is None or (agency_id is not None and rule.agency_id != agency_id) or \
                not ctx.sees_performer(rule.performer_id):
            raise NotFound(f"no allow-list rule with id {rule_id} (see `likeness performer allowed ID`)")
        if rule.revoked_at is not None:
            raise LikenessError(f"rule {rule_id} was revoked already")
        rule.revoked_at = utc_now()
        released = release(session, ctx.config, rule, "the licence was revoked", ctx.actor.name)
        audit.record(ctx, "performer.disallow", f"rule {rule.id}", session=session, agency_id=rule.agency_id,
                     performer_id=rule.performer_id, released=released)
        return _rule_json(session, rule) | {"released_ids": released}


def end_expired_rules(ctx: Context, now: datetime | None = None) -> dict[int, list[int]]:
    """Give back to review what rules whose window has passed authorised (each rule once) → {rule: ids}."""
    from monitor.pipeline.allowed import end_expired_rules as end

    with ctx.sessions.begin() as session:
        return end(session, ctx.config, now or utc_now(), ctx.actor.name)


def _checked_value(kind: str, value: str) -> str:
    value = (value or "").strip()
    if kind not in KINDS:
        raise LikenessError(f"a rule is one of {', '.join(KINDS)}")
    if not value or len(value) > 2000 or (any(c.isspace() for c in value) and kind != "licensee"):
        raise LikenessError(f"not a {kind.replace('_', ' ')}: {value[:80]!r}")
    if kind == "domain":
        value = value.lower().rstrip(".")
        if "/" in value or ":" in value or "." not in value:
            raise LikenessError(f"a domain is a host name such as studio.example, not {value[:80]!r}")
    if kind == "url_prefix" and not value.startswith(("https://", "http://")):
        raise LikenessError(f"a URL prefix starts with https:// or http://, not {value[:80]!r}")
    return value


def _moment(text: str | None, option: str, end_of_day: bool = False) -> datetime | None:
    if not text:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day + timedelta(days=1 if end_of_day else 0), time(), UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise LikenessError(f"{option} must be a date (2027-01-31) or a time (2027-01-31T18:00:00+00:00), "
                            f"not {text[:40]!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _rule_json(session, rule: AllowRule) -> dict:
    now = utc_now()
    state = ("revoked" if rule.revoked_at else "active" if rule.active(now)
             else "scheduled" if rule.valid_from and now < rule.valid_from else "ended")

    def when(moment: datetime | None) -> str | None:
        return moment.isoformat(timespec="seconds") if moment else None

    covered = session.scalars(select(Detection.id).where(Detection.allowed_by_rule_id == rule.id)
                              .order_by(Detection.id))
    return {"id": rule.id, "performer_id": rule.performer_id, "kind": rule.kind, "value": rule.value,
            "valid_from": when(rule.valid_from), "valid_until": when(rule.valid_until), "note": rule.note,
            "state": state, "detection_ids": list(covered), "created_at": when(rule.created_at),
            "created_by": rule.created_by, "revoked_at": when(rule.revoked_at)}
