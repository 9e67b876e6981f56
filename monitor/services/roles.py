"""What each role may do in its agency, and what each API token scope lets through.

The operator at the command line (a Context without a role) may do everything, in every agency. A user acts
through one membership: their role's permissions, narrowed by a token's scope when they come with a token.
"""

from __future__ import annotations

from enrollment.errors import LikenessError

# read: detections, performers, sources, alerts of the agency (an artist's: only their own performers')
# review: record a decision on a detection; evidence: export bundles; audit: read the audit trail
# performers: add, consent, enrol, remove; sources: add, pause, resume, remove, crawl; scan: scan on demand
# notices: draft, send and track takedown notices (their signer too must hold it)
# members: users, roles and API tokens; install: what every agency shares (the comparison population, the home)
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "owner": frozenset({"read", "review", "evidence", "audit", "performers", "sources", "scan", "members",
                        "notices"}),
    "admin": frozenset({"read", "review", "evidence", "audit", "performers", "sources", "scan", "members",
                        "notices"}),
    "agent": frozenset({"read", "review", "sources", "scan"}),
    "legal": frozenset({"read", "evidence", "audit", "notices"}),
    "artist": frozenset({"read", "review"}),
}
SCOPE_PERMISSIONS: dict[str, frozenset[str]] = {
    "read": frozenset({"read"}),
    "review": frozenset({"read", "review"}),
    "admin": frozenset.union(*ROLE_PERMISSIONS.values()),
}
ARTIST_DECISIONS = {  # what an artist says of a detection of themselves → the status it records
    "authorized": "authorized",  # "authorised by me"
    "confirmed": "confirmed",    # "not authorised": it is me, and I did not agree to it
    "dismissed": "dismissed",    # "not me"
}
ARTIST_WORDS = {"authorized": "authorised by me", "confirmed": "not authorised", "dismissed": "not me"}


class Forbidden(LikenessError):
    """The actor's role (or token scope) does not allow the operation."""


def permissions(role: str | None, scope: str | None = None) -> frozenset[str] | None:
    """What ``role`` (narrowed by ``scope``) may do; None: everything (the operator)."""
    if role is None:
        return None
    allowed = ROLE_PERMISSIONS[role]
    return allowed & SCOPE_PERMISSIONS[scope] if scope is not None else allowed
