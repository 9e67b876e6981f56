"""The one place a state change is told with its actor.

Reviews and custody entries keep their actor in their own rows; every other change (performers,
consent, sources, the comparison population, alert preferences) is recorded here, as one structured
record of the ``monitor.audit`` logger: who, what, which object. Persisting it (an insert-only,
hash-chained table per agency) replaces this function's body and nothing else.
"""

from __future__ import annotations

import logging

from monitor.services.context import Context

logger = logging.getLogger("monitor.audit")


def record(ctx: Context, action: str, subject: str, **details: object) -> None:
    """Record that ``ctx.actor`` did ``action`` (``performer.add``) to ``subject`` (``performer 7``)."""
    logger.info("%s %s by %s (%s)", action, subject, ctx.actor.name, ctx.actor.kind,
                extra={"audit": {"action": action, "subject": subject, "actor": ctx.actor.name,
                                 "actor_kind": ctx.actor.kind, "details": details}})
