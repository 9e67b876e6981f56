"""Scans asked for (through the API) run in the background, each for its agency; a crash mid-scan loses none."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from enrollment.errors import LikenessError, NotFound
from monitor.services import accounts, performers, scans
from monitor.services.context import Actor, Context
from monitor.storage.models import ScanRequest

pytestmark = pytest.mark.slow


def _owner(ctx: Context, agency: str) -> Context:
    operator = Context(ctx.config, Actor.local(), _sessions=ctx.sessions)
    agency_id = accounts.add_agency(operator, agency)["id"]
    return Context(ctx.config, Actor(f"owner@{agency.lower()}.example", "token"), agency_id=agency_id,
                   role="owner", _sessions=ctx.sessions)


def test_a_scan_left_running_by_a_dead_process_is_run_again_and_done_once(ctx, make_speech):
    stars, voices = _owner(ctx, "Stars"), _owner(ctx, "Voices")
    ada = performers.add_performer(stars, "Ada", "Ada")["id"]
    performers.enrol_voice(stars, ada, [make_speech("reference", texts=(0, 2))])
    clip = make_speech("found", texts=(1,))
    asked = scans.request_scan(stars, upload=clip, upload_name="found.wav")
    with ctx.sessions.begin() as session:  # as a process that died mid-scan leaves it
        session.execute(update(ScanRequest).values(status="running"))
    runner = Context(ctx.config, Actor.local("system"), _sessions=ctx.sessions)
    assert scans.run_requested_scans(runner) == 0  # running: somebody else's, until requeued
    assert scans.requeue_interrupted_scans(runner) == 1
    assert scans.run_requested_scans(runner) == 1
    done = scans.get_scan_request(stars, asked["id"])
    assert done["status"] == "done" and done["requested_by"] == "owner@stars.example"
    assert [d["performer_id"] for d in done["result"]["detections"]] == [ada]
    assert scans.run_requested_scans(runner) == 0
    with pytest.raises(NotFound):
        scans.get_scan_request(voices, asked["id"])


def test_a_scan_request_is_refused_without_a_proper_target_or_right(ctx, tmp_path):
    stars = _owner(ctx, "Stars")
    legal = Context(ctx.config, Actor("legal@stars.example", "web"), agency_id=stars.agency_id, role="legal",
                    _sessions=ctx.sessions)
    for attempt in (lambda: scans.request_scan(stars), lambda: scans.request_scan(stars, url="file:///etc/passwd"),
                    lambda: scans.request_scan(legal, url="https://example.org/a.mp3")):
        with pytest.raises(LikenessError):
            attempt()
