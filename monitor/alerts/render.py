"""Alert messages: findings rendered as a subject, a plain-text body, an HTML body and inline pictures,
and a rendered message composed as a MIME e-mail.

One finding gives a message about it; several (one run, one recipient) give one digest, highest score
first. Page titles and URLs come from hostile web pages: control and bidi characters are dropped,
lengths capped, the HTML template autoescapes everything, and a URL becomes a link only when it is
http(s). jinja2 and the picture libraries are imported on first use, so importing this module (and
``likeness --help``) stays fast.

Score in words (calibrated score, 0 to 1, 0.5 at the modality's calibration center):

* 0.90 and above: "very likely the same voice|face"
* 0.75 to 0.90:   "likely the same voice|face"
* 0.50 to 0.75:   "possibly the same voice|face: worth a look"
* below 0.50:     "a resemblance, more likely someone else" (reached only when a performer's threshold
  is set below the calibration center)
"""

from __future__ import annotations

import functools
import logging
import math
import unicodedata
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from monitor.alerts.message import Finding, InlineImage, Message
from monitor.alerts.pictures import clock  # a light module: its heavy imports are inside its functions

if TYPE_CHECKING:
    import jinja2

    from monitor.config import AlertSettings

log = logging.getLogger(__name__)

PRODUCT = "Likeness Monitor"
# (lowest score of the band, words); see the module docstring.
SCORE_BANDS: tuple[tuple[float, str], ...] = (
    (0.90, "very likely the same {what}"),
    (0.75, "likely the same {what}"),
    (0.50, "possibly the same {what}: worth a look"),
    (-math.inf, "a resemblance, more likely someone else"),
)
TIER_WORDS = {
    "same_voice": "same voice: the performer's own voice, not only a similar one",
    "soundalike": "soundalike: a similar voice, probably not the performer's own",
}
SIMILARITY_WORDS = {"voice": "cosine similarity of voice embeddings", "face": "1 − face descriptor distance"}
MAX_SEGMENTS = 10  # listed per finding; the rest are counted ("and 4 more")
MAX_PICTURES = 5  # per message, for the top findings: a digest stays a few hundred KB at most
MAX_TITLE_CHARS = 200
MAX_URL_CHARS = 2048  # longer URLs are shown shortened and never linked
SHOWN_URL_CHARS = 120
# The CLI spelling (monitor/cli.py `detections review DETECTION_ID STATUS`); not imported from there
# because monitor.cli pulls click and the whole application in.
REVIEW_ACTIONS = (("confirmed", "it is a clone"), ("dismissed", "not them"), ("authorized", "licensed use"))


# ------------------------------------------------------------------------------------------ words


def clean(text: str | None, limit: int = MAX_TITLE_CHARS) -> str:
    """``text`` on one line: control, format (bidi overrides, zero-width) and line-break characters
    dropped or turned into spaces, runs of space collapsed, cut to ``limit`` characters with "…"."""
    if not text:
        return ""
    kept = []
    for char in str(text):
        category = unicodedata.category(char)
        if char.isspace() or category in ("Zl", "Zp"):
            kept.append(" ")
        elif not category.startswith("C"):  # Cc control, Cf format, Co private use, Cs surrogates, Cn unassigned
            kept.append(char)
    one_line = " ".join("".join(kept).split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1].rstrip() + "…"


def safe_href(url: str | None) -> str | None:
    """``url`` if it may become a link (http or https, with a host, no spaces or control characters, not
    absurdly long); else None, and the URL is shown as text only."""
    if not url or len(url) > MAX_URL_CHARS or url != clean(url, MAX_URL_CHARS) or " " in url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.hostname else None


def host(url: str | None) -> str:
    """The host of an http(s) URL (lower case, no "www."), or "" for anything else (a local path)."""
    href = safe_href(url)
    if href is None:
        return ""
    name = (urlsplit(href).hostname or "").lower()
    return name.removeprefix("www.")


def when(moment: datetime) -> tuple[str, str]:
    """``(human, iso)`` in UTC: ``("2026-11-25 14:03 UTC", "2026-11-25T14:03:07Z")``. A naive time is UTC."""
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%d %H:%M UTC"), utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def score_words(score: float, modality: str) -> str:
    """``"score 0.93 of 1 — very likely the same voice"``; bands in the module docstring."""
    words = next(text for lowest, text in SCORE_BANDS if score >= lowest)
    return f"score {score:.2f} of 1 — {words.format(what=modality)}"


def population_words(finding: Finding) -> str | None:
    """``"this voice is closer to Ada Lovelace's than 99.8 % of the 954 other voices we compare
    against"``, or None without a population rank. The share is rounded down: never "100 %" unless all."""
    if finding.population_rank is None:
        return None
    rank = min(1.0, max(0.0, float(finding.population_rank)))
    share = "100" if rank >= 1.0 else f"{math.floor(rank * 1000) / 10:.1f}"
    others = f"the {finding.population_size} other" if finding.population_size else "the other"
    name = clean(finding.performer_name, 80)
    return (f"this {finding.modality} is closer to {name}'s than {share} % of {others} "
            f"{finding.modality}s we compare against")


def segment_lines(finding: Finding) -> tuple[list[str], int]:
    """The matched segments as ``["00:12–00:19 (score 0.91)", "at 01:02 (score 0.77)", …]`` in time order
    (the ``MAX_SEGMENTS`` highest scoring) and how many more were left out. A still image: ``["in the
    picture (score …)"]``."""
    segments = sorted(finding.segments, key=lambda s: float(s.get("score", 0.0)), reverse=True)
    shown = sorted(segments[:MAX_SEGMENTS], key=lambda s: float(s.get("start_s", 0.0)))
    lines = []
    for segment in shown:
        start_s, end_s = float(segment.get("start_s", 0.0)), float(segment.get("end_s", 0.0))
        score = f" (score {float(segment['score']):.2f})" if segment.get("score") is not None else ""
        if finding.media_type == "image":
            span = "in the picture"
        elif int(end_s) <= int(start_s):
            span = f"at {clock(start_s)}"
        else:
            span = f"{clock(start_s)}–{clock(end_s)}"
        lines.append(span + score)
    return lines, len(segments) - len(shown)


def possessive_names(names: list[str]) -> str:
    """``["Ada", "Grace"]`` → "Ada's and Grace's"; from four names on: "Ada's, Grace's and 2 other performers'"."""
    owned = [f"{name}'s" for name in names]
    if len(owned) > 3:
        owned = [*owned[:2], f"{len(names) - 2} other performers'"]
    return owned[0] if len(owned) == 1 else f"{', '.join(owned[:-1])} and {owned[-1]}"


def what_of_whom(findings: list[Finding]) -> str:
    """"Ada Lovelace's voice and face", "Ada Lovelace's and Grace Hopper's voices": names by best score."""
    names = list(dict.fromkeys(clean(f.performer_name, 80) for f in findings))
    modalities = [m for m in ("voice", "face") if any(f.modality == m for f in findings)]
    modalities += sorted({clean(f.modality, 20) for f in findings} - {"voice", "face"})
    plural = "s" if len(names) > 1 else ""
    return f"{possessive_names(names)} {' and '.join(m + plural for m in modalities)}"


def subject(findings: list[Finding]) -> str:
    """One finding: "Likeness Monitor: possible clone of Ada Lovelace's voice on example.com (score 0.93)".
    Several: "Likeness Monitor: 3 possible clones of Ada Lovelace's voice and face". ``findings`` is
    non-empty, ordered best first."""
    if len(findings) == 1:
        finding = findings[0]
        where = clean(finding.source_name, 60) or host(finding.page_url) or host(finding.found_url)
        on = f" on {where}" if where else ""
        text = f"{PRODUCT}: possible clone of {what_of_whom(findings)}{on} (score {finding.score:.2f})"
    else:
        text = f"{PRODUCT}: {len(findings)} possible clones of {what_of_whom(findings)}"
    return clean(text, 250)


# ----------------------------------------------------------------------------------------- render


def _review_link(settings: AlertSettings, detection_id: int) -> str | None:
    base = (settings.review_url or "").strip().rstrip("/")
    return safe_href(f"{base}/detections/{detection_id}") if base else None


def _credentials_words(finding: Finding) -> str:
    """What the media's Content Credentials declare, in one cleaned sentence ("" without any)."""
    from monitor.storage.detections import credentials_text  # sqlalchemy: not on the way to `--help`

    return clean(credentials_text(finding.content_credentials), 2 * MAX_TITLE_CHARS)


def _finding_view(finding: Finding, settings: AlertSettings) -> dict:
    """Everything the templates show of one finding, as ready-made strings (the templates only lay out)."""
    found_human, found_iso = when(finding.found_at)
    segments, more = segment_lines(finding)
    page_url = clean(finding.page_url, MAX_URL_CHARS)
    media_url = clean(finding.found_url, MAX_URL_CHARS)
    kind = clean(finding.media_type, 20)
    media_note = ", ".join(x for x in (kind, clock(finding.duration_s) + " long" if finding.duration_s else "") if x)
    return {
        "id": finding.detection_id,
        "performer": clean(finding.performer_name, 80),
        "performer_id": finding.performer_id,
        "modality": clean(finding.modality, 20),
        "score": score_words(finding.score, clean(finding.modality, 20)),
        "population": population_words(finding),
        "chance": clean(finding.chance_text, 2 * MAX_TITLE_CHARS) if finding.chance_text else None,
        "tier": TIER_WORDS.get(finding.tier or "", clean(finding.tier, 40)) if finding.tier else None,
        "credentials": _credentials_words(finding),
        "reupload": (f"a re-upload of confirmed case {finding.reupload_of} (the same recording or picture, "
                     f"found again)") if finding.reupload_of else None,
        "detail": (f"{SIMILARITY_WORDS.get(finding.modality, 'similarity')} {finding.similarity:.3f}; "
                   f"alert threshold {finding.threshold:.2f}"),
        "page_title": clean(finding.page_title),
        "page_url": page_url,
        "page_url_shown": clean(page_url, SHOWN_URL_CHARS),
        "page_href": safe_href(finding.page_url),
        "media_url": media_url,
        "media_url_shown": clean(media_url, SHOWN_URL_CHARS),
        "media_href": safe_href(finding.found_url),
        "media_note": media_note,
        "source": clean(finding.source_name, 100),
        "found_human": found_human,
        "found_iso": found_iso,
        "segments": segments,
        "segments_more": more,
        "review_link": _review_link(settings, finding.detection_id),
        "review_commands": [(f"likeness detections review {finding.detection_id} {status}", why)
                            for status, why in REVIEW_ACTIONS],
        "export_command": f"likeness evidence export {finding.detection_id} -o evidence-{finding.detection_id}.zip",
        "picture": None,  # filled by _pictures: {"cid", "alt", "width"}
    }


def _pictures(findings: list[Finding], views: list[dict]) -> list[InlineImage]:
    """Inline pictures for the first ``MAX_PICTURES`` findings that have one; a picture that cannot be
    made is left out (logged): the alert matters more than its illustration."""
    from monitor.alerts.pictures import face_pair_picture, similarity_picture

    images: list[InlineImage] = []
    for finding, view in zip(findings, views, strict=True):
        if len(images) >= MAX_PICTURES:
            break
        try:
            if finding.modality == "voice" and finding.curve:
                data = similarity_picture(finding.curve, finding.threshold, finding.segments, finding.duration_s)
                kind, subtype, width = "similarity", "png", 600
                alt = f"{view['performer']}'s voice: the score over time, matched segments shaded"
            elif finding.modality == "face" and finding.found_face_jpeg:
                data = face_pair_picture(finding.found_face_jpeg, finding.reference_face_jpeg)
                kind, subtype = "face", "jpeg"
                width = 380 if finding.reference_face_jpeg else 190
                alt = f"the face found, next to {view['performer']}'s reference"
            else:
                continue
        except (ValueError, OSError) as error:
            log.warning("alert picture for detection %s left out: %s", finding.detection_id, error)
            continue
        cid = f"detection-{finding.detection_id}-{kind}@likeness-monitor"
        images.append(InlineImage(cid=cid, data=data, subtype=subtype, description=alt))
        view["picture"] = {"cid": cid, "alt": alt, "width": width}
    return images


@functools.cache
def _environment() -> jinja2.Environment:
    """The templates of monitor/alerts/templates; autoescape on for everything but ``*.txt.j2``."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("monitor.alerts", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"), disabled_extensions=("txt.j2",),
                                            default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,  # a misspelt name fails the tests instead of vanishing
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(findings: list[Finding], settings: AlertSettings) -> Message:
    """The message to one recipient about ``findings`` (non-empty): about the one, or a digest of all,
    highest score first, with at most ``MAX_PICTURES`` inline pictures. Raises ValueError if empty."""
    if not findings:
        raise ValueError("no findings to render")
    ordered = sorted(findings, key=lambda f: (-f.score, f.detection_id))
    views = [_finding_view(f, settings) for f in ordered]
    images = _pictures(ordered, views)
    performers = list({f.performer_id: {"id": f.performer_id, "name": clean(f.performer_name, 80)}
                       for f in ordered}.values())
    digest = len(ordered) > 1
    heading = subject(ordered).removeprefix(f"{PRODUCT}: ")
    context = {
        "product": PRODUCT,
        "digest": digest,
        "heading": heading[:1].upper() + heading[1:],
        "whose": what_of_whom(ordered),
        "count": len(ordered),
        "findings": views,
        "performers": performers,
    }
    env = _environment()
    return Message(
        subject=subject(ordered),
        text=env.get_template("alert.txt.j2").render(context),
        html=env.get_template("alert.html.j2").render(context),
        findings=ordered,
        images=images,
    )


# ------------------------------------------------------------------------------------------ e-mail


def compose_email(message: Message, from_address: str, to: list[str], message_id: str) -> EmailMessage:
    """``message`` as an e-mail: multipart/alternative of text/plain and a multipart/related HTML part
    carrying the pictures inline (``Content-ID: <cid>``, disposition inline; nothing attached as a file).

    Headers: From, To (comma-separated), Subject, Date (now, UTC), Message-ID (``message_id``, angle
    brackets added if missing), ``Auto-Submitted: auto-generated`` (RFC 3834: no auto-replies expected)
    and ``X-Auto-Response-Suppress`` (the same for Exchange). Raises ValueError for a header with a
    line break or an empty recipient list.
    """
    if not to:
        raise ValueError("an e-mail needs at least one recipient")
    email = EmailMessage()
    email["From"] = from_address
    email["To"] = ", ".join(to)
    email["Subject"] = message.subject
    email["Date"] = format_datetime(datetime.now(UTC))
    email["Message-ID"] = message_id if message_id.startswith("<") else f"<{message_id}>"
    email["Auto-Submitted"] = "auto-generated"
    email["X-Auto-Response-Suppress"] = "All"
    email.set_content(message.text, subtype="plain", charset="utf-8")
    email.add_alternative(message.html, subtype="html", charset="utf-8")
    html_part = email.get_payload()[1]
    for image in message.images:
        # add_related turns the text/html part into multipart/related (html first, then the pictures).
        html_part.add_related(image.data, maintype="image", subtype=image.subtype, cid=f"<{image.cid}>",
                              disposition="inline")
    return email
