"""Enrolment: performers, consent, and accepted voice and face references.

Functions take an open SQLAlchemy session and never commit: the caller wraps each file in its own
transaction, so one refused or broken file leaves nothing behind and does not stop the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from enrollment import face, quality, voice
from enrollment.agencies import agency_for
from enrollment.errors import ConsentMissing, MediaError, NotFound, printable
from enrollment.media import decode_audio, load_image, probe, sha256_file
from enrollment.models import (
    Consent,
    Contact,
    FaceReference,
    Performer,
    Voiceprint,
    VoiceReference,
    from_blob,
    to_blob,
)
from enrollment.settings import FaceSettings, MediaLimits, VoiceSettings


@dataclass
class EnrolResult:
    """The outcome for one reference file (the CLI's JSON row)."""

    file: str
    accepted: bool
    reason: str | None = None
    speech_s: float | None = None
    reference_id: int | None = None

    def as_json(self) -> dict:
        return {"file": self.file, "accepted": self.accepted, "reason": self.reason, "speech_s": self.speech_s}


def add_performer(
    session: Session,
    name: str,
    consent_by: str,
    emails: list[str] | tuple[str, ...] = (),
    agency_name: str | None = None,
    consent_document_name: str | None = None,
    consent_document_sha256: str | None = None,
    agency_id: int | None = None,
) -> Performer:
    """A new performer with their contacts and consent. ``name`` and ``consent_by`` are required.

    Their agency: ``agency_id``, else the agency named ``agency_name`` (made if new), else the only one."""
    if not name.strip():
        raise ValueError("a performer needs a name")
    if not consent_by.strip():
        raise ValueError("--consent-by must name who gave consent")
    for what, text in (("a performer's name", name), ("--consent-by", consent_by), ("--agency", agency_name or ""),
                       *(("an e-mail address", email) for email in emails)):
        if not text.isprintable():  # a line break, a terminal escape, bytes of a name that were not UTF-8
            raise ValueError(f"{what} must be printable text, without line breaks or control characters")
    performer = Performer(name=name.strip())
    if agency_id is not None:
        performer.agency_id = agency_id
    else:
        performer.agency = agency_for(session, agency_name, create=True)
    performer.contacts = [Contact(email=email.strip()) for email in dict.fromkeys(emails) if email.strip()]
    session.add(performer)
    record_consent(session, performer, consent_by, consent_document_name, consent_document_sha256)
    session.flush()
    return performer


def record_consent(
    session: Session,
    performer: Performer,
    consented_by: str,
    document_name: str | None = None,
    document_sha256: str | None = None,
) -> Consent:
    if not consented_by.isprintable():
        raise ValueError("who consented must be named in printable text, without line breaks or control characters")
    consent = Consent(consented_by=consented_by.strip(), document_name=document_name, document_sha256=document_sha256)
    performer.consents.append(consent)
    session.flush()
    return consent


def get_performer(session: Session, performer_id: int, agency_id: int | None = None) -> Performer:
    """The performer; NotFound when there is none, or when ``agency_id`` is given and they are another's."""
    performer = session.get(Performer, performer_id)
    if performer is None or (agency_id is not None and performer.agency_id != agency_id):
        raise NotFound(f"no performer with id {performer_id} (see `likeness performer list`)")
    return performer


def list_performers(session: Session, agency_id: int | None = None,
                    performer_ids: frozenset[int] | None = None) -> list[Performer]:
    """Every performer (of ``agency_id``; among ``performer_ids``) with their agency, contacts, consents and
    references (a handful of queries)."""
    related = (Performer.agency, Performer.contacts, Performer.consents, Performer.voice_references,
               Performer.face_references)
    query = select(Performer).options(*(selectinload(relation) for relation in related)).order_by(Performer.id)
    if agency_id is not None:
        query = query.where(Performer.agency_id == agency_id)
    if performer_ids is not None:
        query = query.where(Performer.id.in_(performer_ids))
    return list(session.scalars(query))


def remove_performer(session: Session, performer_id: int) -> None:
    """Erase a performer with every consent, reference, embedding and detection that names them."""
    session.delete(get_performer(session, performer_id))
    session.flush()


def consenting_performer(session: Session, performer_id: int, agency_id: int | None = None) -> Performer:
    """The performer (of ``agency_id`` when given), once they exist and have a recorded consent; else NotFound
    or ConsentMissing."""
    performer = get_performer(session, performer_id, agency_id)
    if not performer.consents:
        raise ConsentMissing(
            f"performer {performer_id} has no recorded consent; record it first with "
            f"`likeness performer consent {performer_id} --by NAME [--document FILE]`"
        )
    return performer


def enroll_voice(
    session: Session, performer_id: int, path: Path, settings: VoiceSettings, limits: MediaLimits
) -> EnrolResult:
    """Check one reference recording and, if it passes every gate, store its embedding."""
    performer = consenting_performer(session, performer_id)
    result = EnrolResult(file=printable(str(path)), accepted=False)
    try:
        sha256 = sha256_file(path)
        if session.scalar(select(VoiceReference.id).where(
            VoiceReference.performer_id == performer.id, VoiceReference.source_sha256 == sha256
        )):
            result.reason = "this recording is already enrolled for this performer"
            return result
        info = probe(path, limits)
        if info.media_type == "image":
            result.reason = "an image, not a recording"
            return result
        wav = decode_audio(path, limits)
    except (MediaError, OSError) as error:
        result.reason = str(error)
        return result

    checked = quality.check_voice_reference(wav, settings)
    if checked.speech is not None:
        result.speech_s = round(checked.speech.speech_s, 2)
    if checked.reason is not None:
        result.reason = checked.reason
        return result
    speech, partials, figures = checked.speech, checked.partials, checked.figures

    clean = voice.mean_embedding(partials.embeddings)
    reference = VoiceReference(
        source_sha256=sha256,
        source_name=printable(Path(path).name),
        embedding=to_blob(clean),
        condition_embeddings=to_blob(voice.condition_embeddings(wav, clean, settings)),
        speech_s=speech.speech_s,
        quality=figures,
        model_name="resemblyzer",
        model_version=voice.voice_model_version(),
    )
    performer.voice_references.append(reference)
    session.flush()
    _refresh_voiceprint(session, performer)
    result.accepted, result.reference_id = True, reference.id
    return result


def _refresh_voiceprint(session: Session, performer: Performer) -> None:
    references = performer.voice_references
    if not references:
        performer.voiceprint = None
        return
    embedding = voice.mean_embedding(np.stack([from_blob(ref.embedding) for ref in references]))
    stored = [_condition_rows(ref) for ref in references]
    known = min(len(rows) for rows in stored)  # the conditions every reference was embedded in
    per_condition = np.stack([rows[:known] for rows in stored]).swapaxes(0, 1)  # (known, refs, 256)
    values = {
        "embedding": to_blob(embedding),
        "condition_embeddings": to_blob(np.stack([voice.mean_embedding(rows) for rows in per_condition]))
        if known else None,
        "n_clips": len(references),
        "speech_s": float(sum(ref.speech_s for ref in references)),
        "model_version": references[-1].model_version,
    }
    if performer.voiceprint is None:
        performer.voiceprint = Voiceprint(**values)
    else:
        for key, value in values.items():
            setattr(performer.voiceprint, key, value)
    session.flush()


def _condition_rows(reference: VoiceReference) -> np.ndarray:
    """A reference's (k, 256) embeddings in the conditions after clean that existed when it was enrolled."""
    from enrollment.conditions import stored_condition_rows

    stored = from_blob(reference.condition_embeddings) if reference.condition_embeddings else None
    return stored_condition_rows(stored, voice.EMBEDDING_SIZE)


def enroll_face(
    session: Session,
    performer_id: int,
    path: Path,
    settings: FaceSettings,
    limits: MediaLimits,
    pick_largest: bool = False,
) -> EnrolResult:
    """Check one reference photo (exactly one face of at least ``min_face_px``) and store it."""
    performer = consenting_performer(session, performer_id)
    result = EnrolResult(file=printable(str(path)), accepted=False)
    try:
        sha256 = sha256_file(path)
        if session.scalar(select(FaceReference.id).where(
            FaceReference.performer_id == performer.id, FaceReference.source_sha256 == sha256
        )):
            result.reason = "this photo is already enrolled for this performer"
            return result
        if probe(path, limits).media_type != "image":
            result.reason = "not a photo (an audio or video file)"
            return result
        rgb = load_image(path, limits)
    except (MediaError, OSError) as error:
        result.reason = str(error)
        return result

    boxes = face.detect_faces(rgb, settings.upsample, settings.detector)
    reason = quality.face_problem(boxes, pick_largest, settings)
    if reason is not None:
        result.reason = reason
        return result
    chosen = boxes[0]
    embedding = face.encode_faces(rgb, [chosen])[0]
    reference = FaceReference(
        source_sha256=sha256,
        source_name=printable(Path(path).name),
        embedding=to_blob(embedding),
        face_px=chosen.size_px,
        quality={"box": chosen.as_list(), "faces_in_photo": len(boxes), "image_px": list(rgb.shape[1::-1])},
        model_name="face_recognition",
        model_version=face.face_model_version(),
    )
    performer.face_references.append(reference)
    session.flush()
    result.accepted, result.reference_id = True, reference.id
    return result
