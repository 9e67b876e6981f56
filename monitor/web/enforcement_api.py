"""The REST API's enforcement routes, ``/api/v1/notices`` and the allow-lists: the operations and JSON shapes of
``likeness notice …`` and ``likeness performer allow|allowed|disallow`` (docs/api.md).

Like :mod:`monitor.web.api`, every route takes the caller's token and calls one service function; what the
service refuses becomes a problem. A notice of another agency answers 404, as if there were none.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from monitor.services import allow_rules, notice_checks, notices
from monitor.storage.allow_rules import KINDS
from monitor.storage.notices import BASES, STATUSES
from monitor.web.api import MAX_ID, NOT_FOUND, UNREADABLE, Caller, Id
from monitor.web.problems import responses

router = APIRouter(prefix="/api/v1", responses=responses(401, 403, 413, 422, 500))
Basis = Literal[BASES]  # type: ignore[valid-type]  (the storage's tuple of bases, as the schema's enum)
Step = Literal[tuple(status for status in STATUSES if status != "drafted")]  # type: ignore[valid-type]
DetectionId = Annotated[int, Field(ge=1, le=MAX_ID)]


class NoticeBody(BaseModel):
    detection_ids: list[DetectionId] = Field(min_length=1, max_length=notices.MAX_DETECTIONS)
    basis: Basis
    signer_email: str = Field(min_length=3, max_length=320)
    signer_name: str = Field(min_length=1, max_length=200)
    to: str | None = Field(default=None, max_length=2000)
    work: str | None = Field(default=None, max_length=2000)


class MarkBody(BaseModel):
    status: Step
    note: str | None = Field(default=None, max_length=2000)


class RecheckBody(BaseModel):
    notice_id: DetectionId | None = None
    now: bool = False


class AllowBody(BaseModel):
    kind: Literal[KINDS]  # type: ignore[valid-type]
    value: str = Field(min_length=1, max_length=2000)
    valid_from: str | None = Field(default=None, max_length=40)
    valid_until: str | None = Field(default=None, max_length=40)
    note: str | None = Field(default=None, max_length=2000)


@router.get("/notices", summary="The agency's takedown notices, newest first")
def list_notices(ctx: Caller, status: Literal[STATUSES] | None = None,  # type: ignore[valid-type]
                 detection_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None) -> list[dict]:
    return notices.list_notices(ctx, status, detection_id)


@router.post("/notices", status_code=201, summary="Draft a takedown notice of confirmed detections",
             responses=NOT_FOUND | UNREADABLE)
def draft_notice(ctx: Caller, body: NoticeBody) -> dict:
    return notices.draft_notice(ctx, body.detection_ids, body.basis, body.signer_email, body.signer_name,
                                body.to, body.work)


@router.get("/notices/stats", summary="Per host: notices sent, removed, and the median time to removal")
def notice_stats(ctx: Caller) -> list[dict]:
    return notice_checks.notice_stats(ctx)


@router.post("/notices/recheck", summary="Capture again what sent notices name, and judge whether it was removed",
             responses=NOT_FOUND | UNREADABLE)
def recheck_notices(ctx: Caller, body: RecheckBody) -> list[dict]:
    return notice_checks.recheck_notices(ctx, body.notice_id, body.now)


@router.get("/notices/{notice_id}", summary="One notice, its text and its history", responses=NOT_FOUND)
def get_notice(ctx: Caller, notice_id: Id) -> dict:
    return notices.get_notice(ctx, notice_id)


@router.get("/notices/{notice_id}/rechecks", summary="Every capture again of a notice's material",
            responses=NOT_FOUND)
def notice_rechecks(ctx: Caller, notice_id: Id) -> list[dict]:
    return notice_checks.notice_rechecks(ctx, notice_id)


@router.get("/notices/{notice_id}/{which}", summary="A notice's PDF, or the evidence bundle it cites",
            response_class=FileResponse, responses={200: {"content": {"application/pdf": {}, "application/zip": {}}}}
            | NOT_FOUND)
def notice_file(ctx: Caller, notice_id: Id, which: Literal["pdf", "evidence"]) -> FileResponse:
    path = notices.notice_file(ctx, notice_id, which)
    kind = "application/pdf" if which == "pdf" else "application/zip"
    return FileResponse(path, media_type=kind, filename=path.name)


@router.post("/notices/{notice_id}/send", summary="E-mail a notice to its recipient", responses=NOT_FOUND)
def send_notice(ctx: Caller, notice_id: Id) -> dict:
    return notices.send_notice(ctx, notice_id)


@router.post("/notices/{notice_id}/mark", summary="Record what became of a notice",
             responses=NOT_FOUND | UNREADABLE)
def mark_notice(ctx: Caller, notice_id: Id, body: MarkBody) -> dict:
    return notices.mark_notice(ctx, notice_id, body.status, body.note)


@router.get("/performers/{performer_id}/allow-rules", summary="A performer's allow-list rules", responses=NOT_FOUND)
def list_allow_rules(ctx: Caller, performer_id: Id) -> list[dict]:
    return allow_rules.list_allow_rules(ctx, performer_id)


@router.post("/performers/{performer_id}/allow-rules", status_code=201, responses=NOT_FOUND | UNREADABLE,
             summary="Allow a performer's voice and likeness at a domain, under a URL prefix, or by a licensee")
def add_allow_rule(ctx: Caller, performer_id: Id, body: AllowBody) -> dict:
    return allow_rules.add_allow_rule(ctx, performer_id, body.kind, body.value, body.valid_from, body.valid_until,
                                      body.note)


@router.post("/allow-rules/{rule_id}/revoke", summary="Revoke an allow-list rule", responses=NOT_FOUND)
def revoke_allow_rule(ctx: Caller, rule_id: Id) -> dict:
    return allow_rules.revoke_allow_rule(ctx, rule_id)

