"""What every answer and every change from a browser goes through: security headers, the session cookie, and
the CSRF token and ``Origin`` check of unsafe requests.

The Content-Security-Policy allows scripts, styles and media from this origin only, and no inline script or
style; pages load htmx and the dashboard's own script as files.
"""

from __future__ import annotations

import hmac

from fastapi import Request

from monitor.services.roles import Forbidden

COOKIE = "__Host-likeness"  # __Host-: only over HTTPS (or localhost), for this host, path /
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class SecurityHeaders:
    """ASGI middleware: HEADERS on every answer, and ``Cache-Control: no-store`` on every page and API answer
    (what a user may see is never kept by a shared cache)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = [(name, value) for name, value in message.get("headers", [])]
                present = {name.lower() for name, _value in headers}
                for name, value in HEADERS.items():
                    if name.lower().encode() not in present:
                        headers.append((name.lower().encode(), value.encode()))
                if not static and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def set_session_cookie(response, cookie: str, max_age_s: int) -> None:
    response.set_cookie(COOKIE, cookie, max_age=max_age_s, path="/", secure=True, httponly=True, samesite="lax")


def clear_session_cookie(response) -> None:
    response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="lax")


async def check_unsafe_request(request: Request, csrf_token: str) -> None:
    """Forbidden unless an unsafe request comes from this origin (``Origin``, where the browser sends it) and
    carries the session's CSRF token (form field ``csrf_token`` or header ``X-CSRF-Token``)."""
    if request.method in SAFE_METHODS:
        return
    origin = request.headers.get("origin")
    own = f"{request.url.scheme}://{request.headers.get('host', '')}"
    if origin is not None and origin != own:
        raise Forbidden("this request came from another site")
    given = request.headers.get("x-csrf-token")
    if given is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        given = (await request.form()).get("csrf_token")
    if not isinstance(given, str) or not hmac.compare_digest(given, csrf_token):
        raise Forbidden("the form is out of date or incomplete: reload the page and try again")
