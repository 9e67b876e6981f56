"""Every failure as an RFC 9457 problem (``application/problem+json``): one line for the user, no traceback.

That is under ``/api/``; pages get the dashboard's error page instead (and a page asked for without signing
in, the sign-in page). 401: no valid credentials; 403: a role or scope that may not; 404: what does not
exist or is not the caller's (the same answer: another agency's ids are never confirmed); 409: a conflict of
state (no consent yet); 413: an upload over the limit; 422: bad input; 429: too many failed sign-ins; 500: a
bug (logged here, told as one line).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from enrollment.errors import ConsentMissing, LikenessError, NotFound, shown
from monitor.services.accounts import Unauthorized
from monitor.services.roles import Forbidden
from monitor.services.web_sessions import TooManyAttempts

logger = logging.getLogger(__name__)
PROBLEM_TYPE = "application/problem+json"


class TooLarge(LikenessError):
    """An upload over the size limit."""


STATUS_OF = ((Unauthorized, 401), (Forbidden, 403), (NotFound, 404), (ConsentMissing, 409), (TooLarge, 413),
             (TooManyAttempts, 429))
PageError = Callable[[Request, int, str], Response]  # (request, status, one line) → the dashboard's error page

# The body of every problem (``problem()`` below), declared in the OpenAPI document as components/schemas/Problem.
PROBLEM_SCHEMA = {
    "title": "Problem",
    "description": "An RFC 9457 problem: why the request was refused, in one line.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "about:blank: the status says what kind of problem"},
        "title": {"type": "string", "description": "the status's phrase: Not Found, Unprocessable Entity, …"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "what was wrong, in one line"},
        "errors": {"type": "array", "maxItems": 20, "description": "bad input (422): each part that was wrong",
                   "items": {"type": "object", "required": ["where", "problem"],
                             "properties": {"where": {"type": "string", "description": "query.limit, body.url, …"},
                                            "problem": {"type": "string"}}}},
    },
}
MEANING = {400: "A body that could not be read", 401: "No valid API token (Authorization: Bearer lm_…)",
           403: "A role or scope that may not do this",
           404: "No such object, or another agency's (the same answer)",
           409: "A conflict of state: the performer has no recorded consent yet",
           413: "A request body over the upload limit", 422: "Bad input; `errors` says where for parameters and bodies",
           500: "A bug, told in one line (the server's log has the details)"}


def responses(*statuses: int) -> dict[int | str, dict]:
    """OpenAPI ``responses`` of a route or router that may answer these statuses with a problem."""
    content = {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    return {status: {"description": MEANING[status], "content": content} for status in statuses}


def problem(status: int, detail: str, headers: dict | None = None, **extra: object) -> JSONResponse:
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status, "detail": shown(detail)}
    return JSONResponse(body | extra, status_code=status, media_type=PROBLEM_TYPE, headers=headers)


def status_of(error: LikenessError) -> int:
    return next((status for kind, status in STATUS_OF if isinstance(error, kind)), 422)


def install(app: FastAPI, page_error: PageError) -> None:
    """Answer every error of ``app`` as a problem under ``/api/``, and as ``page_error`` elsewhere; declare the
    Problem schema in the OpenAPI document (the routes name it in their ``responses``)."""
    openapi = app.openapi

    def openapi_with_problem() -> dict:
        if app.openapi_schema is None:
            openapi().setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        return app.openapi_schema

    app.openapi = openapi_with_problem

    def answer(request: Request, status: int, detail: str, headers: dict | None = None, **extra) -> Response:
        if request.url.path.startswith("/api/"):
            return problem(status, detail, headers, **extra)
        return page_error(request, status, shown(detail))

    @app.exception_handler(LikenessError)
    async def refused(request: Request, error: LikenessError) -> Response:
        status = status_of(error)
        headers = {"WWW-Authenticate": 'Bearer realm="likeness"'} if status == 401 else None
        return answer(request, status, str(error), headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> Response:
        errors = [{"where": ".".join(str(part) for part in item.get("loc", ())), "problem": item.get("msg", "")}
                  for item in error.errors()][:20]
        first = errors[0] if errors else {"where": "request", "problem": "invalid"}
        return answer(request, 422, f"{first['where']}: {first['problem']}", errors=errors)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        return answer(request, error.status_code, str(error.detail), getattr(error, "headers", None))

    @app.exception_handler(Exception)
    async def bug(request: Request, error: Exception) -> Response:
        logger.exception("unexpected error answering %s %s", request.method, request.url.path)
        return answer(request, 500, "an unexpected error: the server's log has the details")
