"""Takedown notices: drafted from confirmed detections, listed, shown, and marked as their platform answers.

A notice is drafted for one agency's confirmed detections of material on one host, in the words of its legal
basis (:mod:`monitor.enforcement.letters`), signed by a named user of the agency who may act for it (an owner,
admin or legal). Drafting exports the evidence bundle the notice cites, and writes the text and its PDF
beside it under ``$LIKENESS_HOME/notices/ID/``. Each step (drafted, sent, acknowledged, removed, still_up,
refused, withdrawn) is kept with its date and actor, in the media's custody log and the agency's audit trail.
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from enrollment.errors import LikenessError, NotFound
from enrollment.models import Agency, utc_now
from monitor.services import audit
from monitor.services.context import Context
from monitor.storage import custody
from monitor.storage.accounts import Membership, User
from monitor.storage.models import Detection, Media
from monitor.storage.notices import BASES, NEXT, STATUSES, Notice, NoticeDetection, NoticeEvent

MAX_DETECTIONS = 100  # per notice


class NoticeRefused(LikenessError):
    """A notice that cannot be drafted as asked (why, in one line)."""


def draft_notice(ctx: Context, detection_ids: list[int], basis: str, signer_email: str | None,
                 signer_name: str | None, recipient: str | None = None, work: str | None = None) -> dict:
    """Draft a notice of ``basis`` (dmca, take-it-down, publicity, platform) for confirmed detections → NOTICE.
    ``recipient``: an e-mail address or a form's https:// URL (default: the ``[notices] contacts`` entry of the
    host the material is on); ``work``: a DMCA notice's copyrighted work (default: the performers' own
    recordings and images). NoticeRefused (one line) for what cannot be a notice; nothing is kept then."""
    from monitor.enforcement.contacts import checked_recipient
    from monitor.enforcement.letters import Letter, notice_text
    from monitor.enforcement.pdf import notice_pdf

    ctx.require("notices")
    ids = _checked_request(detection_ids, basis, signer_email, signer_name, work)
    with ctx.reading() as session:
        found = _confirmed(session, ctx, ids)
        _check_basis(basis, found)
        agency_id = found[0].agency_id
        items, hosts = _items(session, found, agency_id)
        to = checked_recipient(recipient) if recipient else _directory_recipient(ctx, hosts)
        party = _party(session, agency_id, found, signer_email.strip().lower(), signer_name.strip())
        if basis == "dmca" and not party.address:
            raise NoticeRefused(f"a DMCA notice needs {party.agency}'s postal address: likeness agency contact "
                                f"{party.agency!r} --address …")
    drafting = ctx.config.home / "notices" / f".drafting-{secrets.token_hex(8)}"
    drafting.mkdir(parents=True)
    try:
        from monitor.services.evidence import export_evidence

        exported = export_evidence(ctx, ids, drafting / "evidence.zip")
        evidence_sha256 = _sha256(drafting / "evidence.zip")
        letter = Letter(basis, to, datetime.now(UTC).date().isoformat(), party, items, evidence_sha256,
                        exported["fingerprint"], work, {d.modality for d in found})
        text = notice_text(letter)
        (drafting / "notice.txt").write_text(text, encoding="utf-8")
        (drafting / "notice.pdf").write_bytes(notice_pdf(text))
        return _keep(ctx, found, basis, to, sorted(hosts)[0] if len(hosts) == 1 else None, party, text,
                     drafting, evidence_sha256, exported["fingerprint"])
    finally:
        shutil.rmtree(drafting, ignore_errors=True)


def _checked_request(detection_ids: list[int], basis: str, signer_email: str | None, signer_name: str | None,
                     work: str | None) -> list[int]:
    if basis not in BASES:
        raise NoticeRefused(f"basis must be one of {', '.join(BASES)}, not {str(basis)[:40]!r}")
    ids = list(dict.fromkeys(detection_ids))
    if not 1 <= len(ids) <= MAX_DETECTIONS:
        raise NoticeRefused(f"a notice names from 1 to {MAX_DETECTIONS} detections")
    if not signer_email or not signer_email.strip():
        raise NoticeRefused("a notice needs a signer: the e-mail of an owner, admin or legal of the agency "
                            "(--signer EMAIL)")
    if not signer_name or not signer_name.strip() or len(signer_name) > 200 or "\n" in signer_name:
        raise NoticeRefused("a notice needs the name its signer signs with, on one line (--signer-name NAME)")
    if work is not None and (not work.strip() or len(work) > 2000):
        raise NoticeRefused("the work must be a description of 1 to 2000 characters")
    return ids


def _confirmed(session: Session, ctx: Context, ids: list[int]) -> list[Detection]:
    from monitor.services.detections import visible_detection

    found = [visible_detection(session, ctx, detection_id) for detection_id in ids]
    for detection in found:
        if detection.status != "confirmed":
            raise NoticeRefused(f"detection {detection.id} is {detection.status}, not confirmed: a notice is sent "
                                f"only for a confirmed clone (likeness detections review {detection.id} confirmed)")
    if len({d.agency_id for d in found}) > 1:
        raise NoticeRefused("these detections belong to several agencies: one agency's per notice (--agency NAME)")
    return found


def _check_basis(basis: str, found: list[Detection]) -> None:
    if basis != "take-it-down":
        return
    for detection in found:  # the Act covers intimate visual depictions only
        if detection.modality != "face" or detection.media.media_type not in ("image", "video"):
            raise NoticeRefused(f"the TAKE IT DOWN Act covers intimate images and videos: detection {detection.id} "
                                f"is a {detection.modality} match (use --basis publicity or dmca)")


def _items(session: Session, found: list[Detection], agency_id: int) -> tuple[list, set[str]]:
    """The notice's items, one per media (its detections' matches together), and the hosts they are on."""
    from monitor.enforcement.contacts import host_of
    from monitor.enforcement.letters import Item
    from monitor.storage.detections import latest_sighting, population_text

    items, hosts = [], set()
    for media_id in dict.fromkeys(d.media_id for d in found):
        seen = latest_sighting(session, media_id, agency_id)
        ours = [d for d in found if d.media_id == media_id]
        host = host_of(seen.page_url or seen.source) or host_of(seen.source)
        if host is None:
            raise NoticeRefused(f"detection {ours[0].id} was found in a local file, not on the web: there is "
                                f"nobody to send a notice to")
        hosts.add(host)
        matches = [f"{d.performer.name}'s {'voice' if d.modality == 'voice' else 'face'} (detection {d.id}: "
                   f"score {d.score:.2f}" + (f", {text}" if (text := population_text(d)) else "") + ")"
                   for d in ours]
        items.append(Item(seen.source, seen.page_url, seen.first_seen_at.date().isoformat(), ours[0].media.sha256,
                          ours[0].media.media_type or "media", matches))
    return items, hosts


def _directory_recipient(ctx: Context, hosts: set[str]) -> str:
    from monitor.enforcement.contacts import contact_for

    recipients = {host: contact_for(host, ctx.config.notices.contacts) for host in sorted(hosts)}
    if len(set(recipients.values())) > 1:
        raise NoticeRefused(f"these detections were found on {', '.join(recipients)}, which have different "
                            f"contacts: one notice per host")
    host, recipient = next(iter(recipients.items()))
    if recipient is None:
        raise NoticeRefused(f"no contact for {host}: add it under [notices.contacts] in config.toml "
                            f"(docs/configuration.md) or give --to ADDRESS_OR_FORM_URL")
    return recipient


def _party(session: Session, agency_id: int, found: list[Detection], signer_email: str, signer_name: str):
    from monitor.enforcement.letters import Party
    from monitor.services.roles import permissions

    agency = session.get(Agency, agency_id)
    role = session.scalar(select(Membership.role).join(User, Membership.user_id == User.id)
                          .where(User.email == signer_email, Membership.agency_id == agency_id,
                                 User.disabled.is_(False)))
    if role is None:
        raise NoticeRefused(f"{signer_email} is not a user of {agency.name}: the signer must be one "
                            f"(likeness user add {signer_email} --agency {agency.name!r} --role legal)")
    if "notices" not in permissions(role):
        raise NoticeRefused(f"{signer_email} is {role} at {agency.name}: a notice is signed by an owner, admin "
                            f"or legal of the agency")
    return Party(agency.name, [d.performer.name for d in found], signer_name, signer_email, role,
                 agency.contact_address, agency.contact_phone, agency.contact_email)


def _keep(ctx: Context, found: list[Detection], basis: str, to: str, host: str | None, party, text: str,
          drafting: Path, evidence_sha256: str, fingerprint: str) -> dict:
    """The notice's rows, its files moved to ``notices/ID/``, its custody entries and audit event, at once."""
    agency_id, now, final = found[0].agency_id, utc_now(), None
    try:
        with ctx.sessions.begin() as session:
            notice = Notice(agency_id=agency_id, basis=basis, status="drafted", recipient=to, host=host,
                            signer_email=party.signer_email, signer_name=party.signer_name, text=text,
                            evidence_sha256=evidence_sha256, evidence_fingerprint=fingerprint, created_at=now)
            notice.detections = [NoticeDetection(detection_id=d.id) for d in found]
            notice.events = [NoticeEvent(agency_id=agency_id, status="drafted", at=now, actor=ctx.actor.name)]
            session.add(notice)
            session.flush()
            _log(ctx, session, notice, "drafted", None)
            final = ctx.config.home / notice.folder
            shutil.rmtree(final, ignore_errors=True)  # left by a draft whose transaction did not commit
            drafting.rename(final)
            for name in ("notice.txt", "notice.pdf", "evidence.zip"):
                (final / name).rename(final / f"{Path(name).stem}-{notice.id}{Path(name).suffix}")
            session.flush()
            drafted = notice_json(ctx, notice)
    except BaseException:
        if final is not None:
            shutil.rmtree(final, ignore_errors=True)
        raise
    return drafted


def _log(ctx: Context, session: Session, notice: Notice, status: str, note: str | None) -> None:
    """The step in each media's custody log and in the agency's audit trail (the caller's transaction)."""
    media_ids = session.scalars(select(Detection.media_id).where(
        Detection.id.in_([link.detection_id for link in notice.detections])).distinct())
    for media in session.scalars(select(Media).where(Media.id.in_(list(media_ids))).order_by(Media.id)):
        custody.record(session, media, "notice", {"notice_id": notice.id, "basis": notice.basis, "status": status,
                                                  "to": notice.recipient, "note": note},
                       agency_id=notice.agency_id, actor=ctx.actor.name)
    audit.record(ctx, f"notice.{'draft' if status == 'drafted' else 'mark'}", f"notice {notice.id}",
                 session=session, agency_id=notice.agency_id, status=status, basis=notice.basis,
                 detection_ids=[link.detection_id for link in notice.detections])


def list_notices(ctx: Context, status: str | None = None, detection_id: int | None = None) -> list[dict]:
    """The agency's notices, newest first; only those with ``status``, or naming ``detection_id``, when given →
    [NOTICE]."""
    ctx.require("notices")
    if status is not None and status not in STATUSES:
        raise LikenessError(f"status must be one of {', '.join(STATUSES)}")
    query = select(Notice).order_by(Notice.id.desc())
    if (agency_id := ctx.scoped_agency_id()) is not None:
        query = query.where(Notice.agency_id == agency_id)
    if status is not None:
        query = query.where(Notice.status == status)
    if detection_id is not None:
        query = query.where(Notice.detections.any(NoticeDetection.detection_id == detection_id))
    with ctx.reading() as session:
        return [notice_json(ctx, notice) for notice in session.scalars(query)]


def get_notice(ctx: Context, notice_id: int) -> dict:
    """One NOTICE; NotFound for an id of another agency (as if there were none)."""
    ctx.require("notices")
    with ctx.reading() as session:
        return notice_json(ctx, visible_notice(session, ctx, notice_id))


def mark_notice(ctx: Context, notice_id: int, status: str, note: str | None = None) -> dict:
    """Record what became of a notice (sent, acknowledged, removed, still_up, refused, withdrawn) → NOTICE.
    Only the steps of :data:`NEXT` are allowed; each is kept with its date, actor and ``note``."""
    ctx.require("notices")
    if status not in STATUSES or status == "drafted":
        raise LikenessError(f"status must be one of {', '.join(s for s in STATUSES if s != 'drafted')}")
    if note is not None and len(note) > 2000:
        raise LikenessError("a note is at most 2000 characters")
    with ctx.sessions.begin() as session:
        notice = visible_notice(session, ctx, notice_id, for_update=True)
        if status not in NEXT[notice.status]:
            allowed = " or ".join(sorted(NEXT[notice.status])) or "nothing else"
            raise NoticeRefused(f"notice {notice.id} is {notice.status}: it can become {allowed}, not {status}")
        notice.move_to(status, ctx.actor.name, note)
        _log(ctx, session, notice, status, note)
        session.flush()
        return notice_json(ctx, notice)


def send_notice(ctx: Context, notice_id: int) -> dict:
    """E-mail a notice (its text, its PDF attached, replies to the signer) to its recipient through the alerts'
    mail server, and record it sent → NOTICE. Refused for a notice that goes to a form (paste it there, then
    mark it sent) or that cannot be sent now; a delivery that fails changes nothing and says why."""
    from monitor.alerts.channels import DeliveryError, send_email
    from monitor.enforcement.mail import notice_email
    from monitor.enforcement.pdf import notice_pdf

    ctx.require("notices")
    with ctx.sessions.begin() as session:  # the row stays locked while it is sent: never sent twice at once
        notice = visible_notice(session, ctx, notice_id, for_update=True)
        if "sent" not in NEXT[notice.status]:
            raise NoticeRefused(f"notice {notice.id} is {notice.status}: only a drafted, still_up or refused "
                                f"notice is sent")
        if "@" not in notice.recipient:
            raise NoticeRefused(f"notice {notice.id} goes to a form, {notice.recipient}: paste its text there "
                                f"(likeness notice show {notice.id}), then likeness notice mark {notice.id} sent")
        smtp = ctx.config.smtp.effective()
        message = notice_email(notice.text, notice_pdf(notice.text), notice.id, smtp.from_address,
                               notice.recipient, notice.signer_email)
        try:
            send_email(smtp, message)
        except DeliveryError as error:
            raise NoticeRefused(f"notice {notice.id} was not sent: {error}") from None
        note = f"e-mailed to {notice.recipient} as {message['Message-ID']}"
        notice.move_to("sent", ctx.actor.name, note)
        _log(ctx, session, notice, "sent", note)
        session.flush()
        return notice_json(ctx, notice)


def notice_file(ctx: Context, notice_id: int, which: str) -> Path:
    """The path of a notice's ``pdf`` or of the ``evidence`` bundle it cites; NotFound for another agency's
    notice, or where the file is no longer on this machine."""
    ctx.require("notices")
    with ctx.reading() as session:
        shown = notice_json(ctx, visible_notice(session, ctx, notice_id))
    path = Path(shown["pdf"] if which == "pdf" else shown["evidence"]["bundle"])
    if not path.is_file():
        raise NotFound(f"notice {notice_id}'s {which} file is no longer on this server")
    return path


def visible_notice(session: Session, ctx: Context, notice_id: int, for_update: bool = False) -> Notice:
    query = select(Notice).where(Notice.id == notice_id)
    if (agency_id := ctx.scoped_agency_id()) is not None:
        query = query.where(Notice.agency_id == agency_id)
    notice = session.scalar(query.with_for_update() if for_update else query)
    if notice is None:
        raise NotFound(f"no notice with id {notice_id} (see `likeness notice list`)")
    return notice


def notice_json(ctx: Context, notice: Notice) -> dict:
    """The NOTICE object of the CLI contract (docs/cli.md)."""
    folder = ctx.config.home / notice.folder

    def when(moment: datetime) -> str:
        return moment.isoformat(timespec="seconds")

    return {"id": notice.id, "detection_ids": [link.detection_id for link in notice.detections],
            "basis": notice.basis, "status": notice.status, "to": notice.recipient, "host": notice.host,
            "signer": {"name": notice.signer_name, "email": notice.signer_email}, "text": notice.text,
            "pdf": str(folder / f"notice-{notice.id}.pdf"),
            "evidence": {"bundle": str(folder / f"evidence-{notice.id}.zip"), "sha256": notice.evidence_sha256,
                         "fingerprint": notice.evidence_fingerprint},
            "created_at": when(notice.created_at), "updated_at": when(notice.updated_at),
            "history": [{"status": e.status, "at": when(e.at), "actor": e.actor, "note": e.note}
                        for e in notice.events]}


def _sha256(path: Path) -> str:
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()
