"""Agencies, their users and API tokens: added, listed, created, revoked; and a token or password checked.

The command line (the operator) adds agencies and users; an owner or admin manages their own agency's users
and tokens. A token is shown once, when created (``lm_`` and 43 URL-safe characters: 256 random bits);
only its SHA-256 is stored. Passwords are hashed with argon2id (argon2-cffi's defaults).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from enrollment import agencies as registry
from enrollment.errors import LikenessError, NotFound
from enrollment.models import Agency, Performer, utc_now
from monitor.services import audit
from monitor.services.context import Actor, Context
from monitor.storage.accounts import ROLES, TOKEN_SCOPES, ApiToken, Membership, MembershipPerformer, User, WebSession

TOKEN_PREFIX = "lm_"
MAX_TOKEN_DAYS = 3650
MIN_PASSWORD_CHARS = 12
LAST_USE_PRECISION = timedelta(minutes=1)  # a token's last use is written at most once a minute


class Unauthorized(LikenessError):
    """No valid credentials: a token unknown, expired or revoked; a wrong password."""


def add_agency(ctx: Context, name: str) -> dict:
    """A new agency → ``{"id", "name"}`` (the operator only)."""
    ctx.require("install")
    try:
        with ctx.sessions.begin() as session:
            agency = registry.add_agency(session, name)
            audit.record(ctx, "agency.add", f"agency {agency.id}", session=session, agency_id=agency.id,
                         name=agency.name)
            return {"id": agency.id, "name": agency.name}
    except ValueError as error:
        raise LikenessError(str(error)) from None


def set_agency_contact(ctx: Context, name: str, address: str | None = None, phone: str | None = None,
                       email: str | None = None) -> dict:
    """Change how platforms reach the agency ``name`` (the postal address, telephone and e-mail its takedown
    notices give; "" clears one, None keeps it) → ``{"id", "name", "contact": {"address", "phone", "email"}}``.
    The operator, or an owner or admin of that agency."""
    ctx.require("members")
    email = _clean_email(email) if email else email  # "" clears it
    limits = {"address": (address, 1000), "phone": (phone, 50), "email": (email, 320)}
    for what, (value, most) in limits.items():
        if value is not None and len(value) > most:
            raise LikenessError(f"the {what} is at most {most} characters")
    with ctx.sessions.begin() as session:
        agency = registry.find_agency(session, name)
        if ctx.role is not None and agency.id != ctx.scoped_agency_id():
            raise NotFound(f"no agency named {name!r}")
        for what, (value, _most) in limits.items():
            if value is not None:
                setattr(agency, f"contact_{what}", value.strip() or None)
        contact = {"address": agency.contact_address, "phone": agency.contact_phone, "email": agency.contact_email}
        audit.record(ctx, "agency.contact", f"agency {agency.id}", session=session, agency_id=agency.id,
                     changed=sorted(what for what, (value, _most) in limits.items() if value is not None))
        return {"id": agency.id, "name": agency.name, "contact": contact}


def list_agencies(ctx: Context) -> list[dict]:
    """The agencies this context may see (the operator: all; a user: their own) → ``[{"id", "name"}]``."""
    query = select(Agency).order_by(Agency.id)
    if ctx.role is not None:
        query = query.where(Agency.id == ctx.scoped_agency_id())
    with ctx.reading() as session:
        return [{"id": agency.id, "name": agency.name} for agency in session.scalars(query)]


def hash_password(password: str) -> str:
    from argon2 import PasswordHasher

    return PasswordHasher().hash(password)


def add_user(ctx: Context, email: str, role: str, performer_ids: list[int] | tuple[int, ...] = (),
             password: str | None = None) -> dict:
    """Give ``email`` (a new user, or one of another agency) ``role`` in the context's agency, answering for
    ``performer_ids`` (an artist needs at least one) → ``{"id", "email", "agency", "role", "performer_ids"}``.
    A user already in the agency gets the new role. ``password``: at least 12 characters (None: keep, or none)."""
    ctx.require("members")
    email = _clean_email(email)
    if role not in ROLES:
        raise LikenessError(f"role must be one of {', '.join(ROLES)}")
    if role == "artist" and not performer_ids:
        raise LikenessError("an artist answers for their own performer: give --performer ID")
    if password is not None and len(password) < MIN_PASSWORD_CHARS:
        raise LikenessError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    agency_id = ctx.acting_agency_id()
    with ctx.sessions.begin() as session:
        for performer_id in performer_ids:
            if session.scalar(select(Performer.id).where(Performer.id == performer_id,
                                                         Performer.agency_id == agency_id)) is None:
                raise NotFound(f"no performer with id {performer_id} in this agency (see `likeness performer list`)")
        user = session.scalar(select(User).where(User.email == email)) or User(email=email, disabled=False)
        if password is not None:
            user.password_hash = hash_password(password)
        session.add(user)
        session.flush()
        membership = session.scalar(select(Membership).where(Membership.user_id == user.id,
                                                             Membership.agency_id == agency_id))
        changed_role = membership is not None and membership.role != role
        if changed_role:  # signed-in browsers sign in again, with the new role
            session.execute(update(WebSession).where(WebSession.membership_id == membership.id,
                                                     WebSession.revoked_at.is_(None)).values(revoked_at=utc_now()))
        membership = membership or Membership(user_id=user.id, agency_id=agency_id, role=role)
        membership.role = role
        membership.performers = [MembershipPerformer(performer_id=pid) for pid in dict.fromkeys(performer_ids)]
        session.add(membership)
        session.flush()
        audit.record(ctx, "user.role" if changed_role else "user.add", f"user {user.id}", session=session,
                     agency_id=agency_id, email=email, role=role, performer_ids=list(performer_ids))
        agency_name = session.get(Agency, agency_id).name
        return {"id": user.id, "email": email, "agency": agency_name, "role": role,
                "performer_ids": list(dict.fromkeys(performer_ids))}


def list_members(ctx: Context) -> list[dict]:
    """The agency's users, by e-mail → ``[{"id" (the user's), "email", "role", "performer_ids", "created_at"
    (when they were given their role in the agency)}]``."""
    ctx.require("members")
    with ctx.reading() as session:
        query = (select(Membership).join(User).where(Membership.agency_id == ctx.acting_agency_id())
                 .options(selectinload(Membership.user), selectinload(Membership.performers)).order_by(User.email))
        return [{"id": membership.user_id, "email": membership.user.email, "role": membership.role,
                 "performer_ids": sorted(link.performer_id for link in membership.performers),
                 "created_at": membership.created_at.isoformat(timespec="seconds")}
                for membership in session.scalars(query)]


def _clean_email(email: str) -> str:
    cleaned = email.strip().lower()
    local, _at, domain = cleaned.rpartition("@")
    if not local or "." not in domain or not cleaned.isprintable() or " " in cleaned or len(cleaned) > 320:
        raise LikenessError(f"not an e-mail address: {email.strip()[:100]!r}")
    return cleaned


def create_token(ctx: Context, email: str, name: str, scope: str = "read", expires_days: int | None = 90) -> dict:
    """A new API token for ``email``'s membership of the context's agency → ``{"token", "id", "name", "scope",
    "user", "agency", "expires_at"}``; ``token`` is shown this once. ``expires_days`` 1–3650 (None: never)."""
    ctx.require("members")
    if scope not in TOKEN_SCOPES:
        raise LikenessError(f"scope must be one of {', '.join(TOKEN_SCOPES)}")
    if expires_days is not None and not 1 <= expires_days <= MAX_TOKEN_DAYS:
        raise LikenessError(f"--expires-days must be from 1 to {MAX_TOKEN_DAYS}")
    if not name.strip() or len(name.strip()) > 100 or not name.isprintable():
        raise LikenessError("a token's name must be printable text of 1 to 100 characters")
    agency_id = ctx.acting_agency_id()
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with ctx.sessions.begin() as session:
        membership = _membership(session, _clean_email(email), agency_id)
        if session.scalar(select(ApiToken.id).where(ApiToken.membership_id == membership.id,
                                                    ApiToken.name == name.strip())) is not None:
            raise LikenessError(f"{email} has a token named {name.strip()!r} already")
        token = ApiToken(membership_id=membership.id, name=name.strip(), scope=scope, secret_sha256=_digest(secret),
                         prefix=secret[:10],
                         expires_at=utc_now() + timedelta(days=expires_days) if expires_days else None)
        session.add(token)
        session.flush()
        audit.record(ctx, "token.create", f"token {token.id}", session=session, agency_id=agency_id,
                     name=token.name, scope=scope, user=membership.user.email)
        return {"token": secret, **_token_json(token)}


def _membership(session: Session, email: str, agency_id: int) -> Membership:
    membership = session.scalar(select(Membership).join(User).where(User.email == email,
                                                                    Membership.agency_id == agency_id))
    if membership is None:
        raise NotFound(f"no user {email} in this agency (add one with `likeness user add`)")
    return membership


def _token_json(token: ApiToken) -> dict:
    def when(moment):
        return moment.isoformat(timespec="seconds") if moment is not None else None

    return {"id": token.id, "name": token.name, "scope": token.scope, "prefix": token.prefix,
            "user": token.membership.user.email, "agency": token.membership.agency.name,
            "created_at": when(token.created_at), "expires_at": when(token.expires_at),
            "revoked_at": when(token.revoked_at), "last_used_at": when(token.last_used_at)}


def list_tokens(ctx: Context) -> list[dict]:
    """The agency's tokens (never their secrets), newest first."""
    ctx.require("members")
    with ctx.reading() as session:
        query = (select(ApiToken).join(Membership).where(Membership.agency_id == ctx.acting_agency_id())
                 .options(selectinload(ApiToken.membership)).order_by(ApiToken.id.desc()))
        return [_token_json(token) for token in session.scalars(query)]


def revoke_token(ctx: Context, token_id: int) -> dict:
    """Revoke one of the agency's tokens (from now on it is refused) → the token's row."""
    ctx.require("members")
    with ctx.sessions.begin() as session:
        token = session.scalar(select(ApiToken).join(Membership).where(
            ApiToken.id == token_id, Membership.agency_id == ctx.acting_agency_id()))
        if token is None:
            raise NotFound(f"no token with id {token_id} (see `likeness token list`)")
        token.revoked_at = token.revoked_at or utc_now()
        audit.record(ctx, "token.revoke", f"token {token.id}", session=session, agency_id=token.membership.agency_id,
                     name=token.name)
        return _token_json(token)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def context_for_token(ctx: Context, secret: str, remote_address: str | None = None) -> Context:
    """The context a bearer token acts in: its user, agency, role, scope and performers. Unauthorized (one line,
    the same for every reason) for a token unknown, expired, revoked, or of a disabled user. Its use is noted
    (``last_used_at``, to the minute: a write at most once a minute per token)."""
    refused = Unauthorized("a valid API token is needed (Authorization: Bearer lm_…)")
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        raise refused
    now = utc_now()
    with ctx.reading() as session:  # one query for the token, its membership and user (and an artist's performers)
        found = session.execute(
            select(ApiToken.id, ApiToken.name, ApiToken.scope, ApiToken.revoked_at, ApiToken.expires_at,
                   ApiToken.last_used_at, Membership.id, Membership.agency_id, Membership.role, User.email,
                   User.disabled)
            .join(Membership, ApiToken.membership_id == Membership.id).join(User, Membership.user_id == User.id)
            .where(ApiToken.secret_sha256 == _digest(secret))).first()
        if found is None:
            raise refused
        (token_id, token_name, scope, revoked_at, expires_at, last_used_at, membership_id, agency_id, role, email,
         disabled) = found
        if revoked_at is not None or (expires_at and expires_at <= now) or disabled:
            raise refused
        performer_ids = answers_for(session, membership_id, role)
    if last_used_at is None or now - last_used_at > LAST_USE_PRECISION:
        with ctx.sessions.begin() as session:
            session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
    return Context(ctx.config, Actor(f"{email} (token {token_name})", "token", remote_address), agency_id=agency_id,
                   role=role, scope=scope, performer_ids=performer_ids, _sessions=ctx.sessions)


def answers_for(session: Session, membership_id: int, role: str) -> frozenset[int] | None:
    """The performers a membership is limited to: an artist's own (none left: none at all), an agent's clients
    where any are named; None: the whole agency."""
    if role not in ("artist", "agent"):
        return None
    performers = frozenset(session.scalars(select(MembershipPerformer.performer_id)
                                           .where(MembershipPerformer.membership_id == membership_id)))
    return performers if role == "artist" or performers else None
