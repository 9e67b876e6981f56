"""``likeness evidence export``: the members of a bundle for some detections, gathered from the database,
the content store and the crawl's WARC files, then written and signed by :mod:`monitor.evidence.bundle`.

Members (names inside the ZIP):

* ``media/<sha256><ext>`` (evidence): the media byte for byte as fetched, once however many detections;
* ``capture/<sha256>.warc.gz`` (capture): the WARC records of the exchanges that found it (the media's and
  its page's request and response), copied byte for byte from the crawl's WARC files;
  ``capture/<host>-<sha256[:12]>.pem`` (capture): the server's TLS certificate, where there was one;
* ``custody/<sha256>.jsonl`` (custody): the media's chain of custody, the export event included;
* ``analysis.json`` (analysis): scores, thresholds, segments, models with their weight hashes, the
  references compared (ids and hashes, never embeddings), reviews;
* ``derived/…`` (derived, with ``derived_from`` and ``how``): the matched audio excerpt as WAV, the
  found face as JPEG;
* ``report.html`` and its pictures (report), ``DECLARATION.txt`` (declaration).
"""

from __future__ import annotations

import functools
import io
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from enrollment.errors import LikenessError, NotFound
from enrollment.models import FaceReference, VoiceReference
from monitor.config import Config
from monitor.evidence.bundle import Member
from monitor.evidence.report import MediaFacts, Picture, declaration_member, found_lines, report_members
from monitor.storage import custody
from monitor.storage.chain import canonical
from monitor.storage.content_store import content_store
from monitor.storage.models import Detection, Fetch, Media, Sighting, TlsCertificate
from monitor.storage.tenancy import visible_detections

EXCERPT_MAX_S = 60.0  # the derived audio excerpt: the best segment, at most this long
EXTENSIONS = {"audio": ".audio", "video": ".video", "image": ".image"}


@dataclass
class Gathered:
    members: list[Member]
    media: list[MediaFacts]
    media_ids: list[int]
    pictures: dict[int, list[Picture]]  # per detection id
    analysis: dict
    agency_id: int  # whose detections, sightings and custody chains these are


def gather(session: Session, config: Config, detection_ids: list[int], agency_id: int | None = None) -> Gathered:
    """Every member for ``detection_ids`` of one agency (``agency_id``'s when given): NotFound for an id unknown
    (or not visible to it), LikenessError for detections of several agencies or a media file gone."""
    detections = []
    for detection_id in dict.fromkeys(detection_ids):
        detection = session.scalar(select(Detection).where(Detection.id == detection_id,
                                                           visible_detections(agency_id)))
        if detection is None:
            raise NotFound(f"no detection with id {detection_id} (see `likeness detections list`)")
        detections.append(detection)
    agencies = {detection.agency_id for detection in detections}
    if len(agencies) != 1:
        raise LikenessError("these detections belong to several agencies: export each agency's in a bundle of "
                            "its own (--agency NAME)" if agencies else "no detection to export")
    agency_id = agencies.pop()
    store = content_store(config)
    if store.shared is not None:  # the WARC files of other machines' crawls, once for the whole bundle
        store.shared.fetch_captures(config.home / "warc")
    media_list = list({d.media_id: d.media for d in detections}.values())
    members: list[Member] = []
    facts: list[MediaFacts] = []
    pictures: dict[int, list[Picture]] = {}
    for media in media_list:
        path = store.path_for(media.sha256)
        if not path.is_file():
            raise LikenessError(f"the file of media {media.sha256[:12]} is gone from the store ({path}): "
                                "nothing to export")
        name = f"media/{media.sha256}{_extension(session, media, agency_id)}"
        members.append(Member(name=name, role="evidence", source=path, media_type=media.media_type))
        facts.append(MediaFacts(media.sha256, name, media.size_bytes))
        members += _capture(session, config, media, agency_id)
        for detection in (d for d in detections if d.media_id == media.id):
            derived, pictures[detection.id] = _derived(session, config, media, path, name, detection)
            members += derived
    described = analysis(session, config, detections)
    members.append(Member(name="analysis.json", role="analysis", source=_json(described)))
    return Gathered(members, facts, [media.id for media in media_list], pictures, described, agency_id)


def export_bundle(config: Config, sessions: sessionmaker[Session], detection_ids: list[int], out: Path,
                  overwrite: bool = False, actor: str | None = None, agency_id: int | None = None,
                  on_exported: Callable[[Session, int], None] | None = None) -> dict:
    """Write and sign the bundle at ``out`` of detections of one agency (``agency_id``'s when given); returns
    its manifest. The "exported" custody event is recorded in the same transaction, so a failed export leaves
    neither a bundle nor an event behind. ``actor``: who the event names (default: this process's user@host);
    ``on_exported(session, agency_id)``: more to record in that transaction (the audit event)."""
    from monitor.evidence import keys
    from monitor.evidence.bundle import write_bundle

    key = keys.load_key(config.keys_dir)
    fingerprint = keys.fingerprint(key.public_key())
    with sessions.begin() as session:
        gathered = gather(session, config, detection_ids, agency_id)
        for media_id in gathered.media_ids:
            custody.record(session, session.get(Media, media_id), "exported", {
                "bundle": out.name, "detections": sorted(set(detection_ids)), "key_fingerprint": fingerprint},
                agency_id=gathered.agency_id, actor=actor)
        if on_exported is not None:
            on_exported(session, gathered.agency_id)
        session.flush()
        chains = {session.get(Media, media_id).sha256: custody.chain_of(session, media_id, gathered.agency_id)
                  for media_id in gathered.media_ids}
        for facts in gathered.media:
            facts.found = found_lines(chains[facts.sha256])
        members = [*gathered.members, *custody_members(session, gathered.media_ids, gathered.agency_id),
                   *report_members(gathered.analysis, chains, gathered.media, gathered.pictures),
                   declaration_member(custody.tool_version(), fingerprint, gathered.media)]
        return write_bundle(out, members, key, overwrite=overwrite,
                            created_by={"tool": custody.TOOL, "version": custody.tool_version()},
                            timestamper=_timestamper(config))


def _timestamper(config: Config):
    if not config.evidence.timestamp_urls:
        return None
    from monitor.evidence.timestamp import request_timestamp

    def timestamp(manifest: bytes) -> bytes | None:
        result = request_timestamp(manifest, config.evidence)
        return result.token_der if result is not None else None

    return timestamp


def custody_members(session: Session, media_ids: list[int], agency_id: int) -> list[Member]:
    """The agency's chains as they stand (call after the export event was recorded)."""
    members = []
    for media_id in media_ids:
        media = session.get(Media, media_id)
        lines = b"".join(canonical(entry) + b"\n" for entry in custody.chain_of(session, media_id, agency_id))
        members.append(Member(name=f"custody/{media.sha256}.jsonl", role="custody", source=lines))
    return members


def analysis(session: Session, config: Config, detections: list[Detection]) -> dict:
    """What was decided and how: JSON-safe, no biometric data (references by id and hash only)."""
    from enrollment import face, voice
    from monitor.storage.detections import detection_json, latest_source

    performers = {d.performer_id for d in detections}
    references = {
        "voice": [{"id": r.id, "performer_id": r.performer_id, "source_sha256": r.source_sha256,
                   "speech_s": r.speech_s, "model_version": r.model_version}
                  for r in session.scalars(select(VoiceReference).where(VoiceReference.performer_id.in_(performers))
                                           .order_by(VoiceReference.id))],
        "face": [{"id": r.id, "performer_id": r.performer_id, "source_sha256": r.source_sha256,
                  "face_px": r.face_px, "model_version": r.model_version}
                 for r in session.scalars(select(FaceReference).where(FaceReference.performer_id.in_(performers))
                                          .order_by(FaceReference.id))],
    }
    modalities = {d.modality for d in detections}
    return {
        "tool": custody.TOOL, "tool_version": custody.tool_version(),
        "models": {"voice": voice.voice_model_version() if "voice" in modalities else None,
                   "face": face.face_model_version() if "face" in modalities else None},
        "model_weights_sha256": model_weights(modalities),
        "calibration": {"voice": {"center": config.voice.calibration_center, "slope": config.voice.calibration_slope,
                                  "threshold": config.voice.threshold},
                        "face": {"center": config.face.calibration_center, "slope": config.face.calibration_slope,
                                 "threshold": config.face.threshold},
                        "score": "1 / (1 + exp(-slope × (similarity − center))); 0.5 at the center"},
        "detections": [{**detection_json(d, latest_source(session, d.media_id, d.agency_id)),
                        "threshold": d.threshold, "model_version": d.model_version,
                        "details": (d.details or {}) | ({"curve": d.curve} if d.curve else {}) or None,
                        "reviews": [{"status": r.status, "note": r.note, "by": r.reviewed_by,
                                     "at": r.reviewed_at.isoformat()} for r in d.reviews]}
                       for d in sorted(detections, key=lambda d: d.id)],
        "references_compared": references,
    }


@functools.cache
def _weights_sha256(path: str) -> str:
    from enrollment.media import sha256_file

    return sha256_file(Path(path))


def model_weights(modalities: set[str]) -> dict[str, str]:
    """The weight files the analysis used, by file name, with their full sha256."""
    files = []
    if "voice" in modalities:
        import resemblyzer

        files.append(Path(resemblyzer.__file__).parent / "pretrained.pt")
    if "face" in modalities:
        from enrollment.face import face_api

        face_api()  # imports face_recognition_models quietly
        models = sys.modules["face_recognition_models"]
        # the descriptor and its 5-point aligner; faces are found with dlib's HOG detector, which has no file
        files += [Path(models.face_recognition_model_location()),
                  Path(models.pose_predictor_five_point_model_location())]
    return {path.name: _weights_sha256(str(path)) for path in files}


def _capture(session: Session, config: Config, media: Media, agency_id: int) -> list[Member]:
    from monitor.evidence.warc_excerpt import records_for

    sightings = list(session.scalars(select(Sighting).where(Sighting.media_id == media.id,
                                                            Sighting.agency_id == agency_id).order_by(Sighting.id)))
    media_urls, page_urls = {s.source for s in sightings}, {s.page_url for s in sightings if s.page_url}
    urls = sorted(media_urls | page_urls)
    members = []
    excerpt = records_for(sorted((config.home / "warc").glob("*.warc.gz")), page_urls, media_urls)
    if excerpt:
        members.append(Member(name=f"capture/{media.sha256}.warc.gz", role="capture", source=excerpt,
                              media_type="application/warc"))
    fetches = session.scalars(select(Fetch).where(Fetch.url.in_(urls), Fetch.tls_certificate_sha256.is_not(None)))
    for sha256 in dict.fromkeys(f.tls_certificate_sha256 for f in fetches):
        certificate = session.get(TlsCertificate, sha256)
        members.append(Member(name=f"capture/certificate-{sha256[:16]}.pem", role="capture",
                              source=_pem(certificate.der), media_type="application/x-pem-file"))
    return members


def _derived(session: Session, config: Config, media: Media, path: Path, name: str,
             detection: Detection) -> tuple[list[Member], list[Picture]]:
    """Working copies (marked derived, with how) and the report's pictures for one detection."""
    from monitor.alerts import pictures as draw

    members: list[Member] = []
    shown: list[Picture] = []
    stem = f"detection-{detection.id}"
    details = detection.details or {}
    best = max(detection.segments, key=lambda s: s["score"], default=None)
    if detection.modality == "voice" and best is not None:
        start_s = best["start_s"]
        end_s = min(best["end_s"], start_s + EXCERPT_MAX_S)
        wav, samples = _excerpt(path, config, start_s, end_s)
        members.append(Member(
            name=f"derived/{stem}-excerpt.wav", role="derived", source=wav, derived_from=name, media_type="audio/wav",
            how=f"decoded with PyAV, resampled to 16 kHz mono, {start_s:.2f}-{end_s:.2f} s (the best segment)"))
        if detection.curve:
            shown.append(Picture(f"report/{stem}-similarity.png", draw.similarity_picture(
                [tuple(point) for point in detection.curve], detection.threshold, detection.segments,
                media.duration_s), "voice score over time, matched segments shaded", name,
                "scores stored with the detection, one per scoring window"))
        shown.append(Picture(f"report/{stem}-excerpt-spectrogram.png", draw.spectrogram_picture(
            samples, 16_000, "matched excerpt", start_s), "spectrogram of the matched excerpt",
            f"derived/{stem}-excerpt.wav", "512-sample windows, 0-8 kHz"))
        if (reference := _reference_audio(session, config, detection.performer_id)) is not None:
            shown.append(Picture(f"report/{stem}-reference-spectrogram.png", draw.spectrogram_picture(
                reference, 16_000, "a reference recording of the performer"),
                "spectrogram of a reference recording (first 10 s)", None, "512-sample windows, 0-8 kHz"))
    if detection.modality == "face" and "box" in details:
        from monitor.alerts.findings import analysed_frame, found_face, reference_face

        jpeg = found_face(config, media, details)
        if jpeg is not None:
            members.append(Member(
                name=f"derived/{stem}-face.jpg", role="derived", source=jpeg, derived_from=name,
                media_type="image/jpeg",
                how=f"the face at {details.get('time_s', 0)} s, box {details['box']} (top, right, bottom, left px "
                    "of the frame as analysed), cropped with a 25 % margin"))
            if media.media_type == "video" and (frame := analysed_frame(config, media, details)) is not None:
                members.append(Member(
                    name=f"derived/{stem}-key-frame.jpg", role="derived", source=draw.jpeg_of(frame), derived_from=name,
                    media_type="image/jpeg", how=f"the video frame at {details.get('time_s', 0)} s, decoded with "
                    f"PyAV and scaled to at most {config.media.max_frame_side_px} px, as analysed"))
            pair = draw.face_pair_picture(jpeg, reference_face(session, config, detection.performer_id))
            shown.append(Picture(f"report/{stem}-faces.jpg", pair, "the found face next to the reference",
                                 f"derived/{stem}-face.jpg", "side by side, scaled to the same height"))
    return members, shown


def _reference_audio(session: Session, config: Config, performer_id: int):  # -> np.ndarray | None
    """The first 10 s of the performer's first reference recording the store holds (kept at enrolment)."""
    from enrollment.media import decode_audio_span

    store = content_store(config)
    for reference in session.scalars(select(VoiceReference).where(VoiceReference.performer_id == performer_id)
                                     .order_by(VoiceReference.id)):
        path = store.path_for(reference.source_sha256)
        if path.is_file():
            try:
                return decode_audio_span(path, 0.0, 10.0, config.media)
            except (LikenessError, OSError):
                continue
    return None


def _excerpt(path: Path, config: Config, start_s: float, end_s: float):  # -> (bytes, np.ndarray)
    """The excerpt as 16-bit WAV bytes, and its samples (16 kHz mono float32)."""
    import soundfile

    from enrollment.media import decode_audio_span

    samples = decode_audio_span(path, start_s, end_s, config.media)
    out = io.BytesIO()
    soundfile.write(out, samples, 16_000, format="WAV", subtype="PCM_16")
    return out.getvalue(), samples


def _extension(session: Session, media: Media, agency_id: int) -> str:
    source = session.scalar(select(Sighting.source).where(Sighting.media_id == media.id,
                                                          Sighting.agency_id == agency_id).order_by(Sighting.id))
    suffix = Path(source or "").suffix.lower()
    return suffix if suffix.isascii() and 1 < len(suffix) <= 6 and suffix[1:].isalnum() else \
        EXTENSIONS.get(media.media_type or "", ".bin")


def _json(data: dict) -> bytes:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str).encode() + b"\n"


def _pem(der: bytes) -> bytes:
    import base64
    import textwrap

    body = "\n".join(textwrap.wrap(base64.b64encode(der).decode(), 64))
    return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n".encode()
