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


def problem(status: int, detail: str, headers: dict | None = None, **extra: object) -> JSONResponse:
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status, "detail": shown(detail)}
    return JSONResponse(body | extra, status_code=status, media_type=PROBLEM_TYPE, headers=headers)


def status_of(error: LikenessError) -> int:
    return next((status for kind, status in STATUS_OF if isinstance(error, kind)), 422)


def install(app: FastAPI, page_error: PageError) -> None:
    """Answer every error of ``app`` as a problem under ``/api/``, and as ``page_error`` elsewhere."""

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
