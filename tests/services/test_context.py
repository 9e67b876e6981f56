"""The context every operation takes: who acts, with which configuration and database."""

from __future__ import annotations

from monitor.services.context import Actor, Context
from monitor.storage.custody import local_actor


def test_the_local_actor_is_the_user_at_this_host_as_custody_entries_name_it():
    actor = Actor.local()
    assert actor.kind == "cli" and actor.name == local_actor() and "@" in actor.name
    assert Actor.local("worker").kind == "worker"


def test_the_database_is_opened_on_first_use_only(ctx: Context, home):
    assert ctx._sessions is None and not home.exists()  # an operation without a database opens none
    with ctx.sessions() as session:
        assert session.bind is not None
    assert ctx.sessions is ctx.sessions
