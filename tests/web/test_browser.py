"""The dashboard in a real browser (Debian's Chromium driven by Playwright): sign in, the queue, a review, an
evidence download, and an artist's own view, with the Content-Security-Policy never violated."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from monitor.services import accounts, audit, evidence, performers, scans
from monitor.services.context import Actor, Context
from tests.web.conftest import Server

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "correct horse battery"


@pytest.fixture
def browser():
    """A headless Chromium of the machine (installed by the Makefile, never downloaded)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (make dev installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=["--no-sandbox", "--disable-gpu"])
        yield launched
        launched.close()


@pytest.fixture
def found(operator: Context, make_speech) -> dict:
    """Stars: Ada enrolled and found in a scanned clip; an owner and Ada herself as users with passwords."""
    accounts.add_agency(operator, "Stars")
    stars = Context(operator.config, Actor.local(), agency_name="Stars", _sessions=operator.sessions)
    ada = performers.add_performer(stars, "Ada Voice", "Ada Voice")["id"]
    bo = performers.add_performer(stars, "Bo Other", "Bo Other")["id"]
    performers.enrol_voice(stars, ada, [make_speech("reference", texts=(0, 2))])
    [row] = scans.scan(stars, [str(make_speech("found", texts=(1,)))])
    accounts.add_user(stars, "owner@stars.example", "owner", password=PASSWORD)
    accounts.add_user(stars, "ada@artists.example", "artist", [ada], password=PASSWORD)
    accounts.add_user(stars, "bo@artists.example", "artist", [bo], password=PASSWORD)
    return {"stars": stars, "detection_id": row["detections"][0]["id"]}


def _page(browser, server: Server):
    page = browser.new_page(accept_downloads=True)
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text else None)
    page.set_default_timeout(120_000)  # a loaded machine is slow, never wrong
    page.violations = violations
    page.base = server.url
    return page


def _sign_in(page, email: str) -> None:
    page.goto(page.base + "/queue")
    assert "/login" in page.url
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/queue")


def test_an_owner_signs_in_reviews_from_the_queue_and_downloads_evidence(browser, server: Server, found,
                                                                         tmp_path):
    page = _page(browser, server)
    page.goto(page.base + "/queue")
    page.fill("input[name=email]", "owner@stars.example")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    assert page.locator(".error").inner_text() == "wrong e-mail address or password"
    _sign_in(page, "owner@stars.example")
    assert page.locator("tr.row").count() == 1 and "Ada Voice" in page.locator("tr.row").inner_text()
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/detections/{found['detection_id']}")
    assert page.locator("audio").count() == 1 and page.locator("svg.curve").count() == 1
    page.fill("input[name=note]", "a clone in an advert")
    page.keyboard.press("Escape")
    page.locator("body").click()
    page.keyboard.press("c")
    page.wait_for_selector("#status.status-confirmed")
    with page.expect_download() as download:
        page.click("text=Export a signed evidence bundle")
    bundle = tmp_path / "bundle.zip"
    download.value.save_as(bundle)
    assert evidence.verify_evidence(found["stars"], bundle)["ok"]
    page.click("text=Sign out")
    page.wait_for_url("**/login")
    page.goto(page.base + "/queue")
    assert "/login" in page.url  # the session ended with the sign-out
    assert page.violations == []


def test_an_artist_sees_only_their_own_and_says_it_is_not_them(browser, server: Server, found):
    other = _page(browser, server)
    _sign_in(other, "bo@artists.example")
    assert other.locator("tr.row").count() == 0
    other.goto(f"{other.base}/detections/{found['detection_id']}")
    assert other.locator("h1").inner_text() == "Not Found"
    assert other.locator(".who").inner_text() == "bo@artists.example · artist"  # still signed in, with a way on

    page = _page(browser, server)
    _sign_in(page, "ada@artists.example")
    page.click("a.open")
    buttons = page.locator("form.review button").all_inner_texts()
    assert buttons == ["authorised by me", "not authorised", "not me"]
    assert page.locator("text=Export a signed evidence bundle").count() == 0  # not an artist's to do
    page.click("text=not me")
    page.wait_for_selector("#status.status-dismissed")
    [latest, *_] = audit.read_trail(found["stars"])
    assert latest["actor"] == "ada@artists.example" and latest["details"]["artist_says"] == "not me"
    assert page.violations == [] and other.violations == []


def test_an_owner_drafts_a_notice_from_a_confirmed_detection_marks_it_sent_and_reads_its_pdf(
        browser, server: Server, found, tmp_path):
    from monitor.services import detections, notices
    from monitor.storage.models import Detection, Sighting

    stars, detection_id = found["stars"], found["detection_id"]
    accounts.set_agency_contact(stars, "Stars", address="1 Music Row, Nashville, TN 37203")
    with stars.sessions.begin() as session:  # the clip was also found on the web
        media_id = session.get(Detection, detection_id).media_id
        session.add(Sighting(agency_id=session.get(Detection, detection_id).agency_id, media_id=media_id,
                             source="https://clips.example/ada.mp3", page_url="https://clips.example/ada"))
    detections.review(stars, detection_id, "confirmed", "a clone in an advert")
    page = _page(browser, server)
    _sign_in(page, "owner@stars.example")
    page.goto(f"{page.base}/detections/{detection_id}")
    page.select_option("select[name=basis]", "publicity")
    page.fill("input[name=signer_name]", "Olive Owner")
    page.fill("input[name=to]", "https://clips.example/report")
    page.click("text=Draft the notice")
    page.wait_for_url("**/notices/*")
    [notice] = notices.list_notices(stars)
    assert "ELVIS" in page.locator("pre.notice-text").inner_text()
    page.fill("input[name=note]", "report 4411 filed")
    page.click("button[value=sent]")
    page.wait_for_selector("h1 .notice-sent")
    assert "report 4411 filed" in page.locator("ol.custody").inner_text()
    with page.expect_download() as download:
        page.click("text=the notice (PDF)")
    assert download.value.suggested_filename == f"notice-{notice['id']}.pdf"
    page.click("text=Notices")
    page.wait_for_url("**/notices")
    assert page.locator("table.stats").inner_text().split()[-6:] == ["clips.example", "1", "0", "0", "%", "–"]
    page.screenshot(path=str(tmp_path / "notices.png"), full_page=True)
    assert page.violations == []
