"""The dashboard's performers, sources, alerts, users-and-tokens and audit pages on a real server, signed in
with a password as a browser would be (the session cookie sent by hand: ``requests`` keeps a Secure cookie
for HTTPS only), every change a form with the session's CSRF token."""

from __future__ import annotations

import hashlib
import html
import re

import pytest
import requests

from monitor.services import accounts, alerts, audit, performers, sources
from monitor.services.context import Actor, Context
from monitor.services.roles import Forbidden
from monitor.storage.models import Alert, Delivery, Detection
from monitor.web.security import COOKIE, CSP
from tests.web.conftest import Agency, Server, found_detection

PASSWORD = "correct horse battery"
CSRF = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]+)">')


class Browser:
    """One signed-in user: their session cookie on every request, and the CSRF token of the last page read."""

    def __init__(self, server: Server, email: str) -> None:
        self.server = server
        signed = requests.post(server.url + "/login", data={"email": email, "password": PASSWORD, "next": "/queue"},
                               allow_redirects=False, timeout=120)
        assert signed.status_code == 303, signed.text
        cookie = re.search(COOKIE + r"=([^;]+)", signed.headers["set-cookie"])
        assert cookie is not None, signed.headers["set-cookie"]
        self.headers = {"Cookie": f"{COOKIE}={cookie.group(1)}"}
        self.csrf_token = CSRF.search(self.get("/queue").text).group(1)

    def get(self, path: str) -> requests.Response:
        return requests.get(self.server.url + path, headers=self.headers, allow_redirects=False, timeout=120)

    def post(self, path: str, data: dict | None = None, files: list | None = None,
             csrf: bool = True) -> requests.Response:
        """A form sent (multipart with ``files``), with the session's CSRF token unless ``csrf`` is False."""
        fields = ({"csrf_token": self.csrf_token} if csrf else {}) | (data or {})
        return requests.post(self.server.url + path, data=fields, files=files, headers=self.headers,
                             allow_redirects=False, timeout=600)


def _text(page: requests.Response) -> str:
    """The page's text, tags dropped and entities decoded, spaces squeezed: what a reader sees."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.text)).split())


def _error(page: requests.Response) -> str:
    return html.unescape(re.search(r'<p class="error" role="alert">(.*?)</p>', page.text, re.S).group(1))


@pytest.fixture
def stars(operator: Context, agencies: dict[str, Agency]) -> Context:
    """Stars (of ``agencies``) acted in by the operator; a boss (owner), an agent, a legal user with passwords."""
    named = Context(operator.config, Actor.local(), agency_name="Stars", _sessions=operator.sessions)
    for email, role in (("boss@stars.example", "owner"), ("agent@stars.example", "agent"),
                        ("legal@stars.example", "legal")):
        accounts.add_user(named, email, role, password=PASSWORD)
    return named


def test_an_owner_adds_a_performer_with_a_consent_form_and_sees_why_a_junk_file_is_refused(server: Server, stars,
                                                                                          make_speech):
    boss = Browser(server, "boss@stars.example")
    listed = boss.get("/performers")
    assert listed.status_code == 200 and "Stars Performer" in _text(listed) and 'action="/performers"' in listed.text
    form = b"%PDF-1.4 signed by Ada Voice"
    added = boss.post("/performers", {"name": "Ada Voice", "consent_by": "Ada Voice herself",
                                      "emails": "ada@example.org, agent@example.org"},
                      files=[("consent_document", ("../../consent form.pdf", form, "application/pdf"))])
    assert added.status_code == 303
    [ada] = [p for p in performers.list_performers(stars) if p["name"] == "Ada Voice"]
    assert added.headers["location"] == f"/performers/{ada['id']}"
    assert ada["emails"] == ["ada@example.org", "agent@example.org"]
    assert [(c["by"], c["document_sha256"]) for c in ada["consents"]] == [
        ("Ada Voice herself", hashlib.sha256(form).hexdigest())]
    assert "Ada Voice" in _text(boss.get("/performers"))

    clip = make_speech("clip").read_bytes()
    enrolled = boss.post(f"/performers/{ada['id']}/references", {"modality": "voice"}, files=[
        ("files", ("C:\\takes\\my junk.wav", b"this is not audio at all", "audio/wav")),
        ("files", ("reference take.wav", clip, "audio/wav"))])
    assert enrolled.status_code == 200
    rows = re.findall(r'<tr class="(accepted|refused)">\s*<td class="where">(.*?)</td>.*?'
                      r'<td class="reason">(.*?)</td>', enrolled.text, re.S)
    assert [(kind, name) for kind, name, _reason in rows] == [("refused", "my_junk.wav"),
                                                              ("accepted", "reference_take.wav")]
    reason = html.unescape(rows[0][2]).strip()
    assert reason and "likeness-upload" not in reason and "000-" not in reason
    assert performers.list_performers(stars)[-1]["voice_clips"] == 1


def test_removal_needs_the_performers_name_typed_and_a_wrong_name_changes_nothing(server: Server, stars, agencies):
    performer_id = agencies["Stars"].performer_id
    boss = Browser(server, "boss@stars.example")
    shown = boss.get(f"/performers/{performer_id}")
    assert f'action="/performers/{performer_id}/remove"' in shown.text and 'method="get"' in shown.text
    asked = boss.get(f"/performers/{performer_id}/remove")
    assert asked.status_code == 200 and "type the performer's name, Stars Performer" in _text(asked)
    for typed in ("Stars", "stars performer", ""):
        refused = boss.post(f"/performers/{performer_id}/remove", {"typed_name": typed})
        assert refused.status_code == 422 and "nothing was removed" in _error(refused)
    assert [p["id"] for p in performers.list_performers(stars)] == [performer_id]
    removed = boss.post(f"/performers/{performer_id}/remove", {"typed_name": "Stars Performer"})
    assert removed.status_code == 303 and removed.headers["location"] == "/performers"
    assert performers.list_performers(stars) == []
    assert audit.read_trail(stars, 1)[0]["action"] == "performer.remove"
    theirs = agencies["Voices"].performer_id  # another agency's: as if there were none
    assert [boss.get(f"/performers/{theirs}{page}").status_code for page in ("", "/remove")] == [404, 404]
    assert boss.post(f"/performers/{theirs}/remove", {"typed_name": "Voices Performer"}).status_code == 404
    assert [p["name"] for p in performers.list_performers(agencies["Voices"].ctx)] == ["Voices Performer"]


def test_an_agent_may_watch_and_pause_sources_but_not_manage_users_or_performers(server: Server, stars, agencies):
    agent = Browser(server, "agent@stars.example")
    for path in ("/members", "/audit"):
        refused = agent.get(path)
        assert refused.status_code == 403 and "may not do this" in _error(refused)
    assert agent.post("/members/users", {"email": "friend@stars.example", "role": "owner"}).status_code == 403
    assert "friend@stars.example" not in [m["email"] for m in accounts.list_members(stars)]
    listed = agent.get("/performers")
    assert listed.status_code == 200 and 'action="/performers"' not in listed.text  # no form to add one
    assert agent.post("/performers", {"name": "Someone", "consent_by": "nobody"}).status_code == 403

    added = agent.post("/sources", {"url": "http://127.0.0.1:9/videos.xml", "kind": "feed", "every_hours": "6"})
    assert added.status_code == 303 and added.headers["location"] == "/sources"
    [source] = sources.list_sources(stars)
    assert (source["url"], source["kind"], source["every_s"], source["paused"]) == (
        "http://127.0.0.1:9/videos.xml", "feed", 6 * 3600, False)
    assert "http://127.0.0.1:9/videos.xml" in _text(agent.get("/sources"))
    assert agent.post(f"/sources/{source['id']}/pause").status_code == 303
    assert sources.list_sources(stars)[0]["paused"] is True
    assert f'action="/sources/{source["id"]}/resume"' in agent.get("/sources").text
    for bad in ({"url": "/srv/media"}, {"url": "file:///srv/media"},
                {"url": "https://example.org/", "every_hours": "often"}):
        refused = agent.post("/sources", {"kind": "page"} | bad)
        assert refused.status_code == 422 and _error(refused)
    assert len(sources.list_sources(stars)) == 1
    other = agencies["Voices"].ctx
    theirs = sources.add_source(other, "http://127.0.0.1:9/theirs.xml", "feed")["id"]
    assert agent.post(f"/sources/{theirs}/pause").status_code == 404
    assert sources.list_sources(other)[0]["paused"] is False


def test_a_change_without_the_csrf_token_is_refused_and_changes_nothing(server: Server, stars, agencies):
    boss = Browser(server, "boss@stars.example")
    performer_id = agencies["Stars"].performer_id
    attempts = [("/sources", {"url": "http://127.0.0.1:9/a.xml", "kind": "feed"}),
                (f"/performers/{performer_id}/remove", {"typed_name": "Stars Performer"}),
                ("/members/tokens", {"email": "boss@stars.example", "name": "sneaky", "scope": "admin"}),
                ("/members/users", {"email": "sneaky@elsewhere.example", "role": "owner"})]
    for path, data in attempts:
        for token in (None, "not-the-token"):
            refused = boss.post(path, data | ({"csrf_token": token} if token else {}), csrf=False)
            assert refused.status_code == 403, path
            assert "reload the page" in _error(refused)
    sent = boss.post("/performers", {"name": "Sneaky", "consent_by": "nobody"}, csrf=False,
                     files=[("consent_document", ("form.pdf", b"%PDF", "application/pdf"))])
    assert sent.status_code == 403
    assert sources.list_sources(stars) == []
    assert [p["name"] for p in performers.list_performers(stars)] == ["Stars Performer"]
    assert [t["name"] for t in accounts.list_tokens(stars)] == ["api"]
    assert "sneaky@elsewhere.example" not in [m["email"] for m in accounts.list_members(stars)]


def test_a_token_made_on_the_members_page_is_shown_once_works_and_can_be_revoked(server: Server, stars):
    boss = Browser(server, "boss@stars.example")
    page = boss.get("/members")
    assert page.status_code == 200
    assert {"agent@stars.example agent", "legal@stars.example legal", "owner@stars.example owner"} <= set(
        re.findall(r"\S+@stars\.example \w+", _text(page)))
    made = boss.post("/members/tokens", {"email": "legal@stars.example", "name": "case files", "scope": "read",
                                         "expires_days": "30"})
    assert made.status_code == 200 and "it will not be shown again" in _text(made)
    secret = re.search(r'<code class="secret">(lm_[A-Za-z0-9_-]{43})</code>', made.text).group(1)
    api = server.get("/api/v1/performers", secret)
    assert api.status_code == 200 and [p["name"] for p in api.json()] == ["Stars Performer"]
    again = boss.get("/members")
    assert secret not in again.text and secret[:10] in again.text and "case files" in _text(again)
    [token] = [t for t in accounts.list_tokens(stars) if t["name"] == "case files"]
    assert (token["user"], token["scope"]) == ("legal@stars.example", "read")
    assert boss.post(f"/members/tokens/{token['id']}/revoke").status_code == 303
    assert server.get("/api/v1/performers", secret).status_code == 401
    assert f'action="/members/tokens/{token["id"]}/revoke"' not in boss.get("/members").text


def test_an_owner_adds_an_artist_who_then_signs_in_and_sees_only_their_own(server: Server, stars, agencies):
    boss = Browser(server, "boss@stars.example")
    performer_id = agencies["Stars"].performer_id
    short = boss.post("/members/users", {"email": "ada@artists.example", "role": "artist",
                                         "performer_id": str(performer_id), "password": "too short"})
    assert short.status_code == 422 and "12 characters" in _error(short)
    added = boss.post("/members/users", {"email": "Ada@Artists.example", "role": "artist",
                                         "performer_id": str(performer_id), "password": PASSWORD})
    assert added.status_code == 303 and added.headers["location"] == "/members"
    [ada] = [m for m in accounts.list_members(stars) if m["email"] == "ada@artists.example"]
    assert (ada["role"], ada["performer_ids"]) == ("artist", [performer_id])
    artist = Browser(server, "ada@artists.example")
    assert "Stars Performer" in _text(artist.get("/performers"))
    assert artist.get("/members").status_code == 403
    with pytest.raises(Forbidden):
        accounts.list_members(Context(stars.config, Actor("x", "web"), agency_id=agencies["Stars"].id,
                                      role="agent", _sessions=stars.sessions))


def _alert(agency: Agency, sha_byte: str, error: str | None) -> int:
    """A detection of the agency's performer with its alert: one delivery sent, one failed with ``error``."""
    detection_id = found_detection(agency, sha_byte)
    with agency.ctx.sessions.begin() as session:
        detection = session.get(Detection, detection_id)
        alert = Alert(agency_id=agency.id, performer_id=agency.performer_id, media_id=detection.media_id,
                      detection_id=detection.id, status="failed" if error else "sent")
        alert.deliveries = [Delivery(channel="email", recipient=f"sent@{sha_byte}.example", status="sent",
                                     attempts=1),
                            Delivery(channel="email", recipient=f"bounced@{sha_byte}.example",
                                     status="failed" if error else "sent", attempts=3, last_error=error)]
        session.add(alert)
        session.flush()
        return alert.id


def test_the_alerts_page_shows_the_outbox_with_each_recipients_delivery(server: Server, stars, agencies):
    _alert(agencies["Stars"], "ab", "550 mailbox unavailable")
    _alert(agencies["Stars"], "cd", None)
    _alert(agencies["Voices"], "ef", "their own trouble")
    legal = Browser(server, "legal@stars.example")
    page = _text(legal.get("/alerts"))
    assert "bounced@ab.example (email): failed" in page and "550 mailbox unavailable" in page
    assert "sent@cd.example" in page and "Stars Performer" in page
    assert "ef.example" not in page and "their own trouble" not in page  # another agency's
    failed = _text(legal.get("/alerts?status=failed"))
    assert "ab.example" in failed and "cd.example" not in failed
    assert [a["status"] for a in alerts.list_alerts(stars, "failed")] == ["failed"]
    refused = legal.get("/alerts?status=lost")
    assert refused.status_code == 422 and "status must be one of" in _error(refused)


def test_a_legal_user_reads_the_audit_trail_a_hundred_entries_a_page(server: Server, stars):
    boss = Browser(server, "boss@stars.example")
    assert boss.post("/sources", {"url": "http://127.0.0.1:9/feed.xml", "kind": "feed"}).status_code == 303
    legal = Browser(server, "legal@stars.example")
    page = legal.get("/audit")
    assert page.status_code == 200
    rows = [[" ".join(html.unescape(re.sub(r"<[^>]+>", " ", cell)).split())
             for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", page.text, re.S)[1:]]
    assert [row[3] for row in rows[:3]] == ["user.sign_in", "source.add", "user.sign_in"]  # newest first
    _seq, _at, actor, action, subject, remote, details = rows[1]
    assert (actor, action, remote) == ("boss@stars.example (web)", "source.add", "127.0.0.1")
    assert subject.startswith("source ") and "url: http://127.0.0.1:9/feed.xml" in details
    assert rows[0][2] == "legal@stars.example (web)"
    assert 'href="/audit?before_seq=' not in page.text  # fewer than a hundred entries so far
    for number in range(120):
        audit.record(stars, "source.pause", f"source {number}")
    first = legal.get("/audit")
    assert len(re.findall(r"<tr>", first.text)) == 1 + 100  # the header's row and a hundred entries
    older = re.search(r'href="/audit\?before_seq=(\d+)"', first.text).group(1)
    entries = audit.read_trail(stars, 1000)
    assert int(older) == entries[99]["seq"]
    second = legal.get(f"/audit?before_seq={older}")
    shown = [int(seq) for seq in re.findall(r"<tr>\s*<td>(\d+)</td>", second.text)]
    assert shown == [entry["seq"] for entry in entries[100:200]]


def test_every_page_has_the_content_security_policy_and_no_inline_script_or_style(server: Server, stars, agencies):
    boss = Browser(server, "boss@stars.example")
    performer_id = agencies["Stars"].performer_id
    _alert(agencies["Stars"], "ab", "550 mailbox unavailable")
    boss.post("/sources", {"url": "http://127.0.0.1:9/feed.xml", "kind": "feed"})
    answers = [boss.get(path) for path in ("/performers", f"/performers/{performer_id}",
                                           f"/performers/{performer_id}/remove", "/sources", "/alerts", "/members",
                                           "/audit", "/alerts?status=failed")]
    answers += [boss.post(f"/performers/{performer_id}/references", {"modality": "face"},
                          files=[("files", ("junk.jpg", b"not a photo", "image/jpeg"))]),
                boss.post("/members/tokens", {"email": "boss@stars.example", "name": "one", "scope": "read"}),
                boss.post(f"/performers/{performer_id}/remove", {"typed_name": "wrong"}),
                boss.get("/performers/999999")]
    assert [answer.status_code for answer in answers] == [200] * 10 + [422, 404]
    for answer in answers:
        assert answer.headers["content-security-policy"] == CSP, answer.url
        assert answer.headers["cache-control"] == "no-store"
        assert not re.search(r"<script\b[^>]*>\s*[^<\s]", answer.text), answer.url
        assert not re.search(r"\sstyle\s*=", answer.text, re.I), answer.url
        assert not re.search(r"\son[a-z]+\s*=", answer.text, re.I), answer.url
        assert "<style" not in answer.text.lower(), answer.url
