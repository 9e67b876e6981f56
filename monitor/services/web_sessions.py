"""Signing in from a browser: a password checked (argon2id), a server-side session made, found again by its
cookie, and ended; failed attempts slowed down.

The cookie holds 256 random bits; the database keeps only their SHA-256. Every failure to sign in gets the
same answer, for an unknown address as for a wrong password (the hash is checked against a stand-in so
that both take as long), and after ``MAX_FAILURES`` failures within ``FAILURE_WINDOW_S`` for an address or
from a client, further attempts are refused until the window has passed.
"""

from __future__ import annotations

import collections
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update

from enrollment.errors import LikenessError
from enrollment.models import utc_now
from monitor.services import audit
from monitor.services.accounts import Unauthorized, answers_for
from monitor.services.context import Actor, Context
from monitor.storage.accounts import Membership, User, WebSession

SESSION_HOURS = 12
MAX_FAILURES = 5
FAILURE_WINDOW_S = 900.0
REFUSED = "wrong e-mail address or password"


class TooManyAttempts(LikenessError):
    """Too many failed sign-ins for this address or from this client: wait, then try again."""


@dataclass(frozen=True)
class SignedIn:
    """A browser's session: its ``cookie`` secret (set once, at sign-in) and the context it acts in."""

    cookie: str
    csrf_token: str
    ctx: Context


class _Failures:
    """Failed sign-ins per key (an address, a client) in the last FAILURE_WINDOW_S seconds, in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._times: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)

    def too_many(self, *keys: str) -> bool:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                times = self._times[key]
                while times and now - times[0] > FAILURE_WINDOW_S:
                    times.popleft()
            return any(len(self._times[key]) >= MAX_FAILURES for key in keys)

    def add(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._times[key].append(time.monotonic())


FAILURES = _Failures()
_STAND_IN = None  # a hash checked for unknown addresses, so that they take as long as a wrong password


def _verify(password_hash: str | None, password: str) -> bool:
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError

    global _STAND_IN
    hasher = PasswordHasher()
    if password_hash is None:
        _STAND_IN = _STAND_IN or hasher.hash(secrets.token_urlsafe(16))
        password_hash, password = _STAND_IN, password + "\0"
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def sign_in(ctx: Context, email: str, password: str, remote_address: str | None) -> SignedIn:
    """A new session for ``email`` (its first agency) once ``password`` is right; Unauthorized with the same
    line whatever was wrong, TooManyAttempts after too many failures. Recorded in the agency's audit trail."""
    email = email.strip().lower()[:320]
    keys = (f"email:{email}", f"client:{remote_address}")
    if FAILURES.too_many(*keys):
        raise TooManyAttempts("too many failed attempts: try again in 15 minutes")
    with ctx.reading() as session:
        user = session.scalar(select(User).where(User.email == email))
        membership = session.scalar(select(Membership).where(Membership.user_id == user.id)
                                    .order_by(Membership.id)) if user is not None else None
        right = _verify(user.password_hash if user is not None else None, password)
    if not right or user is None or user.disabled or membership is None:
        FAILURES.add(*keys)
        raise Unauthorized(REFUSED)
    cookie, csrf_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with ctx.sessions.begin() as session:
        session.add(WebSession(secret_sha256=_digest(cookie), membership_id=membership.id, csrf_token=csrf_token,
                               expires_at=utc_now() + timedelta(hours=SESSION_HOURS)))
        actor = Actor(email, "web", remote_address)
        audit.record(Context(ctx.config, actor, _sessions=ctx.sessions), "user.sign_in", f"user {user.id}",
                     session=session, agency_id=membership.agency_id)
    return SignedIn(cookie, csrf_token, session_context(ctx, cookie, remote_address)[1])


def session_context(ctx: Context, cookie: str, remote_address: str | None) -> tuple[str, Context]:
    """(the session's CSRF token, the context it acts in) for a browser's cookie; Unauthorized when it is
    unknown, expired or ended."""
    with ctx.reading() as session:  # one query for the session, its membership and user
        found = session.execute(
            select(WebSession.csrf_token, WebSession.revoked_at, WebSession.expires_at, Membership.id,
                   Membership.agency_id, Membership.role, User.email, User.disabled)
            .join(Membership, WebSession.membership_id == Membership.id).join(User, Membership.user_id == User.id)
            .where(WebSession.secret_sha256 == _digest(cookie[:200]))).first()
        if found is None:
            raise Unauthorized("please sign in")
        csrf_token, revoked_at, expires_at, membership_id, agency_id, role, email, disabled = found
        if revoked_at is not None or expires_at <= utc_now() or disabled:
            raise Unauthorized("please sign in")
        acting = Context(ctx.config, Actor(email, "web", remote_address), agency_id=agency_id, role=role,
                         performer_ids=answers_for(session, membership_id, role), _sessions=ctx.sessions)
        return csrf_token, acting


def sign_out(ctx: Context, cookie: str) -> None:
    """End the browser's session (nothing happens for one already ended)."""
    with ctx.sessions.begin() as session:
        session.execute(update(WebSession).where(WebSession.secret_sha256 == _digest(cookie[:200]),
                                                 WebSession.revoked_at.is_(None)).values(revoked_at=utc_now()))
