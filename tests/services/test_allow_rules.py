"""Allow-lists: a performer's voice found only where their licence allows is authorised, raises no alert and
can be the subject of no notice; when the licence ends or is revoked, or the same file turns up elsewhere, the
detection is new again and alerted then."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture
def licensed_site(likeness, site, clone_mp3) -> dict:
    """A page on the site under /licensed/ plays the performer's voice; the page is a source."""
    assert likeness("init").exit_code == 0
    site.add("/licensed/page.html", '<html><head><title>Acme Studios: our voices</title></head><body>'
             '<audio src="/licensed/voice.mp3"></audio></body></html>')
    site.add("/licensed/voice.mp3", clone_mp3, "audio/mpeg")
    assert likeness("source", "add", f"{site.url}/licensed/page.html").exit_code == 0
    return {"site": site, "mp3": clone_mp3}


def _allow(likeness, *options: str) -> dict:
    allowed = likeness("performer", "allow", 1, *options, "--note", "licence AC-2026-7", "--json")
    assert allowed.exit_code == 0, allowed.stderr
    return allowed.json


def _crawl(likeness) -> dict:
    crawled = likeness("crawl", "--json")
    assert crawled.exit_code == 0, crawled.stderr
    [detection] = likeness("detections", "list", "--json").json
    return detection


@pytest.mark.parametrize("option", ["--url-prefix", "--domain", "--licensee"])
def test_a_find_only_where_the_licence_allows_is_authorised_with_no_alert_and_no_notice(likeness, licensed_site,
                                                                                       option):
    value = {"--url-prefix": f"{licensed_site['site'].url}/licensed/", "--domain": "127.0.0.1",
             "--licensee": "acme studios"}[option]
    rule = _allow(likeness, option, value)
    assert rule["state"] == "active" and rule["detection_ids"] == []
    detection = _crawl(likeness)
    assert (detection["status"], detection["allowed_by_rule_id"]) == ("authorized", rule["id"])
    assert likeness("alerts", "list", "--json").json == []
    [listed] = likeness("performer", "allowed", 1, "--json").json
    assert listed["detection_ids"] == [detection["id"]] and listed["note"] == "licence AC-2026-7"
    refused = likeness("notice", "draft", detection["id"], "--basis", "publicity", "--signer", "x@y.example",
                       "--signer-name", "X", "--to", "a@b.example")
    assert refused.exit_code == 1 and "is authorized, not confirmed" in refused.stderr


def test_a_licence_that_ends_gives_its_detections_back_once_and_alerts_them(likeness, licensed_site, home):
    from monitor.config import load_config
    from monitor.services.allow_rules import end_expired_rules
    from monitor.services.context import Actor, Context

    rule = _allow(likeness, "--url-prefix", f"{licensed_site['site'].url}/licensed/", "--until", "2030-06-30")
    assert rule["valid_until"] == "2030-07-01T00:00:00+00:00"  # the whole last day
    detection = _crawl(likeness)
    assert detection["status"] == "authorized"
    operator = Context(load_config(home), Actor.local("system"))
    assert end_expired_rules(operator, datetime(2030, 6, 30, 23, 0, tzinfo=UTC)) == {}  # still valid
    assert end_expired_rules(operator, datetime(2030, 7, 1, 0, 0, tzinfo=UTC)) == {rule["id"]: [detection["id"]]}
    assert end_expired_rules(operator, datetime(2030, 8, 1, tzinfo=UTC)) == {}  # once
    [again] = likeness("detections", "list", "--json").json
    assert (again["status"], again["allowed_by_rule_id"]) == ("new", None)
    [alert] = likeness("alerts", "list", "--json").json
    assert alert["detection_id"] == detection["id"]


def test_revoking_a_rule_gives_back_what_it_authorised_and_a_new_rule_covers_what_is_new(likeness, licensed_site):
    detection = _crawl(likeness)
    assert detection["status"] == "new"
    rule = _allow(likeness, "--domain", "127.0.0.1")
    assert rule["detection_ids"] == [detection["id"]]  # a rule covers the new detections already found
    revoked = likeness("performer", "disallow", rule["id"], "--json")
    assert revoked.exit_code == 0 and revoked.json["released_ids"] == [detection["id"]]
    assert revoked.json["state"] == "revoked"
    assert likeness("detections", "list", "--json").json[0]["status"] == "new"
    again = likeness("performer", "disallow", rule["id"])
    assert again.exit_code == 1 and "revoked already" in again.stderr


def test_the_same_file_found_also_outside_the_licence_is_new_again(likeness, licensed_site):
    site = licensed_site["site"]
    _allow(likeness, "--url-prefix", f"{site.url}/licensed/")
    assert _crawl(likeness)["status"] == "authorized"
    site.add("/reuploads/page.html", '<html><body><audio src="/reuploads/voice.mp3"></audio></body></html>')
    site.add("/reuploads/voice.mp3", licensed_site["mp3"], "audio/mpeg")
    assert likeness("source", "add", f"{site.url}/reuploads/page.html").exit_code == 0
    detection = _crawl(likeness)
    assert (detection["status"], detection["allowed_by_rule_id"]) == ("new", None)
    assert len(likeness("alerts", "list", "--json").json) == 1


@pytest.mark.parametrize(("options", "reason"), [
    (("--domain", "https://studio.example/"), "a domain is a host name"),
    (("--url-prefix", "studio.example/"), "starts with https://"),
    (("--domain", "studio.example", "--licensee", "Acme"), "give one of"),
    (("--domain", "studio.example", "--until", "next year"), "--until must be a date"),
    (("--domain", "studio.example", "--from", "2027-02-01", "--until", "2027-01-01"), "after --from"),
])
def test_a_rule_that_cannot_be_is_refused_in_one_line(likeness, licensed_site, options, reason):
    refused = likeness("performer", "allow", 1, *options)
    assert refused.exit_code == 1 and reason in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert likeness("performer", "allowed", 1, "--json").json == []
    missing = likeness("performer", "allow", 99, "--domain", "studio.example")
    assert missing.exit_code == 1 and "no performer with id 99" in missing.stderr
