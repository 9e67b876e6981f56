"""Every route of the API, asked about another agency's objects, answers 404 and changes nothing.

The walk reads the routes from the served OpenAPI schema, so a route added later is walked too: each gets the
other agency's ids for its path and a valid body, and must answer exactly as for an id that does not exist.
"""

from __future__ import annotations

import re

from monitor.services import detections, performers, scans, sources
from monitor.storage.models import Source
from tests.web.conftest import Server, found_detection

BODIES = {  # a valid body for each route that takes one (the walk fails on a new route until it is given one)
    ("post", "/api/v1/detections/{detection_id}/review"): {"json": {"status": "dismissed"}},
    ("post", "/api/v1/performers/{performer_id}/references"): {
        "data": {"modality": "voice"}, "files": [("files", ("clip.wav", b"RIFF", "audio/wav"))]},
    ("post", "/api/v1/sources/{source_id}/{change}"): {},
    ("post", "/api/v1/evidence"): {"json": {"detection_ids": ["{detection_id}"]}},
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


def _fill(text: str, ids: dict) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), text)


def _body(options: dict, ids: dict) -> dict:
    filled = dict(options)
    if "json" in filled:
        filled["json"] = {key: [int(_fill(v, ids)) if isinstance(v, str) else v for v in value]
                          if isinstance(value, list) else value for key, value in filled["json"].items()}
    return filled


def test_every_route_answers_404_for_another_agencys_ids_and_changes_nothing(server: Server, agencies):
    stars, voices = agencies["Stars"], agencies["Voices"]
    stars_ids = {"detection_id": found_detection(stars), "performer_id": stars.performer_id,
                 "source_id": _source(stars), "change": "pause", "scan_id": scans.request_scan(stars.ctx, url="https://stars.example/a.mp3")["id"]}
    before = (detections.list_detections(stars.ctx), performers.list_performers(stars.ctx),
              sources.list_sources(stars.ctx))
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
    assert len(walked) >= 5
    assert server.get("/api/v1/detections", voices.token).json() == {"items": [], "next_cursor": None}
    assert [p["name"] for p in server.get("/api/v1/performers", voices.token).json()] == ["Voices Performer"]
    assert server.get("/api/v1/sources", voices.token).json() == []
    after = (detections.list_detections(stars.ctx), performers.list_performers(stars.ctx),
             sources.list_sources(stars.ctx))
    assert after == before


def test_an_id_that_exists_nowhere_answers_exactly_as_another_agencys(server: Server, agencies):
    stars, voices = agencies["Stars"], agencies["Voices"]
    theirs = server.get(f"/api/v1/detections/{found_detection(stars)}", voices.token)
    nowhere = server.get("/api/v1/detections/999999", voices.token)
    assert theirs.status_code == nowhere.status_code == 404
    assert theirs.json()["detail"].replace(str(theirs.url).rsplit("/", 1)[1], "N") == \
        nowhere.json()["detail"].replace("999999", "N")
