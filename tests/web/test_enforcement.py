"""Takedown notices and allow-lists through the REST API and the dashboard, on a real server: the CLI's JSON
shapes, the same refusals as problems or error pages, another agency's notices and rules never seen."""

from __future__ import annotations

import io
import wave
import zipfile

import pytest

from monitor.services import accounts, allow_rules, detections, notices
from monitor.services.context import Actor, Context
from tests.web.conftest import Agency, Server, found_detection
from tests.web.test_admin_pages import PASSWORD, Browser, _error, _text

PROBLEM = "application/problem+json"
TO = "copyright@site.example"


def _sound(seconds: float) -> bytes:
    """A WAV of ``seconds`` of a 220 Hz tone at 16 kHz: media whose excerpt an evidence bundle can decode."""
    import numpy as np

    samples = (8000 * np.sin(2 * np.pi * 220 * np.arange(int(16_000 * seconds)) / 16_000)).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


@pytest.fixture
def stars(operator: Context, agencies: dict[str, Agency]) -> Agency:
    """Stars with its postal address known, a legal user and an agent (passwords set), and a confirmed
    detection of its performer whose media is in the store."""
    named = Context(operator.config, Actor.local(), agency_name="Stars", _sessions=operator.sessions)
    accounts.set_agency_contact(named, "Stars", address="1 Music Row\nNashville, TN 37203", phone="+1 615 555 0100")
    for email, role in (("legal@stars.example", "legal"), ("agent@stars.example", "agent")):
        accounts.add_user(named, email, role, password=PASSWORD)
    agency = agencies["Stars"]
    agency.detection_id = found_detection(agency, stored=_sound(12.0))
    detections.review(agency.ctx, agency.detection_id, "confirmed", "a clone in an advert")
    return agency


def _draft(stars: Agency, server: Server, **changes) -> dict | object:
    body = {"detection_ids": [stars.detection_id], "basis": "dmca", "signer_email": "legal@stars.example",
            "signer_name": "Lee Roe", "to": TO} | changes
    return server.post("/api/v1/notices", stars.token, json=body)


def test_a_notice_is_drafted_fetched_and_marked_through_the_api_in_the_clis_shapes(server: Server, stars):
    drafted = _draft(stars, server)
    assert drafted.status_code == 201, drafted.text
    notice = drafted.json()
    assert notice == notices.get_notice(stars.ctx, notice["id"])  # the CLI's NOTICE, as it is
    assert (notice["status"], notice["to"], notice["detection_ids"]) == ("drafted", TO, [stars.detection_id])
    assert "penalty of perjury" in notice["text"]
    pdf = server.get(f"/api/v1/notices/{notice['id']}/pdf", stars.token)
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    bundle = server.get(f"/api/v1/notices/{notice['id']}/evidence", stars.token)
    assert bundle.headers["content-type"] == "application/zip"
    assert "manifest.json" in zipfile.ZipFile(io.BytesIO(bundle.content)).namelist()

    marked = server.post(f"/api/v1/notices/{notice['id']}/mark", stars.token,
                         json={"status": "sent", "note": "by the platform's form, case 77"})
    assert marked.status_code == 200 and marked.json()["status"] == "sent"
    assert [step["status"] for step in marked.json()["history"]] == ["drafted", "sent"]
    assert [n["id"] for n in server.get("/api/v1/notices?status=sent", stars.token).json()] == [notice["id"]]
    assert server.get("/api/v1/notices?status=removed", stars.token).json() == []
    assert [n["id"] for n in server.get(f"/api/v1/notices?detection_id={stars.detection_id}", stars.token).json()] \
        == [notice["id"]]
    assert server.get(f"/api/v1/notices?detection_id={found_detection(stars, 'cd')}", stars.token).json() == []
    assert server.get("/api/v1/notices/stats", stars.token).json() == [
        {"host": "site.example", "sent": 1, "removed": 0, "removal_rate": 0.0, "median_hours_to_removal": None}]
    assert server.get(f"/api/v1/notices/{notice['id']}/rechecks", stars.token).json() == []


def test_what_cannot_be_a_notice_is_refused_as_a_problem_and_nothing_is_kept(server: Server, stars, agencies):
    unconfirmed = found_detection(stars, "cd")
    refused = _draft(stars, server, detection_ids=[unconfirmed])
    assert refused.status_code == 422 and refused.headers["content-type"] == PROBLEM
    assert f"detection {unconfirmed} is new, not confirmed" in refused.json()["detail"]
    agent = accounts.create_token(Context(stars.ctx.config, Actor.local(), agency_name="Stars",
                                          _sessions=stars.ctx.sessions), "agent@stars.example", "api", "admin")
    assert _draft(stars, server, signer_email="agent@stars.example").status_code == 422
    assert server.post("/api/v1/notices", agent["token"], json={
        "detection_ids": [stars.detection_id], "basis": "dmca", "signer_email": "legal@stars.example",
        "signer_name": "Lee Roe"}).status_code == 403  # an agent may not draft notices
    assert _draft(stars, server, basis="a letter").status_code == 422
    assert _draft(stars, server, to=None).json()["detail"].startswith("no contact for site.example")
    assert notices.list_notices(stars.ctx) == []
    voices = agencies["Voices"]
    assert _draft(stars, server).status_code == 201
    [mine] = notices.list_notices(stars.ctx)
    assert server.get("/api/v1/notices", voices.token).json() == []
    assert server.post("/api/v1/notices/recheck", stars.token, json={"notice_id": mine["id"]}).json()[
        "detail"].endswith("captured again once it is sent")


def test_an_allow_list_rule_authorises_and_its_revocation_gives_back_to_review(server: Server, stars):
    performer_id = stars.performer_id
    new_one = found_detection(stars, "ef")
    added = server.post(f"/api/v1/performers/{performer_id}/allow-rules", stars.token,
                        json={"kind": "domain", "value": "site.example",
                              "valid_until": "2099-12-31", "note": "the 2026 campaign"})
    assert added.status_code == 201, added.text
    rule = added.json()
    assert (rule["state"], rule["detection_ids"], rule["valid_until"]) == ("active", [new_one],
                                                                           "2100-01-01T00:00:00+00:00")
    assert detections.get_detection(stars.ctx, new_one)["allowed_by_rule_id"] == rule["id"]
    listed = server.get(f"/api/v1/performers/{performer_id}/allow-rules", stars.token).json()
    assert listed == allow_rules.list_allow_rules(stars.ctx, performer_id)
    revoked = server.post(f"/api/v1/allow-rules/{rule['id']}/revoke", stars.token)
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    assert revoked.json()["released_ids"] == [new_one]
    assert server.post(f"/api/v1/allow-rules/{rule['id']}/revoke", stars.token).status_code == 422
    bad = server.post(f"/api/v1/performers/{performer_id}/allow-rules", stars.token,
                      json={"kind": "domain", "value": "https://site.example/clips"})
    assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM


def test_legal_drafts_marks_and_reads_a_notice_on_the_dashboard(server: Server, stars):
    legal = Browser(server, "legal@stars.example")
    shown = legal.get(f"/detections/{stars.detection_id}")
    assert 'action="/notices"' in shown.text and 'href="/notices"' in shown.text
    drafted = legal.post("/notices", {"detection_id": str(stars.detection_id), "basis": "publicity",
                                      "signer_name": "Lee Roe", "to": "https://site.example/report"})
    assert drafted.status_code == 303, drafted.text
    [notice] = notices.list_notices(stars.ctx)
    assert drafted.headers["location"] == f"/notices/{notice['id']}"
    assert notice["signer"] == {"name": "Lee Roe", "email": "legal@stars.example"}  # the signed-in user signs
    page = legal.get(f"/notices/{notice['id']}")
    assert "paste the text below there, then mark it sent" in _text(page)
    assert "ELVIS" in _text(page) and 'value="sent"' in page.text and "E-mail it to" not in page.text
    assert legal.get(f"/notices/{notice['id']}/notice.pdf").content.startswith(b"%PDF")
    marked = legal.post(f"/notices/{notice['id']}/mark", {"status": "sent", "note": "case 77"})
    assert marked.status_code == 303
    page = legal.get(f"/notices/{notice['id']}")
    assert "“case 77”" in _text(page) and "Capture it again now" in _text(page)
    wrong = legal.post(f"/notices/{notice['id']}/mark", {"status": "sent"})
    assert wrong.status_code == 422 and "it can become" in _error(wrong)
    named = legal.get(f"/detections/{stars.detection_id}").text
    assert f'<a href="/notices/{notice["id"]}">Notice {notice["id"]}</a>: publicity to' in named
    listed = legal.get("/notices?status=sent")
    assert f'href="/notices/{notice["id"]}"' in listed.text and "site.example 1 0 0 %" in _text(listed)
    assert "No notices with status removed" in _text(legal.get("/notices?status=removed"))


def test_an_agent_sees_no_notices_and_may_draft_none(server: Server, stars):
    agent = Browser(server, "agent@stars.example")
    shown = agent.get(f"/detections/{stars.detection_id}")
    assert shown.status_code == 200 and 'action="/notices"' not in shown.text and 'href="/notices"' not in shown.text
    assert agent.get("/notices").status_code == 403
    refused = agent.post("/notices", {"detection_id": str(stars.detection_id), "basis": "dmca",
                                      "signer_name": "Ann Agent", "to": TO})
    assert refused.status_code == 403 and notices.list_notices(stars.ctx) == []


def test_an_owner_allows_a_licensed_use_on_the_performers_page_and_revokes_it(server: Server, stars, operator):
    named = Context(operator.config, Actor.local(), agency_name="Stars", _sessions=operator.sessions)
    accounts.add_user(named, "boss@stars.example", "owner", password=PASSWORD)
    boss = Browser(server, "boss@stars.example")
    performer = f"/performers/{stars.performer_id}"
    assert "No allowed uses." in _text(boss.get(performer))
    added = boss.post(f"{performer}/allow", {"kind": "licensee", "value": "Acme Audio Ltd",
                                             "valid_until": "2099-06-30", "note": "contract 12"})
    assert added.status_code == 303 and added.headers["location"] == performer
    [rule] = allow_rules.list_allow_rules(stars.ctx, stars.performer_id)
    page = _text(boss.get(performer))
    assert "Acme Audio Ltd" in page and "2099-07-01 00:00" in page and "contract 12" in page
    bad = boss.post(f"{performer}/allow", {"kind": "domain", "value": "not a host!"})
    assert bad.status_code == 422 and len(allow_rules.list_allow_rules(stars.ctx, stars.performer_id)) == 1
    revoked = boss.post(f"/allow-rules/{rule['id']}/revoke")
    assert revoked.status_code == 303 and revoked.headers["location"] == performer
    assert allow_rules.list_allow_rules(stars.ctx, stars.performer_id)[0]["state"] == "revoked"
    assert 'action="/allow-rules/' not in boss.get(performer).text
