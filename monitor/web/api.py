"""The REST API, ``/api/v1``: the same operations and JSON shapes as the command line's ``--json``.

Every route takes the caller's bearer token (:func:`caller`) and calls one service function with the token's
context; what the service refuses becomes a problem (:mod:`monitor.web.problems`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi import Path as InPath
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile as StarletteUpload

from enrollment.errors import LikenessError
from monitor.services import detections, performers, scans, sources
from monitor.services.accounts import Unauthorized, context_for_token
from monitor.services.context import Context
from monitor.web.downloads import evidence_bundle
from monitor.web.problems import responses
from monitor.web.uploads import saved

# Every route may answer 401 (no valid token), 403 (may not), 413 (a body over the limit: any request), 422 (bad
# input) and 500 (a bug), each as a problem; a route that takes an id or a body says what more it may answer.
router = APIRouter(prefix="/api/v1", responses=responses(401, 403, 413, 422, 500))
NOT_FOUND, UNREADABLE = responses(404), responses(400)
MAX_ID = 2**31 - 1  # ids are INTEGER columns, 32 bits on PostgreSQL: a larger one is bad input, not a database error


def caller(request: Request) -> Context:
    """The context of the request's ``Authorization: Bearer lm_…`` token; 401 without a valid one."""
    scheme, _space, secret = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized("a valid API token is needed (Authorization: Bearer lm_…)")
    remote = request.client.host if request.client else None
    return context_for_token(request.app.state.base, secret.strip(), remote)


Caller = Annotated[Context, Depends(caller)]
Status = Literal["new", "confirmed", "dismissed", "authorized"]
Id = Annotated[int, InPath(ge=1, le=MAX_ID)]


class ReviewBody(BaseModel):
    status: Literal["confirmed", "dismissed", "authorized"]
    note: str | None = Field(default=None, max_length=2000)


class PerformerBody(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    consent_by: str = Field(min_length=1, max_length=200)
    emails: list[str] = Field(default_factory=list, max_length=20)


class SourceBody(BaseModel):
    url: str = Field(min_length=1, max_length=2000, pattern=r"^https?://")
    kind: Literal["auto", "page", "feed", "sitemap", "media", "platform"] = "auto"
    every_s: int | None = Field(default=None, ge=60, le=366 * 86400)
    depth: int | None = Field(default=None, ge=0, le=10)
    name: str | None = Field(default=None, max_length=200)


class EvidenceBody(BaseModel):
    detection_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(min_length=1, max_length=500)


class ServiceJSON(JSONResponse):
    """A service's JSON as it is, encoded by pydantic's serializer (written in Rust: a page of detections in a
    tenth of the time of the standard library's)."""

    def render(self, content: object) -> bytes:
        from pydantic_core import to_json

        return to_json(content)


# The busiest routes answer their JSON as it is (response_model only describes it): validating the service's
# own dicts again would cost as much CPU as the queries.
@router.get("/detections", summary="Detections, a page at a time", response_model=dict)
def list_detections(ctx: Caller, status: Status | None = None,
                    performer_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                    modality: Literal["voice", "face"] | None = None,
                    order: Literal["newest", "score"] = "newest",
                    limit: Annotated[int, Query(ge=1, le=200)] = 50, cursor: str | None = None,
                    tier: Literal["same_voice", "soundalike"] | None = None,
                    source_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None) -> ServiceJSON:
    return ServiceJSON(detections.page_of_detections(ctx, performer_id, status, modality, order, limit, cursor,
                                                      tier, source_id))


@router.get("/detections/{detection_id}", summary="One detection", responses=NOT_FOUND, response_model=dict)
def get_detection(ctx: Caller, detection_id: Id) -> ServiceJSON:
    return ServiceJSON(detections.get_detection(ctx, detection_id))


@router.post("/detections/{detection_id}/review", summary="Record a decision on a detection",
             responses=NOT_FOUND | UNREADABLE)
def review_detection(ctx: Caller, detection_id: Id, body: ReviewBody) -> dict:
    return detections.review(ctx, detection_id, body.status, body.note)


@router.get("/performers", summary="The performers you may see")
def list_performers(ctx: Caller) -> list[dict]:
    return performers.list_performers(ctx)


@router.post("/performers", status_code=201, summary="Add a performer with who consented", responses=UNREADABLE)
def add_performer(ctx: Caller, body: PerformerBody) -> dict:
    return performers.add_performer(ctx, body.name, body.consent_by, tuple(body.emails))


@router.post("/performers/{performer_id}/references", summary="Enrol reference recordings or photos",
             responses=NOT_FOUND | UNREADABLE | responses(409))
def add_references(request: Request, ctx: Caller, performer_id: Id, modality: Annotated[Literal["voice", "face"],
                   Form()], files: Annotated[list[UploadFile], File()]) -> list[dict]:
    enrol = performers.enrol_voice if modality == "voice" else performers.enrol_face
    with saved(files, request.app.state.base.config.web.max_upload_bytes) as kept:
        return enrol(ctx, performer_id, [path for path, _name in kept], shown_as=[name for _path, name in kept])


@router.get("/sources", summary="The agency's sources")
def list_sources(ctx: Caller) -> list[dict]:
    return sources.list_sources(ctx)


@router.post("/sources", status_code=201, summary="Watch a URL", responses=UNREADABLE)
def add_source(ctx: Caller, body: SourceBody) -> dict:
    return sources.add_source(ctx, body.url, body.kind, body.every_s, body.depth, body.name)


@router.post("/sources/{source_id}/{change}", summary="Pause or resume a source", responses=NOT_FOUND)
def change_source(ctx: Caller, source_id: Id, change: Literal["pause", "resume"]) -> dict:
    return sources.change_source(ctx, source_id, change)


@router.post("/evidence", summary="Export a signed evidence bundle", response_class=FileResponse,
             responses={200: {"content": {"application/zip": {}}}} | NOT_FOUND | UNREADABLE)
def export_evidence(ctx: Caller, body: EvidenceBody) -> FileResponse:
    return evidence_bundle(ctx, body.detection_ids, "evidence.zip")


SCAN_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object", "required": ["url"], "additionalProperties": False,
                                    "properties": {"url": {"type": "string", "pattern": "^https?://",
                                                           "maxLength": 2000}}}},
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                       "properties": {"file": {"type": "string", "format": "binary"}}}}}}}


@router.post("/scans", status_code=202, summary="Scan a file or a URL in the background", openapi_extra=SCAN_BODY,
             responses=UNREADABLE)
async def request_scan(request: Request, ctx: Caller) -> dict:
    """An uploaded ``file`` (multipart) or ``{"url": …}`` (JSON) → ``{"id", "status": "queued"}``."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=10)
        upload = form.get("file")
        if not isinstance(upload, StarletteUpload):
            raise LikenessError("file: an uploaded file is needed (multipart field `file`)")
        limit = request.app.state.base.config.web.max_upload_bytes
        with saved([upload], limit) as [(path, name)]:
            queued = await run_in_threadpool(scans.request_scan, ctx, upload=path, upload_name=name)
    elif kind == "application/json":
        body = await _json_object(request)
        if set(body) != {"url"} or not isinstance(body["url"], str):
            raise LikenessError('body: give {"url": "https://…"}')
        queued = await run_in_threadpool(scans.request_scan, ctx, url=body["url"])
    else:
        raise LikenessError("send a file as multipart/form-data, or a URL as application/json")
    request.app.state.scans_wanted.set()
    return queued


async def _json_object(request: Request) -> dict:
    try:
        body = await request.json()
    except ValueError:
        raise LikenessError("body: not JSON") from None
    if not isinstance(body, dict):
        raise LikenessError("body: a JSON object is needed")
    return body


@router.get("/scans/{scan_id}", summary="A scan asked for, and its result once done", responses=NOT_FOUND)
def get_scan(ctx: Caller, scan_id: Id) -> dict:
    return scans.get_scan_request(ctx, scan_id)
