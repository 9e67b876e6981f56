"""Alert rendering: findings made by hand (no database) → subject, text, HTML, pictures, MIME e-mail."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import html as html_lib
import io
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from monitor.alerts.message import Finding
from monitor.alerts.pictures import crop_jpeg, face_pair_picture, similarity_picture
from monitor.alerts.render import compose_email, render, segment_lines, subject
from monitor.config import AlertSettings

# Grace Hopper's face in matplotlib's grace_hopper.jpg (600 × 512), as enrollment.face.detect_faces finds
# it: (top, right, bottom, left). Fixed here so these tests need no face model.
HOPPER_BOX = (139, 366, 325, 180)
FOUND_AT = datetime(2026, 11, 25, 14, 3, 7, tzinfo=UTC)


def settings(review_url: str = "") -> AlertSettings:
    return AlertSettings(voice_threshold=0.5, face_threshold=0.5, max_per_recipient_per_hour=6, retry_first_s=30.0,
                         retry_max_s=900.0, give_up_after_s=259200.0, send_every_s=60, review_url=review_url,
                         urls=[])


def curve(duration_s: float, peak_s: float) -> list[tuple[float, float]]:
    times = np.arange(0.0, duration_s, 0.5)
    scores = 0.25 + 0.7 * np.exp(-(((times - peak_s) / 6.0) ** 2))
    return [(float(t), float(s)) for t, s in zip(times, scores, strict=True)]


def voice_finding(detection_id: int = 12, score: float = 0.93, **changes) -> Finding:
    finding = Finding(
        detection_id=detection_id, performer_id=3, performer_name="Ada Lovelace", modality="voice", score=score,
        similarity=0.812, threshold=0.5,
        segments=[{"start_s": 72.0, "end_s": 79.5, "score": 0.91}, {"start_s": 3725.0, "end_s": 3731.0, "score": 0.7}],
        found_url="https://cdn.example.com/media/clip.mp4", found_at=FOUND_AT, media_sha256="ab" * 32,
        media_type="video", duration_s=3800.0, page_url="https://videos.example.com/watch?v=1&list=2",
        page_title="Ada sings again", source_name="Example Videos", tier="same_voice",
        curve=curve(3800.0, 75.0),
    )
    return dataclasses.replace(finding, **changes)


@pytest.fixture(scope="module")
def hopper_rgb(grace_hopper_path: Path) -> np.ndarray:
    return np.asarray(Image.open(grace_hopper_path).convert("RGB"))


@pytest.fixture(scope="module")
def face_finding(hopper_rgb: np.ndarray) -> Finding:
    found = crop_jpeg(hopper_rgb, HOPPER_BOX)
    reference = crop_jpeg(np.ascontiguousarray(hopper_rgb[:, ::-1]), (139, 332, 325, 146))  # the mirror image
    return Finding(
        detection_id=40, performer_id=7, performer_name="Grace Hopper", modality="face", score=0.81, similarity=0.55,
        threshold=0.5, segments=[{"start_s": 0.0, "end_s": 0.0, "score": 0.81}],
        found_url="https://img.example.org/p/hopper.jpg", found_at=FOUND_AT, media_sha256="cd" * 32,
        media_type="image", page_url="https://news.example.org/story", page_title="Admiral at the keyboard",
        source_name="Example News", found_face_jpeg=found, reference_face_jpeg=reference,
    )


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# ---------------------------------------------------------------------------------------- pictures


def test_crop_jpeg_is_a_small_square_around_the_face(hopper_rgb: np.ndarray) -> None:
    image = decode(crop_jpeg(hopper_rgb, HOPPER_BOX))
    assert image.format == "JPEG" and image.size == (160, 160)
    # A box at the corner is clipped to the image, not padded or refused.
    corner = decode(crop_jpeg(hopper_rgb, (0, 60, 60, 0), side_px=80))
    assert max(corner.size) == 80
    with pytest.raises(ValueError):
        crop_jpeg(hopper_rgb, (700, 900, 800, 800))
    with pytest.raises(ValueError):
        crop_jpeg(hopper_rgb[:, :, 0], HOPPER_BOX)


def test_pictures_are_small(face_finding: Finding) -> None:
    finding = voice_finding()
    png = similarity_picture(finding.curve, 0.5, finding.segments, finding.duration_s)
    assert decode(png).format == "PNG" and decode(png).size == (600, 200)
    assert len(png) < 40_000
    pair = decode(face_pair_picture(face_finding.found_face_jpeg, face_finding.reference_face_jpeg))
    alone = decode(face_pair_picture(face_finding.found_face_jpeg, None))
    assert pair.width > alone.width and pair.height == alone.height
    # An empty curve still gives a picture (the axes and the threshold).
    assert decode(similarity_picture([], 0.5, [], None)).size == (600, 200)
    with pytest.raises(ValueError):
        face_pair_picture(b"not a picture", None)


# ------------------------------------------------------------------------------------------- words


def test_segments_read_as_timestamps() -> None:
    lines, more = segment_lines(voice_finding())
    assert lines == ["01:12–01:19 (score 0.91)", "1:02:05–1:02:11 (score 0.70)"] and more == 0
    many = voice_finding(segments=[{"start_s": 10.0 * i, "end_s": 10.0 * i + 2, "score": i / 20} for i in range(14)])
    lines, more = segment_lines(many)
    assert len(lines) == 10 and more == 4
    assert lines[0].startswith("00:40–00:42")  # the 10 best, in time order
    still = segment_lines(dataclasses.replace(voice_finding(), media_type="image",
                                              segments=[{"start_s": 0.0, "end_s": 0.0, "score": 0.8}]))
    assert still == (["in the picture (score 0.80)"], 0)


# ------------------------------------------------------------------------------------------ single


def test_one_voice_finding() -> None:
    message = render([voice_finding()], settings())
    assert message.subject == "Likeness Monitor: possible clone of Ada Lovelace's voice on Example Videos (score 0.93)"
    for body in (message.text, html_lib.unescape(message.html)):
        assert "Ada Lovelace" in body
        assert "Ada sings again" in body and "Example Videos" in body
        assert "https://cdn.example.com/media/clip.mp4" in body
        assert "2026-11-25 14:03 UTC" in body and "2026-11-25T14:03:07Z" in body
        assert "voice" in body
        assert "score 0.93 of 1 — very likely the same voice" in body.replace("Score", "score")
        assert "01:12–01:19" in body and "1:02:05–1:02:11" in body
        for status in ("confirmed", "dismissed", "authorized"):
            assert f"likeness detections review 12 {status}" in body
        assert "likeness evidence export 12 -o evidence-12.zip" in body
        assert "likeness performer mute 3" in body and "contact of Ada Lovelace" in body
        assert "Tier: same voice" in body
        assert "compare against" not in body  # no population: no population wording
    assert "https://videos.example.com/watch?v=1&list=2" in message.text
    assert 'href="https://videos.example.com/watch?v=1&amp;list=2"' in message.html
    [image] = message.images
    assert image.subtype == "png" and f'src="cid:{image.cid}"' in message.html
    assert decode(image.data).size == (600, 200)
    assert "<script" not in message.html.lower() and "http://" not in message.html.replace("https://", "")


def test_population_wording_appears_when_ranked() -> None:
    message = render([voice_finding(population_rank=0.9987, population_size=954)], settings())
    wording = "this voice is closer to Ada Lovelace's than 99.8 % of the 954 other voices we compare against"
    assert wording in message.text and wording in html_lib.unescape(message.html)


def test_media_declared_ai_made_says_so_and_by_whom() -> None:
    declared = {"validation_state": "valid", "signer": "Maker\u202e<b>Corp</b>", "claim_generator": "Gen 1",
                "ai_generated": True, "failures": ["signingCredential.untrusted"],
                "actions": [{"action": "c2pa.created", "digital_source_type": "trainedAlgorithmicMedia",
                             "software_agent": None}]}

    message = render([voice_finding(content_credentials=declared)], settings())

    assert ("Provenance: Content Credentials signed by Maker<b>Corp</b> (intact, but not a signer your trust "
            "anchors vouch for) declare it AI-generated (trainedAlgorithmicMedia).") in message.text
    assert "Maker&lt;b&gt;Corp&lt;/b&gt;" in message.html and "\u202e" not in message.html
    assert "Provenance" not in render([voice_finding()], settings()).text


def test_a_reupload_of_a_confirmed_clone_says_so() -> None:
    message = render([voice_finding(reupload_of=12)], settings())
    assert "Staydown:   a re-upload of confirmed case 12" in message.text
    assert "a re-upload of confirmed case 12" in html_lib.unescape(message.html)
    assert "Staydown" not in render([voice_finding()], settings()).text


def test_score_bands_and_tiers() -> None:
    assert "likely the same voice" in render([voice_finding(score=0.8)], settings()).text
    assert "possibly the same voice" in render([voice_finding(score=0.6)], settings()).text
    assert "more likely someone else" in render([voice_finding(score=0.4, threshold=0.35)], settings()).text
    assert "Tier: soundalike" in render([voice_finding(tier="soundalike")], settings()).text
    assert "Tier" not in render([voice_finding(tier=None)], settings()).text


def test_one_face_finding(face_finding: Finding) -> None:
    message = render([face_finding], settings())
    assert message.subject == "Likeness Monitor: possible clone of Grace Hopper's face on Example News (score 0.81)"
    for body in (message.text, html_lib.unescape(message.html)):
        assert "Admiral at the keyboard" in body and "https://news.example.org/story" in body
        assert "likely the same face" in body and "in the picture (score 0.81)" in body
    [image] = message.images
    assert image.subtype == "jpeg" and f'src="cid:{image.cid}"' in message.html
    assert decode(image.data).format == "JPEG"


def test_review_url_gives_links_instead_of_commands() -> None:
    message = render([voice_finding()], settings("https://likeness.example.net/"))
    for body in (message.text, html_lib.unescape(message.html)):
        assert "https://likeness.example.net/detections/12" in body
        assert "likeness detections review" not in body
    assert '<a href="https://likeness.example.net/detections/12"' in message.html


def test_hostile_page_is_escaped_and_not_linked() -> None:
    hostile = voice_finding(page_title='<script>alert(1)</script>\u202eevil\nBcc: x@example.com',
                            page_url="javascript:alert(document.cookie)",
                            found_url='https://cdn.example.com/a"onmouseover="alert(1).mp4',
                            source_name="<b>bold</b>")
    message = render([hostile], settings())
    html = message.html
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert 'href="javascript' not in html.lower() and "javascript:alert(document.cookie)" in html
    assert 'onmouseover="' not in html
    assert [m for m in re.findall(r'href="([^"]*)"', html) if not m.startswith("https://")] == []
    # No line of the text body can be faked by the title, and the bidi override is gone.
    assert "\u202e" not in message.text and "\nBcc:" not in message.text
    assert "Page title: <script>alert(1)</script>evil Bcc: x@example.com" in message.text


# ------------------------------------------------------------------------------------------ digest


def test_digest_orders_by_score_and_names_everyone(face_finding: Finding) -> None:
    findings = [voice_finding(20, 0.6), face_finding, voice_finding(21, 0.97), voice_finding(22, 0.7)]
    message = render(findings, settings())
    assert message.subject == ("Likeness Monitor: 4 possible clones of Ada Lovelace's and Grace Hopper's "
                               "voices and faces")
    assert [f.detection_id for f in message.findings] == [21, 40, 22, 20]
    positions = [message.text.index(f"detection {i}\n") for i in (21, 40, 22, 20)]
    assert positions == sorted(positions)
    for body in (message.text, html_lib.unescape(message.html)):
        assert "likeness performer mute 3" in body and "likeness performer mute 7" in body
    assert subject([voice_finding(1), voice_finding(2), voice_finding(3, modality="face")]) == \
        "Likeness Monitor: 3 possible clones of Ada Lovelace's voice and face"


def test_digest_of_ten_composes_to_a_small_email(face_finding: Finding) -> None:
    findings = [voice_finding(100 + i, 0.55 + i * 0.04) for i in range(9)] + [face_finding]
    message = render(findings, settings())
    assert len(message.images) == 5  # the top five only
    assert [img.cid.split("-")[1] for img in message.images] == [str(f.detection_id) for f in message.findings[:5]]

    composed = compose_email(message, "Likeness Monitor <alerts@example.com>", ["ada@example.com", "agent@example.com"],
                             "<alert-1@example.com>")
    raw = composed.as_bytes()
    assert len(raw) < 300_000
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == message.subject
    assert parsed["To"] == "ada@example.com, agent@example.com"
    assert parsed["Message-ID"] == "<alert-1@example.com>"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["Date"] and parsed["From"].addresses[0].addr_spec == "alerts@example.com"
    assert parsed.get_content_type() == "multipart/alternative"

    plain = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    assert plain.get_content().replace("\r\n", "\n") == message.text
    assert html.get_content().replace("\r\n", "\n") == message.html
    related = parsed.get_payload()[1]
    assert related.get_content_type() == "multipart/related"

    referenced = set(re.findall(r'src="cid:([^"]+)"', html.get_content()))
    images = [part for part in parsed.walk() if part.get_content_maintype() == "image"]
    assert len(images) == 5
    assert {part["Content-ID"].strip("<>") for part in images} == referenced
    for part in images:
        assert part.get_content_disposition() == "inline" and part.get_filename() is None
        decode(part.get_content())
    assert list(parsed.iter_attachments()) == []


def test_compose_without_pictures_and_bad_input() -> None:
    message = render([voice_finding(curve=None)], settings())
    assert message.images == []
    parsed = email.message_from_bytes(compose_email(message, "a@example.com", ["b@example.com"], "x@y").as_bytes(),
                                      policy=email.policy.default)
    assert parsed["Message-ID"] == "<x@y>"
    assert parsed.get_body(("html",)).get_content_type() == "text/html"
    with pytest.raises(ValueError):
        render([], settings())
    with pytest.raises(ValueError):
        compose_email(message, "a@example.com", [], "x@y")


def test_importing_render_stays_light() -> None:
    code = ("import sys, monitor.alerts.render; "
            "print(sorted(m for m in ('matplotlib', 'numpy', 'PIL', 'jinja2') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_review_commands_match_the_cli() -> None:
    from monitor.alerts.render import REVIEW_ACTIONS
    from monitor.cli import REVIEW_CHOICES

    assert tuple(status for status, _ in REVIEW_ACTIONS) == REVIEW_CHOICES
