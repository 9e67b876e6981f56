"""Performers: add with consent, record further consent, list, remove, and enrol their references."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from enrollment import service as registry
from enrollment.errors import LikenessError, NotFound, printable
from enrollment.models import Performer
from enrollment.service import EnrolResult
from monitor.pipeline.guard import item_failures
from monitor.services import audit
from monitor.services.context import Context
from monitor.storage.content_store import content_store


def _store_document(ctx: Context, document: Path | None) -> tuple[str | None, str | None]:
    """A signed consent form kept in the content store: (its file name, its sha256), or (None, None)."""
    if document is None:
        return None, None
    sha256, _size = content_store(ctx.config).add_file(document, ctx.config.media.max_file_bytes)
    return document.name, sha256


def add_performer(ctx: Context, name: str, consent_by: str, emails: tuple[str, ...] = (), agency: str | None = None,
                  consent_document: Path | None = None) -> dict:
    """Add a performer with who consented to the monitoring → ``{"id", "name"}``.

    Their agency: the context's; else ``agency`` by name (made if new: the command line's ``--agency``); else
    the only one."""
    ctx.require("performers")
    document_name, document_sha256 = _store_document(ctx, consent_document)
    agency_id = ctx.scoped_agency_id()
    try:
        with ctx.sessions.begin() as session:
            added = registry.add_performer(session, name, consent_by, emails, agency, document_name, document_sha256,
                                           agency_id=agency_id)
            data = {"id": added.id, "name": added.name}
            audit.record(ctx, "performer.add", f"performer {added.id}", session=session, agency_id=added.agency_id,
                         name=added.name, consent_by=consent_by, consent_document_sha256=document_sha256)
    except ValueError as error:
        raise LikenessError(str(error)) from None
    return data


def own_performer(ctx: Context, session: Session, performer_id: int):
    """The performer if this context may see them; NotFound otherwise (another agency's: as if none)."""
    performer = registry.get_performer(session, performer_id, ctx.scoped_agency_id())
    if not ctx.sees_performer(performer_id):
        raise NotFound(f"no performer with id {performer_id} (see `likeness performer list`)")
    return performer


def record_consent(ctx: Context, performer_id: int, consented_by: str, document: Path | None = None) -> dict:
    """Record a further consent for an existing performer → ``{"performer_id", "consented_by"}``."""
    ctx.require("performers")
    with ctx.reading() as session:
        own_performer(ctx, session, performer_id)
    document_name, document_sha256 = _store_document(ctx, document)
    try:
        with ctx.sessions.begin() as session:
            performer = own_performer(ctx, session, performer_id)
            registry.record_consent(session, performer, consented_by, document_name, document_sha256)
            audit.record(ctx, "performer.consent", f"performer {performer_id}", session=session,
                         agency_id=performer.agency_id, consented_by=consented_by, document_sha256=document_sha256)
    except ValueError as error:
        raise LikenessError(str(error)) from None
    return {"performer_id": performer_id, "consented_by": consented_by}


def list_performers(ctx: Context) -> list[dict]:
    """Every performer this context may see, with their agency, contacts, reference counts and consents (the
    CLI's rows)."""
    ctx.require("read")
    with ctx.reading() as session:
        return [{
            "id": p.id,
            "name": p.name,
            "agency": p.agency.name if p.agency else None,
            "emails": [contact.email for contact in p.contacts],
            "voice_clips": len(p.voice_references),
            "voice_speech_s": round(sum(ref.speech_s for ref in p.voice_references), 1),
            "face_photos": len(p.face_references),
            "consents": [{"by": c.consented_by, "at": c.consented_at.isoformat(timespec="seconds"),
                          "document_sha256": c.document_sha256} for c in p.consents],
        } for p in registry.list_performers(session, ctx.scoped_agency_id(), ctx.performer_ids)]


def performer_names(ctx: Context) -> list[dict]:
    """The performers this context may see, by name → ``[{"id", "name"}]``: a filter's choices, without the
    references :func:`list_performers` counts."""
    with ctx.reading() as session:
        return [row._asdict() for row in session.execute(names_query(ctx))]


def names_query(ctx: Context) -> Select:
    """(id, name) of the performers this context may see, by name."""
    ctx.require("read")
    query = select(Performer.id, Performer.name).order_by(Performer.name, Performer.id)
    if (agency_id := ctx.scoped_agency_id()) is not None:
        query = query.where(Performer.agency_id == agency_id)
    if ctx.performer_ids is not None:
        query = query.where(Performer.id.in_(ctx.performer_ids))
    return query


def remove_performer(ctx: Context, performer_id: int) -> dict:
    """Erase a performer with every reference, embedding and detection → ``{"id", "removed": True}``."""
    ctx.require("performers")
    with ctx.sessions.begin() as session:
        performer = own_performer(ctx, session, performer_id)
        audit.record(ctx, "performer.remove", f"performer {performer_id}", session=session,
                     agency_id=performer.agency_id, name=performer.name)
        registry.remove_performer(session, performer_id)
    return {"id": performer_id, "removed": True}


def enrol_voice(ctx: Context, performer_id: int, files: list[str | Path],
                on_refused: Callable[[str | Path, str], None] | None = None,
                shown_as: list[str] | None = None) -> list[dict]:
    """Enrol reference recordings, each on its own; one row per file (``file``, ``accepted``, ``reason``,
    ``speech_s``)."""
    config = ctx.config
    return _enrol_files(ctx, performer_id, "voice", files, on_refused, shown_as,
                        lambda s, path: registry.enroll_voice(s, performer_id, path, config.voice, config.media))


def enrol_face(ctx: Context, performer_id: int, files: list[str | Path], pick_largest: bool = False,
               on_refused: Callable[[str | Path, str], None] | None = None,
               shown_as: list[str] | None = None) -> list[dict]:
    """Enrol reference photos (with several faces, the largest when ``pick_largest``); one row per file."""
    config = ctx.config
    return _enrol_files(ctx, performer_id, "face", files, on_refused, shown_as, lambda s, path: registry.enroll_face(
        s, performer_id, path, config.face, config.media, pick_largest))


def _enrol_files(ctx: Context, performer_id: int, modality: str, files: list[str | Path],
                 on_refused: Callable[[str | Path, str], None] | None, shown_as: list[str] | None,
                 enrol_one: Callable[[Session, Path], EnrolResult]) -> list[dict]:
    """One transaction per file: a refused file leaves nothing behind and stops nothing. ``on_refused(file,
    reason)`` as each refused file is done, with the file as given. ``shown_as``: each file's name for the
    rows and the audit trail, where its path is no one's business (an upload kept for a moment)."""
    ctx.require("performers")
    with ctx.reading() as session:  # no such performer, or no consent: one error for the whole command
        own_performer(ctx, session, performer_id)
        agency_id = registry.consenting_performer(session, performer_id).agency_id
    rows = []
    for index, file in enumerate(files):
        path, name = Path(file), shown_as[index] if shown_as else None
        failed: list[str] = []  # a bug with one file is that file's reason, and the next file goes on
        with item_failures(failed.append, name or str(file)):
            with ctx.sessions.begin() as session:
                result = _as_shown(enrol_one(session, path), path, name)
            if result.accepted:  # kept, for alerts and evidence reports to show the reference beside what was found
                content_store(ctx.config).add_file(path, ctx.config.media.max_file_bytes)
                audit.record(ctx, f"enrol.{modality}", f"performer {performer_id}", agency_id=agency_id,
                             file=result.file)
        if failed:
            result = EnrolResult(file=name or printable(str(file)), accepted=False, reason=failed[0])
        if not result.accepted and on_refused is not None:
            on_refused(file, result.reason)
        rows.append(result.as_json())
    return rows


def _as_shown(result: EnrolResult, path: Path, name: str | None) -> EnrolResult:
    """The result naming the file ``name`` instead of its path (reasons too), when a name is given."""
    if name is None:
        return result
    where = printable(str(path))
    return replace(result, file=name, reason=result.reason.replace(where, name) if result.reason else None)
