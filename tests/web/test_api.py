"""The REST API on a real server: the CLI's JSON shapes, bearer tokens, problems for every refusal."""

from __future__ import annotations

import pytest

from monitor.services import detections
from tests.web.conftest import Server, found_detection

PROBLEM = "application/problem+json"


def test_detections_are_listed_shown_and_reviewed_in_the_clis_json_shapes(server: Server, agencies):
    stars = agencies["Stars"]
    first, second = found_detection(stars, "ab"), found_detection(stars, "cd")
    page = server.get("/api/v1/detections?limit=1", stars.token).json()
    assert [item["id"] for item in page["items"]] == [second] and page["next_cursor"]
    rest = server.get(f"/api/v1/detections?limit=1&cursor={page['next_cursor']}", stars.token).json()
    assert [item["id"] for item in rest["items"]] == [first] and rest["next_cursor"] is None
    shown = server.get(f"/api/v1/detections/{first}", stars.token).json()
    assert shown == detections.get_detection(stars.ctx, first)  # the CLI's DETECTION object, as it is
    reviewed = server.post(f"/api/v1/detections/{first}/review", stars.token,
                           json={"status": "confirmed", "note": "a clone in an advert"})
    assert reviewed.status_code == 200 and reviewed.json()["status"] == "confirmed"
    confirmed = server.get("/api/v1/detections?status=confirmed", stars.token).json()["items"]
    assert [item["id"] for item in confirmed] == [first]


def test_the_openapi_schema_is_served(server: Server):
    schema = server.get("/api/v1/openapi.json").json()
    assert schema["info"]["title"] == "Likeness Monitor"
    assert {"/api/v1/detections", "/api/v1/detections/{detection_id}/review", "/api/v1/evidence"} <= set(
        schema["paths"])


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer lm_not-a-real-token", "Basic dXNlcjpwYXNz"])
def test_without_a_valid_token_every_route_answers_401_as_a_problem(server: Server, header):
    headers = {"Authorization": header} if header else {}
    import requests

    answer = requests.get(server.url + "/api/v1/detections", headers=headers, timeout=60)
    assert answer.status_code == 401 and answer.headers["content-type"] == PROBLEM
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert answer.json()["detail"] == "a valid API token is needed (Authorization: Bearer lm_…)"


def test_a_read_token_may_read_but_not_review(server: Server, agencies, operator):
    from monitor.services import accounts
    from monitor.services.context import Actor, Context

    stars = agencies["Stars"]
    detection_id = found_detection(stars)
    named = Context(operator.config, Actor.local(), agency_name="Stars", _sessions=operator.sessions)
    reader = accounts.create_token(named, "owner@stars.example", "dashboard", "read")["token"]
    assert server.get(f"/api/v1/detections/{detection_id}", reader).status_code == 200
    refused = server.post(f"/api/v1/detections/{detection_id}/review", reader, json={"status": "dismissed"})
    assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
    assert server.get(f"/api/v1/detections/{detection_id}", reader).json()["status"] == "new"


def test_bad_requests_get_422_problems_that_say_where(server: Server, agencies):
    stars = agencies["Stars"]
    detection_id = found_detection(stars)
    for answer in (server.post(f"/api/v1/detections/{detection_id}/review", stars.token, json={"status": "maybe"}),
                   server.get("/api/v1/detections?limit=100000", stars.token),
                   server.get("/api/v1/detections?cursor=not-a-cursor", stars.token),
                   server.post("/api/v1/sources", stars.token, json={"url": "file:///etc/passwd"}),
                   server.post(f"/api/v1/detections/{detection_id}/review", stars.token, data=b"{not json",
                               headers={"content-type": "application/json"})):
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == PROBLEM and answer.json()["detail"]
    assert server.get(f"/api/v1/detections/{detection_id}", stars.token).json()["status"] == "new"


def test_uploaded_references_keep_only_a_safe_name_and_are_refused_with_their_reason(server: Server, agencies):
    stars = agencies["Stars"]
    files = [("files", ("../../etc/passwd", b"not audio at all", "audio/wav")),
             ("files", ("..\\..\\clip one.wav", b"RIFF....WAVE", "audio/wav"))]
    answer = server.post(f"/api/v1/performers/{stars.performer_id}/references", stars.token,
                         data={"modality": "voice"}, files=files)
    assert answer.status_code == 200, answer.text
    rows = answer.json()
    assert [row["file"] for row in rows] == ["passwd", "clip_one.wav"]
    assert all(not row["accepted"] and row["reason"] for row in rows)


@pytest.fixture
def one_mib_uploads(home):
    """This home refuses uploads over 1 MiB (written before the server starts)."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text("[web]\nmax_upload_bytes = 1048576\n")


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_an_upload_over_the_limit_is_refused_with_413_and_nothing_is_kept(one_mib_uploads, server: Server, agencies,
                                                                          declared):
    stars = agencies["Stars"]
    body = b"\0" * (3 << 20)
    if declared:
        answer = server.post(f"/api/v1/performers/{stars.performer_id}/references", stars.token,
                             data={"modality": "voice"}, files=[("files", ("big.wav", body, "audio/wav"))])
    else:  # a body sent in chunks, without a length: counted as it arrives
        answer = server.post(f"/api/v1/performers/{stars.performer_id}/references", stars.token,
                             data=iter([b'--x\r\nContent-Disposition: form-data; name="files"; filename="big.wav"'
                                        b"\r\nContent-Type: audio/wav\r\n\r\n"] + [body[:1 << 20]] * 3),
                             headers={"content-type": "multipart/form-data; boundary=x"})
    assert answer.status_code == 413 and answer.headers["content-type"] == PROBLEM
    assert "over the limit" in answer.json()["detail"]
    assert server.get("/api/v1/performers", stars.token).json()[0]["voice_clips"] == 0


@pytest.mark.slow
def test_a_scan_asked_for_runs_in_the_background_for_its_agency_only(server: Server, agencies, make_speech):
    import time

    from monitor.services import performers

    stars, voices = agencies["Stars"], agencies["Voices"]
    performers.enrol_voice(stars.ctx, stars.performer_id, [make_speech("reference", texts=(0, 2))])
    found = make_speech("found", texts=(1,))
    asked = server.post("/api/v1/scans", stars.token, files={"file": ("../found clip.wav", found.read_bytes())})
    assert asked.status_code == 202 and asked.json()["status"] == "queued"
    scan_id = asked.json()["id"]
    deadline = time.monotonic() + 600  # generous: the first scan loads the models
    while (shown := server.get(f"/api/v1/scans/{scan_id}", stars.token).json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, shown
        time.sleep(0.5)
    assert shown["status"] == "done" and shown["target"] == "upload:found_clip.wav"
    [detection] = shown["result"]["detections"]
    assert detection["performer_id"] == stars.performer_id
    assert server.get(f"/api/v1/detections/{detection['id']}", stars.token).status_code == 200
    assert server.get(f"/api/v1/scans/{scan_id}", voices.token).status_code == 404


def test_a_scan_needs_a_file_or_an_http_url(server: Server, agencies):
    stars = agencies["Stars"]
    for options in ({"json": {"url": "file:///etc/passwd"}}, {"json": {"path": "/etc/passwd"}},
                    {"data": b"url=x", "headers": {"content-type": "application/x-www-form-urlencoded"}},
                    {"files": {"other": ("x.wav", b"RIFF")}}):
        answer = server.post("/api/v1/scans", stars.token, **options)
        assert answer.status_code == 422 and answer.headers["content-type"] == PROBLEM, answer.text



def test_detections_are_filtered_by_tier_and_by_the_source_that_found_them(server: Server, agencies):
    from monitor.storage.models import Detection, Sighting, Source

    stars = agencies["Stars"]
    soundalike, found_by_feed = found_detection(stars, "ab"), found_detection(stars, "cd")
    with stars.ctx.sessions.begin() as session:
        session.get(Detection, soundalike).details = {"tier": "soundalike"}
        feed = Source(agency_id=stars.id, kind="feed", url="https://stars.example/feed", every_s=3600, depth=1)
        session.add(feed)
        session.flush()
        sighting = session.query(Sighting).filter_by(media_id=session.get(Detection, found_by_feed).media_id).one()
        sighting.source_id = feed.id
        feed_id = feed.id

    def ids(query: str) -> list[int]:
        return [item["id"] for item in server.get(f"/api/v1/detections?{query}", stars.token).json()["items"]]

    assert ids("tier=soundalike") == [soundalike] and ids("tier=same_voice") == []
    assert ids(f"source_id={feed_id}") == [found_by_feed]
    assert server.get("/api/v1/detections?tier=maybe", stars.token).status_code == 422
