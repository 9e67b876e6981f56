"""Every route of the API, asked about another agency's objects, answers 404 and changes nothing.

The walk reads the routes from the served OpenAPI schema, so a route added later is walked too: each gets the
other agency's ids for its path and a valid body, and must answer exactly as for an id that does not exist.
"""

from __future__ import annotations

import re

from monitor.services import allow_rules, detections, notices, performers, scans, sources
from monitor.storage.models import Source
from monitor.storage.notices import Notice, NoticeDetection, NoticeEvent
from tests.web.conftest import Server, found_detection

BODIES = {  # a valid body for each route that takes one (the walk fails on a new route until it is given one)
    ("post", "/api/v1/detections/{detection_id}/review"): {"json": {"status": "dismissed"}},
    ("post", "/api/v1/performers/{performer_id}/references"): {
        "data": {"modality": "voice"}, "files": [("files", ("clip.wav", b"RIFF", "audio/wav"))]},
    ("post", "/api/v1/sources/{source_id}/{change}"): {},
    ("post", "/api/v1/evidence"): {"json": {"detection_ids": ["{detection_id}"]}},
    ("post", "/api/v1/notices"): {"json": {"detection_ids": ["{detection_id}"], "basis": "publicity",
                                           "signer_email": "owner@voices.example", "signer_name": "Vi Owner",
                                           "to": "copyright@site.example"}},
    ("post", "/api/v1/notices/recheck"): {"json": {"notice_id": "{notice_id}", "now": True}},
    ("post", "/api/v1/notices/{notice_id}/mark"): {"json": {"status": "withdrawn"}},
    ("post", "/api/v1/performers/{performer_id}/allow-rules"): {"json": {"kind": "domain", "value": "site.example"}},
    ("post", "/api/v1/performers"): None,  # creates in the caller's own agency: nothing of another to name
    ("post", "/api/v1/sources"): None,
    ("post", "/api/v1/scans"): None,
}


def _source(agency) -> int:
    with agency.ctx.sessions.begin() as session:
        source = Source(agency_id=agency.id, kind="feed", url="https://stars.example/feed", every_s=3600, depth=1)
        session.add(source)
        session.flush()
        return source.id


def _notice(agency, detection_id: int) -> int:
    """A notice of the agency's, sent (as drafting would have kept it: its files are not needed here)."""
    with agency.ctx.sessions.begin() as session:
        notice = Notice(agency_id=agency.id, basis="publicity", status="sent", recipient="copyright@site.example",
                        host="site.example", signer_email="owner@stars.example", signer_name="Sam Owner",
                        text="a notice", evidence_sha256="0" * 64, evidence_fingerprint="SHA256:test")
        notice.detections = [NoticeDetection(detection_id=detection_id)]
        notice.events = [NoticeEvent(agency_id=agency.id, status="sent", actor="owner@stars.example")]
        session.add(notice)
        session.flush()
        return notice.id


def _rule(agency) -> int:
    return allow_rules.add_allow_rule(agency.ctx, agency.performer_id, "domain", "stars.example")["id"]


def _fill(text: str, ids: dict) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), text)


def _body(options: dict, ids: dict) -> dict:
    filled = dict(options)
    if "json" in filled:
        filled["json"] = {key: _filled(value, ids) for key, value in filled["json"].items()}
    return filled


def _filled(value: object, ids: dict) -> object:
    """A body's value with "{name}" replaced by that id (in a list too); other values as they are."""
    if isinstance(value, list):
        return [_filled(item, ids) for item in value]
    if isinstance(value, str) and re.fullmatch(r"\{\w+\}", value):
        return int(_fill(value, ids))
    return value


def test_every_route_answers_404_for_another_agencys_ids_and_changes_nothing(server: Server, agencies):
    stars, voices = agencies["Stars"], agencies["Voices"]
    detection_id = found_detection(stars)
    stars_ids = {"detection_id": detection_id, "performer_id": stars.performer_id, "source_id": _source(stars),
                 "change": "pause", "scan_id": scans.request_scan(stars.ctx, url="https://stars.example/a.mp3")["id"],
                 "notice_id": _notice(stars, detection_id), "rule_id": _rule(stars), "which": "pdf"}
    before = _everything(stars)
    schema = server.get("/api/v1/openapi.json").json()
    walked = []
    for path, methods in schema["paths"].items():
        for method in methods:
            if "{" not in path and (method, path) in BODIES and BODIES[(method, path)] is None:
                continue
            if "{" not in path and method == "get":
                continue  # lists: walked below, they show only the caller's own
            options = BODIES.get((method, path), {})
            answer = getattr(server, method)(_fill(path, stars_ids), voices.token, **_body(options, stars_ids))
            assert answer.status_code == 404, f"{method.upper()} {path}: {answer.status_code} {answer.text}"
            assert answer.headers["content-type"] == "application/problem+json"
            walked.append((method, path))
    assert len(walked) >= 15
    assert server.get("/api/v1/detections", voices.token).json() == {"items": [], "next_cursor": None}
    assert [p["name"] for p in server.get("/api/v1/performers", voices.token).json()] == ["Voices Performer"]
    assert server.get("/api/v1/sources", voices.token).json() == []
    assert server.get("/api/v1/notices", voices.token).json() == []
    assert _everything(stars) == before


def _everything(agency) -> tuple:
    return (detections.list_detections(agency.ctx), performers.list_performers(agency.ctx),
            sources.list_sources(agency.ctx), notices.list_notices(agency.ctx),
            allow_rules.list_allow_rules(agency.ctx, agency.performer_id))


def test_an_id_that_exists_nowhere_answers_exactly_as_another_agencys(server: Server, agencies):
    stars, voices = agencies["Stars"], agencies["Voices"]
    theirs = server.get(f"/api/v1/detections/{found_detection(stars)}", voices.token)
    nowhere = server.get("/api/v1/detections/999999", voices.token)
    assert theirs.status_code == nowhere.status_code == 404
    assert theirs.json()["detail"].replace(str(theirs.url).rsplit("/", 1)[1], "N") == \
        nowhere.json()["detail"].replace("999999", "N")
