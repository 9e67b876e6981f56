"""The dashboard's enforcement pages: takedown notices (drafted from a confirmed detection's page, sent, marked,
captured again, their PDF and evidence bundle), how each host answers them, and a performer's allow-list.

Each route parses its form, calls the service function the command line and the API call, and answers with a
redirect to the page that shows the change; what a role may not do, the services refuse.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from enrollment.errors import LikenessError
from monitor.services import allow_rules, notice_checks, notices
from monitor.storage.notices import BASES, NEXT, STATUSES
from monitor.web.pages import Signed, render

router = APIRouter(include_in_schema=False)
Line = Annotated[str, Form(max_length=2000)]
STEP_WORDS = {"sent": "Sent (by its form)", "acknowledged": "Acknowledged", "removed": "Removed",
              "still_up": "Still up", "refused": "Refused", "withdrawn": "Withdrawn"}


def _see_other(path: str) -> Response:
    return RedirectResponse(path, status_code=303)


@router.get("/notices", response_class=HTMLResponse)
def notice_list(request: Request, seen: Signed, status: str = "") -> Response:
    """The agency's notices, newest first (one status, or all), and per host how platforms answered."""
    if status and status not in STATUSES:
        raise LikenessError(f"status must be one of {', '.join(STATUSES)}")
    return render(request, "notices.html", seen, notices=notices.list_notices(seen.ctx, status or None),
                  stats=notice_checks.notice_stats(seen.ctx), statuses=STATUSES, status=status)


@router.post("/notices")
def draft(seen: Signed, detection_id: Annotated[int, Form(ge=1, le=2**31 - 1)],
          basis: Annotated[Literal[BASES], Form()], signer_name: Annotated[str, Form(max_length=200)],  # type: ignore[valid-type]
          signer_email: Annotated[str, Form(max_length=320)] = "", to: Line = "", work: Line = "") -> Response:
    """Draft a notice of one confirmed detection, signed by the user (or the owner, admin or legal named)."""
    drafted = notices.draft_notice(seen.ctx, [detection_id], basis, signer_email.strip() or seen.ctx.actor.name,
                                   signer_name, to.strip() or None, work.strip() or None)
    return _see_other(f"/notices/{drafted['id']}")


@router.get("/notices/{notice_id}", response_class=HTMLResponse)
def notice_page(request: Request, seen: Signed, notice_id: int) -> Response:
    """One notice: its text, where it went, its history, the captures since, and what may be done next."""
    shown = notices.get_notice(seen.ctx, notice_id)
    steps = {step: words for step, words in STEP_WORDS.items() if step in NEXT[shown["status"]]}
    return render(request, "notice.html", seen, n=shown, rechecks=notice_checks.notice_rechecks(seen.ctx, notice_id),
                  steps=steps, may_send="sent" in steps and "@" in shown["to"])


@router.post("/notices/{notice_id}/send")
def send(seen: Signed, notice_id: int) -> Response:
    notices.send_notice(seen.ctx, notice_id)
    return _see_other(f"/notices/{notice_id}")


@router.post("/notices/{notice_id}/mark")
def mark(seen: Signed, notice_id: int, status: Annotated[str, Form(max_length=20)], note: Line = "") -> Response:
    notices.mark_notice(seen.ctx, notice_id, status, note.strip() or None)
    return _see_other(f"/notices/{notice_id}")


@router.post("/notices/{notice_id}/recheck")
def recheck(seen: Signed, notice_id: int) -> Response:
    notice_checks.recheck_notices(seen.ctx, notice_id, now=True)
    return _see_other(f"/notices/{notice_id}")


@router.get("/notices/{notice_id}/{which}")
def notice_file(seen: Signed, notice_id: int, which: Literal["notice.pdf", "evidence.zip"]) -> Response:
    path = notices.notice_file(seen.ctx, notice_id, "pdf" if which == "notice.pdf" else "evidence")
    kind = "application/pdf" if which == "notice.pdf" else "application/zip"
    return FileResponse(path, media_type=kind, filename=path.name)


@router.post("/performers/{performer_id}/allow")
def allow(seen: Signed, performer_id: int, kind: Annotated[str, Form(max_length=20)], value: Line,
          valid_from: Annotated[str, Form(max_length=40)] = "", valid_until: Annotated[str, Form(max_length=40)] = "",
          note: Line = "") -> Response:
    """Allow the performer's voice and likeness at a domain, under a URL prefix, or by a licensee."""
    allow_rules.add_allow_rule(seen.ctx, performer_id, kind, value.strip(), valid_from.strip() or None,
                               valid_until.strip() or None, note.strip() or None)
    return _see_other(f"/performers/{performer_id}")


@router.post("/allow-rules/{rule_id}/revoke")
def revoke(seen: Signed, rule_id: int) -> Response:
    revoked = allow_rules.revoke_allow_rule(seen.ctx, rule_id)
    return _see_other(f"/performers/{revoked['performer_id']}")
