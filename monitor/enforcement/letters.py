"""A notice's text for its legal basis, from plain facts (no database, no files).

Every basis names the material and where it is, who asks and how to reach them, the evidence bundle by its
SHA-256 and signing key, and carries the signer's electronic signature; what else it must say is the law's
(docs/enforcement.md): the six elements of 17 U.S.C. §512(c)(3) for ``dmca``; identification, the statement
of non-consent, signature and contact of 47 U.S.C. §223a for ``take-it-down``; the performer, the unauthorised
use and the demand for ``publicity``; and the fields a platform's form asks for, one per paragraph, for
``platform``. Nothing biometric is written or attached: only what was found, where, and how closely it matched.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True)
class Item:
    """One file the notice asks to take down: where it is, what it is and what matched in it."""

    location: str  # the media's URL (or path)
    page: str | None  # the page it was found on
    first_seen: str  # ISO date
    sha256: str
    media_type: str  # audio, video, image
    matches: list[str]  # "Ada's voice (detection 7: score 0.91, closer to … than 99.2 % of 130 other voices)"


@dataclass(frozen=True)
class Party:
    """The agency, the performers it acts for and the person who signs."""

    agency: str
    performers: list[str]
    signer_name: str
    signer_email: str
    signer_role: str
    address: str | None = None
    phone: str | None = None
    email: str | None = None  # the agency's; the signer's where it has none


@dataclass(frozen=True)
class Letter:
    basis: str
    recipient: str
    date: str  # ISO date
    party: Party
    items: list[Item]
    evidence_sha256: str
    evidence_fingerprint: str
    work: str | None = None  # dmca: the copyrighted work (default: the performers' own recordings and images)
    modalities: set[str] = field(default_factory=set)  # voice, face


@functools.cache
def _environment():
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=False,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=True)


def notice_text(letter: Letter) -> str:
    """The notice in plain text: its first line the title, paragraphs apart by blank lines."""
    party = letter.party
    names = _joined(party.performers)
    what = _joined([{"voice": "voice", "face": "likeness"}[m] for m in sorted(letter.modalities)]) or "likeness"
    work = letter.work or (f"Recordings and images of {names} — their performances, voice and likeness — in which "
                           f"{names} holds the rights, represented by {party.agency}; the material below copies "
                           f"them or was made from them.")
    text = _environment().get_template(f"{letter.basis}.txt").render(
        letter=letter, party=party, names=names, what=what, work=work,
        contact=_contact_lines(party), signature=f"/s/ {party.signer_name}")
    return "\n".join(line.rstrip() for line in text.strip().split("\n")) + "\n"


def _contact_lines(party: Party) -> list[str]:
    lines = [f"{party.signer_name}, {party.signer_role} at {party.agency}"]
    if party.address:
        lines.append(", ".join(part.strip() for part in party.address.splitlines() if part.strip()))
    if party.phone:
        lines.append(f"Telephone: {party.phone}")
    lines.append(f"E-mail: {party.email or party.signer_email}")
    return lines


def _joined(names: list[str]) -> str:
    names = list(dict.fromkeys(names))
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1] if names else ""
