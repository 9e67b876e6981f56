"""Sources through the service layer: validated once for every front end, changes told with their actor."""

from __future__ import annotations

import logging

import pytest

from enrollment.errors import LikenessError, NotFound
from monitor.cli.sources import KIND_CHOICES
from monitor.services import sources


def test_the_cli_offers_exactly_the_kinds_the_service_accepts():
    assert KIND_CHOICES == sources.KINDS


def test_a_folder_is_added_listed_paused_resumed_and_removed(ctx, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="monitor.audit")
    added = sources.add_source(ctx, str(tmp_path), every_s=3600, name="drop folder")
    assert added == {"id": added["id"], "kind": "folder", "url": str(tmp_path.resolve()), "every_s": 3600}
    assert sources.change_source(ctx, added["id"], "pause") == {"id": added["id"], "change": "pause"}
    [row] = sources.list_sources(ctx)
    assert row["paused"] is True and row["name"] == "drop folder" and row["depth"] == ctx.config.crawl.default_depth
    sources.change_source(ctx, added["id"], "resume")
    assert sources.list_sources(ctx)[0]["paused"] is False
    sources.change_source(ctx, added["id"], "remove")
    assert sources.list_sources(ctx) == []
    told = [(r.audit["action"], r.audit["actor"]) for r in caplog.records if r.name == "monitor.audit"]
    assert told == [(f"source.{change}", "ada@agency.example") for change in ("add", "pause", "resume", "remove")]


@pytest.mark.parametrize(("arguments", "message"), [
    ({"every_s": 59}, "at least 60 s"),
    ({"kind": "podcast"}, "kind must be one of"),
    ({"kind": "feed"}, "a local folder can only be --kind folder"),
])
def test_what_no_front_end_may_add_is_refused_in_one_line(ctx, tmp_path, arguments, message):
    with pytest.raises(LikenessError, match=message):
        sources.add_source(ctx, str(tmp_path), **arguments)
    assert sources.list_sources(ctx) == []


def test_a_path_that_is_not_a_folder_and_an_unknown_source_are_refused(ctx, tmp_path):
    with pytest.raises(LikenessError, match="neither an http"):
        sources.add_source(ctx, str(tmp_path / "missing"))
    with pytest.raises(NotFound, match="no source with id 5"):
        sources.change_source(ctx, 5, "pause")


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("30m", 1800), ("6h", 21600), ("1d", 86400), ("120", 120)])
def test_every_is_read_in_seconds_minutes_hours_or_days(text, seconds):
    assert sources.parse_every(text) == seconds
