"""The dashboard: server-rendered pages (Jinja2, htmx) over the same service functions as the API.

Signing in makes a server-side session (:mod:`monitor.services.web_sessions`) held by an HttpOnly cookie;
every unsafe request carries the session's CSRF token and is checked for its origin (:mod:`.security`).
Pages: the review queue (filters, keyboard shortcuts, bulk dismiss), a detection (its media, score over time,
population and chance, where it was found, custody, review, evidence).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import jinja2
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from enrollment.errors import LikenessError
from monitor.services import detections
from monitor.services.accounts import Unauthorized
from monitor.services.context import Context
from monitor.services.roles import ARTIST_WORDS
from monitor.services.web_sessions import SESSION_HOURS, session_context, sign_in, sign_out
from monitor.web.charts import score_curve_svg
from monitor.web.downloads import evidence_bundle
from monitor.web.security import COOKIE, check_unsafe_request, clear_session_cookie, set_session_cookie

router = APIRouter(include_in_schema=False)


class _Templates(jinja2.Environment):
    """Jinja's environment, reading ``row.key`` of the services' dicts without first trying (and failing) an
    attribute: a page of 50 detections asked for thousands, each an exception caught (a tenth of the page's
    CPU). What a name means is unchanged: a dict's own methods (``items``, ``get``) still come first."""

    def getattr(self, obj: object, attribute: str) -> object:
        if type(obj) is dict and attribute in obj and not hasattr(dict, attribute):
            return obj[attribute]
        return super().getattr(obj, attribute)


TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
templates = Jinja2Templates(env=_Templates(loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
                                           autoescape=jinja2.select_autoescape()))
DECISIONS = {"confirmed": "Confirm: a clone", "dismissed": "Dismiss: not them", "authorized": "Authorised use"}
BASIS_WORDS = {"dmca": "DMCA (17 U.S.C. §512(c)(3)): a copy of the performer's own work",
               "publicity": "Right of publicity: an unauthorised use of their voice or likeness",
               "take-it-down": "TAKE IT DOWN Act: an intimate image or video (faces only)",
               "platform": "The platform's own form: fields to paste"}  # the detection page's notice form


@dataclass(frozen=True)
class Viewer:
    ctx: Context
    csrf_token: str


class SignInNeeded(Unauthorized):
    """A page asked for without a session: answered with the sign-in page."""


async def viewer(request: Request) -> Viewer:
    """The signed-in browser's context; SignInNeeded without a valid session. Unsafe requests are checked
    (origin, CSRF token) here, before any route runs."""
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        raise SignInNeeded("please sign in")
    from fastapi.concurrency import run_in_threadpool

    try:
        csrf_token, ctx = await run_in_threadpool(session_context, request.app.state.base, cookie, _client(request))
    except Unauthorized:
        raise SignInNeeded("please sign in") from None
    await check_unsafe_request(request, csrf_token)
    return Viewer(ctx, csrf_token)


Signed = Annotated[Viewer, Depends(viewer)]


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def render(request: Request, name: str, viewer_: Viewer | None = None, status_code: int = 200, **values) -> Response:
    role = viewer_.ctx.role if viewer_ is not None else None
    return templates.TemplateResponse(request, name, {
        "csrf_token": viewer_.csrf_token if viewer_ else "", "user": viewer_.ctx.actor.name if viewer_ else None,
        "role": role, **values}, status_code=status_code)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/queue") -> Response:
    return render(request, "login.html", next=_local(next), error=None)


@router.post("/login")
def login(request: Request, email: Annotated[str, Form(max_length=320)],
          password: Annotated[str, Form(max_length=1000)], next: Annotated[str, Form()] = "/queue") -> Response:
    from monitor.services.web_sessions import TooManyAttempts

    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.headers.get('host', '')}":
        return render(request, "login.html", next="/queue", error="this request came from another site",
                      status_code=403)
    try:
        signed = sign_in(request.app.state.base, email, password, _client(request))
    except (Unauthorized, TooManyAttempts) as refused:
        status = 429 if isinstance(refused, TooManyAttempts) else 401
        return render(request, "login.html", next=_local(next), error=str(refused), status_code=status)
    response = RedirectResponse(_local(next), status_code=303)
    set_session_cookie(response, signed.cookie, SESSION_HOURS * 3600)
    return response


def _local(target: str) -> str:
    """Only a path of this site is a place to go after signing in (never ``//elsewhere`` or a URL)."""
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else "/queue"


@router.post("/logout")
def logout(request: Request, seen: Signed) -> Response:
    sign_out(request.app.state.base, request.cookies.get(COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response)
    return response


@router.get("/")
def home() -> Response:
    return RedirectResponse("/queue", status_code=303)


@router.get("/queue", response_class=HTMLResponse)
def queue(request: Request, seen: Signed, status: str | None = "new", performer_id: str | None = None,
          modality: str | None = None, tier: str | None = None, source_id: str | None = None,
          order: str = "newest", cursor: str | None = None) -> Response:
    performer, source = _chosen_id(performer_id), _chosen_id(source_id)  # "" from the form: all
    shown = detections.review_queue(seen.ctx, performer, status or None, modality or None, order, cursor,
                                    tier or None, source)
    filters = {"status": status or "", "performer_id": performer or "", "modality": modality or "",
               "tier": tier or "", "source_id": source or "", "order": order}
    return render(request, "queue.html", seen, page=shown["page"], filters=filters, performers=shown["performers"],
                  sources=shown["sources"], may_review=seen.ctx.may("review") and seen.ctx.role != "artist")


def _chosen_id(value: str | None) -> int | None:
    if not value:
        return None
    if not value.isdigit() or len(value) > 10:
        raise LikenessError(f"not an id: {value[:20]!r}")
    return int(value)


@router.post("/queue/dismiss")
async def dismiss_many(request: Request, seen: Signed) -> Response:
    from fastapi.concurrency import run_in_threadpool

    form = await request.form()
    ids = [int(value) for value in form.getlist("detection_id") if str(value).isdigit() and len(str(value)) < 11]
    await run_in_threadpool(detections.review_many, seen.ctx, ids, "dismissed", "dismissed in bulk")
    return RedirectResponse(_local(str(form.get("back") or "/queue")), status_code=303)


@router.get("/detections/{detection_id}", response_class=HTMLResponse)
def detection(request: Request, seen: Signed, detection_id: int) -> Response:
    shown = detections.detection_page(seen.ctx, detection_id)
    found = shown["detection"]
    decisions = ARTIST_WORDS if seen.ctx.role == "artist" else DECISIONS
    return render(request, "detection.html", seen, d=found, page=shown, decisions=decisions,
                  may_review=seen.ctx.may("review"), may_export=seen.ctx.may("evidence"),
                  may_notice=seen.ctx.may("notices"), bases=BASIS_WORDS,
                  notices=_notices_naming(seen.ctx, detection_id) if seen.ctx.may("notices") else [],
                  chart=score_curve_svg(shown["curve"], found["segments"]))


def _notices_naming(ctx: Context, detection_id: int) -> list[dict]:
    from monitor.services.notices import list_notices

    return list_notices(ctx, detection_id=detection_id)


@router.post("/detections/{detection_id}/review")
def review(seen: Signed, detection_id: int, status: Annotated[str, Form()],
           note: Annotated[str, Form(max_length=2000)] = "", then: Annotated[str, Form()] = "stay") -> Response:
    detections.review(seen.ctx, detection_id, status, note.strip() or None)
    if then == "next":
        following = detections.page_of_detections(seen.ctx, status="new", limit=1)["items"]
        if following:
            return RedirectResponse(f"/detections/{following[0]['id']}", status_code=303)
        return RedirectResponse("/queue", status_code=303)
    return RedirectResponse(f"/detections/{detection_id}", status_code=303)


@router.get("/detections/{detection_id}/media")
def media(seen: Signed, detection_id: int) -> Response:
    path, media_type = detections.media_file(seen.ctx, detection_id)
    kinds = {"audio": "audio/mpeg", "video": "video/mp4", "image": "image/jpeg"}
    return FileResponse(path, media_type=_sniffed(path) or kinds.get(media_type or "", "application/octet-stream"))


def _sniffed(path: Path) -> str | None:
    head = path.open("rb").read(16)
    for magic, kind in ((b"RIFF", "audio/wav"), (b"ID3", "audio/mpeg"), (b"fLaC", "audio/flac"),
                        (b"OggS", "audio/ogg"), (b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG", "image/png")):
        if head.startswith(magic):
            return kind
    return "video/mp4" if head[4:8] == b"ftyp" else None


@router.get("/detections/{detection_id}/{which}.jpg")
def picture(seen: Signed, detection_id: int, which: Literal["faces", "key-frame"]) -> Response:
    return Response(detections.detection_picture(seen.ctx, detection_id, which), media_type="image/jpeg")


@router.post("/detections/{detection_id}/evidence")
def export(seen: Signed, detection_id: int) -> Response:
    return evidence_bundle(seen.ctx, [detection_id], f"evidence-detection-{detection_id}.zip")
