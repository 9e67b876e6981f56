"""The FastAPI application: the REST API and the dashboard, with problems (or error pages) for every error,
security headers, a limit on request bodies, and the scans asked for run in the background."""

from __future__ import annotations

import threading
from http import HTTPStatus
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from monitor.config import Config
from monitor.services.context import Actor, Context
from monitor.web import admin_pages, api, enforcement_api, notice_pages, pages, problems
from monitor.web.background import scans_in_background
from monitor.web.security import COOKIE, SecurityHeaders
from monitor.web.uploads import FORM_OVERHEAD_BYTES, BodyLimit

STATIC_DIR = Path(__file__).resolve().parent / "static"


def create_app(config: Config) -> FastAPI:
    """The application for the install at ``config.home`` (its database opened, and migrated, now)."""
    from importlib.metadata import version

    app = FastAPI(title="Likeness Monitor", version=version("likeness-monitor"),
                  openapi_url="/api/v1/openapi.json", docs_url=None, redoc_url=None, lifespan=scans_in_background)
    base = Context(config, Actor("web", "web"))
    base.sessions  # noqa: B018  (open and migrate before the first request, not during it)
    app.state.base = base
    app.state.scans_wanted = threading.Event()
    problems.install(app, _error_page)
    app.include_router(api.router)
    app.include_router(enforcement_api.router)
    app.include_router(pages.router)
    app.include_router(admin_pages.router)
    app.include_router(notice_pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(BodyLimit, max_bytes=config.web.max_upload_bytes + FORM_OVERHEAD_BYTES)
    app.add_middleware(SecurityHeaders)
    return app


def _error_page(request: Request, status: int, detail: str) -> Response:
    """A page's error: the sign-in page when a session is needed, else the error page."""
    if status == 401:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)
    return pages.render(request, "error.html", _signed_in(request), status_code=status,
                        title=HTTPStatus(status).phrase, detail=detail)


def _signed_in(request: Request) -> pages.Viewer | None:
    """Who is signed in, for the error page's header (None when nobody is, or it cannot be told)."""
    from monitor.services.web_sessions import session_context

    cookie = request.cookies.get(COOKIE)
    if not cookie:
        return None
    try:
        csrf_token, ctx = session_context(request.app.state.base, cookie, None)
    except Exception:  # an error page must show whatever else fails
        return None
    return pages.Viewer(ctx, csrf_token)


def app_from_environment() -> FastAPI:
    """The application for ``$LIKENESS_HOME``: what each worker process of ``likeness serve --workers N`` runs."""
    from monitor.config import load_config

    return create_app(load_config(None))
