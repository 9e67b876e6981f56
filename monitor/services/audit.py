"""The one place a state change is told with its actor: each agency's audit trail.

Every change (reviews, performers, consent, references, sources, exports, users, tokens, sign-ins) is appended
to the trail of the agency it belongs to: insert-only and hash-chained (:mod:`monitor.storage.audit_log`), in
the transaction of the change where the caller gives its session. What belongs to no agency (the comparison
population shared by all) is told to the ``monitor.audit`` logger only. Secrets are never details.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from enrollment.errors import LikenessError
from monitor.services.context import Context
from monitor.storage import audit_log

logger = logging.getLogger("monitor.audit")


def record(ctx: Context, action: str, subject: str, *, agency_id: int | None = None, session: Session | None = None,
           **details: object) -> None:
    """Record that ``ctx.actor`` did ``action`` (``performer.add``) to ``subject`` (``performer 7``) in
    ``agency_id``'s trail (default: the context's agency; none known: the log only), within ``session`` when
    given, else in a transaction of its own."""
    actor = ctx.actor
    logger.info("%s %s by %s (%s)", action, subject, actor.name, actor.kind,
                extra={"audit": {"action": action, "subject": subject, "actor": actor.name,
                                 "actor_kind": actor.kind, "details": details}})
    agency_id = agency_id if agency_id is not None else ctx.scoped_agency_id()
    if agency_id is None:
        return
    if session is not None:
        audit_log.append(session, agency_id, action, subject, actor.name, actor.kind, actor.remote_address, details)
        return
    with ctx.sessions.begin() as own:
        audit_log.append(own, agency_id, action, subject, actor.name, actor.kind, actor.remote_address, details)


def read_trail(ctx: Context, limit: int = 100, before_seq: int | None = None) -> list[dict]:
    """The agency's audit entries, newest first (``limit`` 1–1000), as stored (hash-chained)."""
    ctx.require("audit")
    if not 1 <= limit <= 1000:
        raise LikenessError("limit must be from 1 to 1000")
    with ctx.reading() as session:
        return audit_log.trail(session, ctx.acting_agency_id(), limit, before_seq)
