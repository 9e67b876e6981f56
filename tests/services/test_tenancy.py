"""Agencies are kept apart: each sees, changes and exports only its own, and never learns what another holds.

A media is analysed once against every agency's performers, and every match is kept for its performer's agency;
an agency sees its detections of a media only once it has found that media itself.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from enrollment.errors import NotFound
from monitor.matching.gallery import Match
from monitor.pipeline.record import Seen, record_sighting, save_match
from monitor.services import accounts, audit, detections, evidence, performers, sources
from monitor.services.context import Actor, Context
from monitor.services.roles import Forbidden
from monitor.storage import audit_log
from monitor.storage.chain import canonical, chain_problems
from monitor.storage.models import Detection


def _member(ctx: Context, agency_id: int, role: str = "owner", performer_ids: frozenset[int] | None = None,
            name: str = "someone@agency.example") -> Context:
    return Context(ctx.config, Actor(name, "web"), agency_id=agency_id, role=role, performer_ids=performer_ids,
                   _sessions=ctx.sessions)


@pytest.fixture
def two_agencies(ctx: Context) -> dict:
    """Stars (Ada) and Voices (Bea); one media found by Stars only, matching both Ada and Bea."""
    operator = Context(ctx.config, Actor.local(), _sessions=ctx.sessions)
    stars = accounts.add_agency(operator, "Stars")["id"]
    voices = accounts.add_agency(operator, "Voices")["id"]
    as_stars, as_voices = _member(ctx, stars, name="ann@stars.example"), _member(ctx, voices, name="vic@voices.example")
    ada = performers.add_performer(as_stars, "Ada", "Ada")["id"]
    bea = performers.add_performer(as_voices, "Bea", "Bea")["id"]
    with ctx.sessions.begin() as session:
        media = record_sighting(session, "cd" * 32, 10, Seen("https://stars.example/clip.mp3", agency_id=stars))
        media.media_type, media.duration_s = "audio", 30.0
        ids = {name: save_match(session, media, Match(performer_id, "voice", 0.9, 0.8, []), 0.5, "test").id
               for name, performer_id in (("ada", ada), ("bea", bea))}
    return {"stars": as_stars, "voices": as_voices, "ada": ada, "bea": bea, "media_id": media.id,
            "voices_id": voices, **{f"{name}_detection": id_ for name, id_ in ids.items()}}


def test_an_agency_sees_its_detections_only_of_media_it_found_itself(two_agencies, ctx):
    stars, voices = two_agencies["stars"], two_agencies["voices"]
    assert [d["id"] for d in detections.list_detections(stars)] == [two_agencies["ada_detection"]]
    assert detections.list_detections(voices) == []  # Bea matched, but Voices never found the media
    with pytest.raises(NotFound):
        detections.get_detection(voices, two_agencies["bea_detection"])
    with ctx.sessions.begin() as session:  # Voices' crawl finds the same bytes
        record_sighting(session, "cd" * 32, 10, Seen("https://voices.example/same-bytes.mp3",
                                                     agency_id=two_agencies["voices_id"]))
    [seen] = detections.list_detections(voices)
    assert seen["id"] == two_agencies["bea_detection"]
    assert seen["media"]["source"] == "https://voices.example/same-bytes.mp3"  # its own sighting, not Stars'


def test_another_agencys_ids_are_answered_as_if_they_did_not_exist_and_nothing_changes(two_agencies, tmp_path):
    stars, voices = two_agencies["stars"], two_agencies["voices"]
    ada_detection = two_agencies["ada_detection"]
    for attempt in (lambda: detections.get_detection(voices, ada_detection),
                    lambda: detections.review(voices, ada_detection, "dismissed"),
                    lambda: evidence.export_evidence(voices, [ada_detection], tmp_path / "bundle.zip"),
                    lambda: performers.remove_performer(voices, two_agencies["ada"]),
                    lambda: performers.record_consent(voices, two_agencies["ada"], "Mallory")):
        with pytest.raises(NotFound):
            attempt()
    assert detections.get_detection(stars, ada_detection)["status"] == "new"
    assert [p["name"] for p in performers.list_performers(voices)] == ["Bea"]
    assert not (tmp_path / "bundle.zip").exists()


def test_sources_belong_to_the_agency_that_added_them(two_agencies):
    stars, voices = two_agencies["stars"], two_agencies["voices"]
    from monitor.storage.models import Source

    with stars.sessions.begin() as session:
        session.add(Source(agency_id=stars.agency_id, kind="feed", url="https://stars.example/feed", every_s=3600,
                           depth=1))
    [source] = sources.list_sources(stars)
    assert sources.list_sources(voices) == []
    with pytest.raises(NotFound):
        sources.change_source(voices, source["id"], "pause")
    assert sources.list_sources(stars)[0]["paused"] is False


def test_a_web_user_may_not_watch_a_folder_of_the_server(two_agencies, tmp_path):
    with pytest.raises(Forbidden):
        sources.add_source(two_agencies["stars"], str(tmp_path))


def test_each_role_may_do_only_what_it_is_for(two_agencies, tmp_path):
    stars = two_agencies["stars"]
    legal = _member(stars, stars.agency_id, "legal")
    agent = _member(stars, stars.agency_id, "agent")
    with pytest.raises(Forbidden):
        detections.review(legal, two_agencies["ada_detection"], "confirmed")
    with pytest.raises(Forbidden):
        performers.add_performer(agent, "Cy", "Cy")
    with pytest.raises(Forbidden):
        evidence.export_evidence(agent, [two_agencies["ada_detection"]], tmp_path / "bundle.zip")
    assert detections.review(agent, two_agencies["ada_detection"], "confirmed")["status"] == "confirmed"
    assert len(audit.read_trail(legal)) >= 2  # legal reads the trail


def test_an_artist_sees_only_their_own_and_their_word_is_kept(two_agencies):
    stars = two_agencies["stars"]
    cy = performers.add_performer(stars, "Cy", "Cy")["id"]
    artist = _member(stars, stars.agency_id, "artist", frozenset({two_agencies["ada"]}), "ada@artists.example")
    others = _member(stars, stars.agency_id, "artist", frozenset({cy}), "cy@artists.example")
    assert [p["name"] for p in performers.list_performers(artist)] == ["Ada"]
    assert performers.performer_names(artist) == [{"id": two_agencies["ada"], "name": "Ada"}]
    assert [p["name"] for p in performers.performer_names(stars)] == ["Ada", "Cy"]
    assert detections.list_detections(others) == []
    with pytest.raises(NotFound):
        detections.review(others, two_agencies["ada_detection"], "dismissed")
    reviewed = detections.review(artist, two_agencies["ada_detection"], "dismissed", "that is not my voice")
    assert reviewed["status"] == "dismissed"
    [latest, *_] = audit.read_trail(stars)
    assert latest["action"] == "detection.review" and latest["actor"] == "ada@artists.example"
    assert latest["details"]["artist_says"] == "not me"


def test_each_agency_keeps_its_own_unbroken_audit_trail(two_agencies):
    stars, voices = two_agencies["stars"], two_agencies["voices"]
    detections.review(stars, two_agencies["ada_detection"], "confirmed", "a clone")
    with stars.sessions() as session:
        stars_trail = list(reversed(audit_log.trail(session, stars.agency_id)))
    with voices.sessions() as session:
        voices_trail = list(reversed(audit_log.trail(session, voices.agency_id)))
    assert [entry["action"] for entry in stars_trail] == ["agency.add", "performer.add", "detection.review"]
    assert [entry["action"] for entry in voices_trail] == ["agency.add", "performer.add"]
    for trail in (stars_trail, voices_trail):
        assert chain_problems(canonical(entry) for entry in trail) == []
    assert stars_trail[-1]["actor"] == "ann@stars.example" and stars_trail[-1]["actor_kind"] == "web"


def test_the_operator_names_an_agency_or_works_in_the_only_one(ctx):
    operator = Context(ctx.config, Actor.local(), _sessions=ctx.sessions)
    performers.add_performer(operator, "Ada", "Ada")  # the first agency, "default", is made
    assert [a["name"] for a in accounts.list_agencies(operator)] == ["default"]
    accounts.add_agency(operator, "Voices")
    from enrollment.agencies import AgencyUnnamed

    with pytest.raises(AgencyUnnamed, match="--agency"):
        Context(ctx.config, Actor.local(), _sessions=ctx.sessions).acting_agency_id()
    named = Context(ctx.config, Actor.local(), agency_name="Voices", _sessions=ctx.sessions)
    performers.add_performer(named, "Bea", "Bea")
    assert [p["name"] for p in performers.list_performers(named)] == ["Bea"]
    assert [p["name"] for p in performers.list_performers(operator)] == ["Ada", "Bea"]  # the operator sees all
    with ctx.sessions() as session:
        assert session.scalar(select(Detection)) is None


def test_a_bulk_decision_goes_on_past_an_id_it_may_not_touch(two_agencies):
    stars = two_agencies["stars"]
    done = detections.review_many(stars, [two_agencies["bea_detection"], two_agencies["ada_detection"]], "dismissed")
    assert done["reviewed"] == [two_agencies["ada_detection"]]
    assert [refused["id"] for refused in done["refused"]] == [two_agencies["bea_detection"]]
    assert detections.get_detection(stars, two_agencies["ada_detection"])["status"] == "dismissed"
