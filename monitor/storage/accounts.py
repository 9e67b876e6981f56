"""Who may use an install, and what they did: users, their membership of agencies with a role, API tokens,
and each agency's audit trail.

A user is one e-mail address with an argon2 password hash; a membership gives them one role in one agency
(``owner``, ``admin``, ``agent``, ``legal``, ``artist``) and, for artists and agents, the performers they
answer for. A browser signs in to a web session, a program uses a token; each belongs to a membership, and
of neither is the secret stored, only its SHA-256 (the secrets are random, 256 bits, so a fast hash is
enough). Audit events are insert-only and hash-chained per agency like
the custody log (:mod:`monitor.storage.chain`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from enrollment.models import Agency, Base, UTCDateTime, utc_now

ROLES = ("owner", "admin", "agent", "legal", "artist")
TOKEN_SCOPES = ("read", "review", "admin")


class User(Base):
    """A person who signs in: e-mail (lower case) and password hash; ``disabled`` users cannot sign in."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))  # None: no password (tokens only)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    memberships: Mapped[list[Membership]] = relationship(back_populates="user", cascade="all, delete-orphan",
                                                         passive_deletes=True)


class Membership(Base):
    """A user's role in one agency, and the performers an artist (or an agent) answers for."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "agency_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    user: Mapped[User] = relationship(back_populates="memberships")
    agency: Mapped[Agency] = relationship()
    performers: Mapped[list[MembershipPerformer]] = relationship(cascade="all, delete-orphan",
                                                                 passive_deletes=True)


class MembershipPerformer(Base):
    """One performer a membership answers for (an artist: themselves; an agent: the clients they look after)."""

    __tablename__ = "membership_performers"

    membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id", ondelete="CASCADE"), primary_key=True)
    performer_id: Mapped[int] = mapped_column(ForeignKey("performers.id", ondelete="CASCADE"), primary_key=True)


class ApiToken(Base):
    """A named, scoped, expiring bearer token of one membership; ``secret_sha256`` is all that is kept of it."""

    __tablename__ = "api_tokens"
    __table_args__ = (UniqueConstraint("membership_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    scope: Mapped[str] = mapped_column(String(10))
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))  # the token's first characters, to tell tokens apart
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    membership: Mapped[Membership] = relationship()


class WebSession(Base):
    """A signed-in browser: its cookie's SHA-256 (the cookie itself is never stored), its membership and the
    CSRF token its forms carry. Ends at ``expires_at``, at sign-out, or when the membership's role changes."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    membership: Mapped[Membership] = relationship()


class AuditEvent(Base):
    """One entry of an agency's audit trail: who (``actor``, ``actor_kind``), what (``action``), which object
    (``subject``), when; ``entry`` also holds from where (``remote_address``) and the details. Append-only and
    hash-chained per agency (``seq``, ``prev_hash``, ``hash`` over the canonical ``entry``)."""

    __tablename__ = "audit_events"
    __table_args__ = (UniqueConstraint("agency_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(60), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(320))
    actor_kind: Mapped[str] = mapped_column(String(10))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    entry: Mapped[dict] = mapped_column(JSON)  # the whole entry as hashed, seq, prev_hash and hash included
    hash: Mapped[str] = mapped_column(String(64))
