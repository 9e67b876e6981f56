"""The dashboard's other pages: performers (added with consent, enrolled, removed), sources, alerts, users and
API tokens, and the audit trail.

Each page parses its input, calls the service functions the command line and the API call, and renders; what a
role may not do the services refuse (the app answers with the error page), and the pages only hide the buttons.
Every change is a form carrying the session's CSRF token (checked by :data:`monitor.web.pages.Signed`), answered
with a redirect back to its page, except where the answer itself is what is wanted once: enrolment's row per
file, and a new API token's secret.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from enrollment.errors import LikenessError, NotFound
from monitor.services import accounts, alerts, allow_rules, audit, performers, sources
from monitor.storage.accounts import ROLES, TOKEN_SCOPES
from monitor.storage.models import ALERT_STATUSES
from monitor.web.pages import Signed, render
from monitor.web.uploads import saved

router = APIRouter(include_in_schema=False)
AUDIT_PAGE = 100
SOURCE_KINDS = {"auto": "tell from the address (fetches it once now)", "page": "a web page",
                "feed": "an RSS or Atom feed", "sitemap": "a sitemap", "media": "one media file",
                "platform": "a video platform's channel or page"}
Text = Annotated[str, Form(max_length=2000)]
RULE_KINDS = {"domain": "the host (and hosts under it)", "url_prefix": "addresses starting with",
              "licensee": "the licensee (by the file's signer or the page's title)"}


def _upload_limit(request: Request) -> int:
    return request.app.state.base.config.web.max_upload_bytes


def _chosen(files: list[UploadFile] | None) -> list[UploadFile]:
    """The files a form really carries (a file input left empty sends one part without a name)."""
    return [upload for upload in files or [] if upload.filename]


def _see_other(path: str) -> Response:
    return RedirectResponse(path, status_code=303)


# ------------------------------------------------------------------------------------------- performers


@router.get("/performers", response_class=HTMLResponse)
def performer_list(request: Request, seen: Signed) -> Response:
    """Every performer the user may see, and (for those who may) a form to add one with their consent."""
    return render(request, "performers.html", seen, performers=performers.list_performers(seen.ctx),
                  may_change=seen.ctx.may("performers"))


@router.post("/performers")
def add_performer(request: Request, seen: Signed, name: Annotated[str, Form(max_length=200)],
                  consent_by: Annotated[str, Form(max_length=200)], emails: Text = "",
                  consent_document: Annotated[UploadFile | None, File()] = None) -> Response:
    """Add a performer with who consented and the signed consent form → their page, to enrol references."""
    addresses = tuple(part for part in re.split(r"[\s,;]+", emails) if part)
    if len(addresses) > 20:
        raise LikenessError("e-mail addresses: at most 20")
    documents = _chosen([consent_document] if consent_document is not None else [])
    with saved(documents, _upload_limit(request)) as kept:  # each under the (safe) name it was uploaded with
        document = kept[0][0] if kept else None
        added = performers.add_performer(seen.ctx, name, consent_by, addresses, consent_document=document)
    return _see_other(f"/performers/{added['id']}")


def _performer(seen: Signed, performer_id: int) -> dict:
    """The performer's row of :func:`performers.list_performers`; NotFound where the user may not see them."""
    found = [row for row in performers.list_performers(seen.ctx) if row["id"] == performer_id]
    if not found:
        raise NotFound(f"no performer with id {performer_id}")
    return found[0]


@router.get("/performers/{performer_id}", response_class=HTMLResponse)
def performer_page(request: Request, seen: Signed, performer_id: int) -> Response:
    """One performer: contacts, references and consents; a form to enrol references; a way to remove them."""
    return _performer_page(request, seen, performer_id, enrolled=None)


@router.post("/performers/{performer_id}/references", response_class=HTMLResponse)
def enrol(request: Request, seen: Signed, performer_id: int, modality: Annotated[Literal["voice", "face"], Form()],
          files: Annotated[list[UploadFile] | None, File()] = None) -> Response:
    """Enrol reference recordings or photos, each on its own → the performer's page with a row per file: its
    name as uploaded, and whether it was kept or why not."""
    chosen = _chosen(files)
    if not chosen:
        raise LikenessError("choose one or more files to enrol")
    enrol_files = performers.enrol_voice if modality == "voice" else performers.enrol_face
    with saved(chosen, _upload_limit(request)) as kept:
        rows = enrol_files(seen.ctx, performer_id, [path for path, _name in kept],
                           shown_as=[name for _path, name in kept])
    return _performer_page(request, seen, performer_id, enrolled=rows, modality=modality)


def _performer_page(request: Request, seen: Signed, performer_id: int, **shown: object) -> Response:
    return render(request, "performer.html", seen, p=_performer(seen, performer_id),
                  rules=allow_rules.list_allow_rules(seen.ctx, performer_id), rule_kinds=RULE_KINDS,
                  may_change=seen.ctx.may("performers"), **shown)


@router.get("/performers/{performer_id}/remove", response_class=HTMLResponse)
def remove_page(request: Request, seen: Signed, performer_id: int) -> Response:
    """The second step of erasing a performer: their name typed to confirm."""
    return render(request, "performer_remove.html", seen, p=_performer(seen, performer_id), error=None)


@router.post("/performers/{performer_id}/remove")
def remove(request: Request, seen: Signed, performer_id: int,
           typed_name: Annotated[str, Form(max_length=400)] = "") -> Response:
    """Erase the performer with everything kept of them, once their name is typed exactly."""
    shown = _performer(seen, performer_id)
    if typed_name.strip() != shown["name"]:
        return render(request, "performer_remove.html", seen, p=shown, status_code=422,
                      error="the name typed is not the performer's: nothing was removed")
    performers.remove_performer(seen.ctx, performer_id)
    return _see_other("/performers")


# ---------------------------------------------------------------------------------------------- sources


@router.get("/sources", response_class=HTMLResponse)
def source_list(request: Request, seen: Signed) -> Response:
    """The agency's sources with their schedule and last run; forms to add, pause and resume them."""
    return render(request, "sources.html", seen, sources=sources.list_sources(seen.ctx), kinds=SOURCE_KINDS,
                  may_change=seen.ctx.may("sources"))


@router.post("/sources")
def add_source(seen: Signed, url: Text, kind: Annotated[str, Form(max_length=20)] = "auto",
               every_hours: Annotated[str, Form(max_length=20)] = "") -> Response:
    """Watch a web address (http or https: a folder of the server is its operator's to add)."""
    url = url.strip()
    if not url.lower().startswith(("http://", "https://")):
        raise LikenessError("give a web address starting with http:// or https://")
    sources.add_source(seen.ctx, url, kind, _hours(every_hours))
    return _see_other("/sources")


def _hours(text: str) -> int | None:
    """``6`` or ``0.5`` (hours) → seconds; empty → None (the install's default)."""
    if not text.strip():
        return None
    try:
        hours = float(text)
    except ValueError:
        raise LikenessError("how often: give a number of hours, for example 6 or 0.5") from None
    if not 0 < hours <= 366 * 24:
        raise LikenessError("how often: from 1 minute (0.017 hours) to a year (8784 hours)")
    return round(hours * 3600)


@router.post("/sources/{source_id}/{change}")
def change_source(seen: Signed, source_id: int, change: Literal["pause", "resume"]) -> Response:
    """Pause a source (it is not crawled until resumed), or resume it."""
    sources.change_source(seen.ctx, source_id, change)
    return _see_other("/sources")


# ----------------------------------------------------------------------------------------------- alerts


@router.get("/alerts", response_class=HTMLResponse)
def alert_list(request: Request, seen: Signed, status: str | None = None) -> Response:
    """The outbox: every alert of the agency, newest first, with each recipient's delivery."""
    status = status or None
    return render(request, "alerts.html", seen, alerts=alerts.list_alerts(seen.ctx, status), status=status or "",
                  statuses=ALERT_STATUSES)


# ------------------------------------------------------------------------------------- users and tokens


def _members_page(request: Request, seen: Signed, new_token: dict | None = None) -> Response:
    """The agency's users and tokens (refused by the services unless the user manages members)."""
    members = accounts.list_members(seen.ctx)
    tokens = accounts.list_tokens(seen.ctx)
    names = {row["id"]: row["name"] for row in performers.list_performers(seen.ctx)}
    return render(request, "members.html", seen, members=members, tokens=tokens, performer_names=names,
                  roles=ROLES, scopes=TOKEN_SCOPES, new_token=new_token)


@router.get("/members", response_class=HTMLResponse)
def member_list(request: Request, seen: Signed) -> Response:
    """The agency's users and roles, and its API tokens (owners and admins only)."""
    return _members_page(request, seen)


@router.post("/members/users")
def add_user(seen: Signed, email: Annotated[str, Form(max_length=320)], role: Annotated[str, Form(max_length=10)],
             performer_id: Annotated[list[int], Form()] = [],  # noqa: B006  (FastAPI copies defaults)
             password: Annotated[str, Form(max_length=1000)] = "") -> Response:
    """Give someone a role in the agency (a new user, or a new role for one already in it)."""
    accounts.add_user(seen.ctx, email, role, performer_id, password=password or None)
    return _see_other("/members")


@router.post("/members/tokens", response_class=HTMLResponse)
def create_token(request: Request, seen: Signed, email: Annotated[str, Form(max_length=320)],
                 name: Annotated[str, Form(max_length=200)], scope: Annotated[str, Form(max_length=10)] = "read",
                 expires_days: Annotated[str, Form(max_length=10)] = "") -> Response:
    """Make an API token → the members page showing its secret this once (never redirected to, never again)."""
    days = expires_days.strip()
    if days and not days.isdigit():
        raise LikenessError("days until it stops working: a whole number, or empty for never")
    created = accounts.create_token(seen.ctx, email, name, scope, int(days) if days else None)
    return _members_page(request, seen, new_token=created)


@router.post("/members/tokens/{token_id}/revoke")
def revoke_token(seen: Signed, token_id: int) -> Response:
    """Revoke a token: from now on it is refused."""
    accounts.revoke_token(seen.ctx, token_id)
    return _see_other("/members")


# ------------------------------------------------------------------------------------------------ audit


@router.get("/audit", response_class=HTMLResponse)
def audit_trail(request: Request, seen: Signed,
                before_seq: Annotated[int | None, Query(ge=1)] = None) -> Response:
    """The agency's audit trail, newest first, a hundred entries a page."""
    entries = audit.read_trail(seen.ctx, AUDIT_PAGE, before_seq)
    older = entries[-1]["seq"] if len(entries) == AUDIT_PAGE and entries[-1]["seq"] > 1 else None
    return render(request, "audit.html", seen, entries=entries, older=older, newest=before_seq is None)
