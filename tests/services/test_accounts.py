"""Users and API tokens: a token is shown once and stored hashed; expired, revoked or unknown tokens are refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from enrollment.errors import LikenessError, NotFound
from enrollment.models import utc_now
from monitor.services import accounts, performers
from monitor.services.accounts import Unauthorized
from monitor.services.context import Actor, Context
from monitor.storage.accounts import ApiToken, User


@pytest.fixture
def operator(ctx: Context) -> Context:
    return Context(ctx.config, Actor.local(), _sessions=ctx.sessions)


def test_a_token_is_shown_once_stored_as_a_hash_and_acts_as_its_user(operator):
    ada = performers.add_performer(operator, "Ada", "Ada")["id"]
    accounts.add_user(operator, "Ada@Artists.example ", "artist", [ada], password="a long passphrase")
    created = accounts.create_token(operator, "ada@artists.example", "phone", "review", 30)
    assert created["token"].startswith("lm_") and len(created["token"]) >= 40
    with operator.sessions() as session:
        stored = session.scalar(select(ApiToken))
        user = session.scalar(select(User))
    assert created["token"] not in (stored.secret_sha256, stored.prefix) and len(stored.secret_sha256) == 64
    assert user.email == "ada@artists.example" and user.password_hash.startswith("$argon2id$")
    acting = accounts.context_for_token(operator, created["token"], "10.0.0.5")
    assert (acting.role, acting.scope, acting.performer_ids) == ("artist", "review", frozenset({ada}))
    assert acting.actor.kind == "token" and acting.actor.remote_address == "10.0.0.5"
    assert "token" not in accounts.list_tokens(operator)[0]
    assert accounts.list_tokens(operator)[0]["last_used_at"] is not None


@pytest.mark.parametrize("spoil", ["revoke", "expire", "disable", "unknown"])
def test_a_revoked_expired_disabled_or_unknown_token_is_refused_alike(operator, spoil):
    accounts.add_user(operator, "legal@agency.example", "legal")
    created = accounts.create_token(operator, "legal@agency.example", "exports", "read")
    secret = created["token"]
    if spoil == "revoke":
        accounts.revoke_token(operator, created["id"])
    with operator.sessions.begin() as session:
        if spoil == "expire":
            session.scalar(select(ApiToken)).expires_at = utc_now() - timedelta(seconds=1)
        if spoil == "disable":
            session.scalar(select(User)).disabled = True
    if spoil == "unknown":
        secret = secret[:-4] + "AAAA"
    with pytest.raises(Unauthorized, match="a valid API token is needed"):
        accounts.context_for_token(operator, secret)


def test_bad_user_and_token_requests_get_one_line_and_change_nothing(operator):
    for attempt, message in (
        (lambda: accounts.add_user(operator, "not-an-address", "agent"), "not an e-mail address"),
        (lambda: accounts.add_user(operator, "a@b.example", "emperor"), "role must be one of"),
        (lambda: accounts.add_user(operator, "a@b.example", "artist"), "give --performer"),
        (lambda: accounts.add_user(operator, "a@b.example", "agent", password="short"), "at least 12"),
        (lambda: accounts.create_token(operator, "nobody@b.example", "x"), "no user nobody@b.example"),
    ):
        with pytest.raises(LikenessError, match=message):
            attempt()
    with pytest.raises(NotFound):
        accounts.add_user(operator, "a@b.example", "artist", [404])
    with operator.sessions() as session:
        assert session.scalar(select(User)) is None


def test_a_users_role_changes_in_place(operator):
    first = accounts.add_user(operator, "sam@agency.example", "agent")
    again = accounts.add_user(operator, "sam@agency.example", "admin")
    assert first["id"] == again["id"] and again["role"] == "admin"
    from monitor.services import audit

    assert [entry["action"] for entry in audit.read_trail(operator, 2)] == ["user.role", "user.add"]
