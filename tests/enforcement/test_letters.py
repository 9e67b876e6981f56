"""A notice says what its law asks for, in its text and in its PDF, and names nothing it should not."""

from __future__ import annotations

import io

import pytest

from monitor.enforcement.contacts import checked_recipient, contact_for, host_of
from monitor.enforcement.letters import Item, Letter, Party, notice_text
from monitor.enforcement.pdf import notice_pdf

PARTY = Party("Stars Agency", ["Zoë Ångström"], "Őrs Șerban", "ors@stars.example", "legal",
              "1 Music Row\nNashville, TN 37203", "+1 615 555 0100")
ITEM = Item("https://videos.example/v/1.mp4", "https://videos.example/watch?v=1", "2026-12-01", "ab" * 32, "video",
            ["Zoë Ångström's face (detection 7: score 0.91, closer to Zoë Ångström's face than 99.2 % of 130 "
             "other faces)"])
# what each basis must say, as it reads in the text (its law's elements: docs/enforcement.md)
REQUIRED = {
    "dmca": ["17 U.S.C. § 512(c)(3)", "copyrighted work claimed to be infringed", "https://videos.example/v/1.mp4",
             "1 Music Row, Nashville, TN 37203", "Telephone: +1 615 555 0100", "E-mail: ors@stars.example",
             "good faith belief that use of the material in the manner complained of is not authorized",
             "accurate, and under penalty of perjury, I am authorized to act on behalf of the owner",
             "/s/ Őrs Șerban"],
    "take-it-down": ["47 U.S.C. § 223a", "no later than 48 hours", "https://videos.example/watch?v=1",
                     "good faith belief that the intimate visual depiction identified above is not consensual",
                     "/s/ Őrs Șerban", "E-mail: ors@stars.example"],
    "publicity": ["Tenn. Code Ann. § 47-25-1101", "has not authorized this use", "We demand that you remove",
                  "https://videos.example/v/1.mp4", "/s/ Őrs Șerban", "E-mail: ors@stars.example"],
    "platform": ["Full name: Őrs Șerban", "E-mail: ors@stars.example", "Person affected: Zoë Ångström",
                 "https://videos.example/watch?v=1", "Signature: /s/ Őrs Șerban"],
}


def _letter(basis: str) -> Letter:
    return Letter(basis, "copyright@videos.example", "2026-12-05", PARTY, [ITEM], "cd" * 32, "SHA256:k3yf1ngerpr1nt",
                  modalities={"face"})


def _pdf_text(pdf: bytes) -> str:
    import pypdf

    return " ".join(" ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages).split())


@pytest.mark.parametrize("basis", REQUIRED)
def test_each_basis_says_what_its_law_asks_for_in_the_text_and_the_pdf(basis):
    text = notice_text(_letter(basis))
    pdf_text = _pdf_text(notice_pdf(text))
    for element in REQUIRED[basis] + ["cd" * 32, "SHA256:k3yf1ngerpr1nt", "Zoë Ångström"]:
        assert element in text, element
        assert element in pdf_text, element


def test_the_same_notice_gives_the_same_pdf_bytes():
    text = notice_text(_letter("dmca"))
    assert notice_pdf(text) == notice_pdf(text)


def test_a_dmca_notice_names_the_work_given_instead_of_the_default():
    letter = Letter("dmca", "copyright@videos.example", "2026-12-05", PARTY, [ITEM], "cd" * 32, "fp",
                    work="The album Northern Lights (2024)")
    assert "infringed: The album Northern Lights (2024)" in notice_text(letter)


def test_a_contact_is_found_for_the_host_or_the_nearest_domain_above_it():
    contacts = {"videos.example": "copyright@videos.example", "eu.videos.example": "https://eu.videos.example/form"}
    assert contact_for("m.videos.example", contacts) == "copyright@videos.example"
    assert contact_for("cdn.eu.videos.example", contacts) == "https://eu.videos.example/form"
    assert contact_for("other.example", contacts) is None
    assert host_of("https://M.Videos.Example./v/1") == "m.videos.example"
    assert host_of("/srv/media/clip.mp4") is None


@pytest.mark.parametrize("bad", ["not an address", "http://insecure.example/form", "javascript:alert(1)",
                                 "a@b", "x@y.example\nBcc: z@evil.example", ""])
def test_a_recipient_is_an_email_address_or_an_https_form(bad):
    with pytest.raises(Exception, match="must be an e-mail address or a form's https:// URL"):
        checked_recipient(bad)
