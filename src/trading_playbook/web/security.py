"""Who may bind where, and the access token checked on every request.

- The app binds to 127.0.0.1 by default. Any address that is not loopback needs a token
  (``--token`` or ``$PLAYBOOK_SERVE_TOKEN``), else ``playbook serve`` refuses to start.
- With a token, every request (pages, fragments, static files) must carry it: an
  ``Authorization: Bearer <token>`` header, or the session cookie that ``/login`` sets after the token
  was typed into its form. The cookie holds an HMAC of the token, not the token; the token never
  appears in a URL, so it never reaches an access log or the browser history.
- Bound to loopback, the ``Host`` header must name a loopback host too (a web page elsewhere cannot
  reach the dashboard through DNS rebinding).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from trading_playbook.core.errors import ConfigError

__all__ = [
    "COOKIE",
    "LOOPBACK_HOSTS",
    "MIN_TOKEN_LENGTH",
    "TOKEN_ENV",
    "TokenGate",
    "check_bind",
    "is_loopback",
]

TOKEN_ENV = "PLAYBOOK_SERVE_TOKEN"
COOKIE = "playbook_session"
MIN_TOKEN_LENGTH = 16
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
_OPEN_PATHS = ("/login",)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and any loopback address (127.0.0.0/8, ::1)."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_bind(host: str, token: str | None) -> None:
    """Refuse a non-loopback bind without a token, and a token too short to resist guessing."""
    if token is not None and len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError(
            f"the access token is {len(token)} characters; use at least {MIN_TOKEN_LENGTH} "
            '(e.g. python -c "import secrets; print(secrets.token_urlsafe(24))")'
        )
    if not is_loopback(host) and token is None:
        raise ConfigError(
            f"refusing to serve on {host} without an access token: anyone who can reach this address "
            f"could read your runs and accounts. Pass --token or set ${TOKEN_ENV}, or bind to 127.0.0.1."
        )


def session_value(token: str) -> str:
    """The cookie value for ``token`` (an HMAC: the cookie never holds the token itself)."""
    return hmac.new(token.encode(), b"playbook-serve-session", hashlib.sha256).hexdigest()


_LOGIN_PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Trading Playbook: sign in</title>
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:5rem auto;color:#1f2328}}
input{{font-size:1rem;padding:.4rem;width:100%;box-sizing:border-box;margin:.5rem 0}}
button{{font-size:1rem;padding:.4rem 1rem}} .err{{color:#cf222e}}</style></head>
<body><h1>Trading Playbook</h1><p>This dashboard needs its access token (the one given to
<code>playbook serve --token</code> or <code>${env}</code>).</p>{error}
<form method="post" action="/login"><input type="hidden" name="next" value="{next}">
<input type="password" name="token" autocomplete="current-password" autofocus aria-label="access token">
<button type="submit">Sign in</button></form></body></html>"""


def _login_page(next_url: str, error: str = "", status: int = 401) -> HTMLResponse:
    from html import escape

    body = _LOGIN_PAGE.format(
        env=TOKEN_ENV, next=escape(next_url), error=f'<p class="err">{escape(error)}</p>' if error else ""
    )
    return HTMLResponse(body, status_code=status)


def _safe_next(value: str) -> str:
    """Only a local path may follow a sign-in (no open redirect to another site)."""
    return value if value.startswith("/") and not value.startswith("//") and "\\" not in value else "/"


class TokenGate:
    """ASGI middleware: every HTTP request needs the token (header or session cookie)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token
        self.session = session_value(token)

    def authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer ") and hmac.compare_digest(
            header[7:].strip().encode(), self.token.encode()
        ):
            return True
        cookie = request.cookies.get(COOKIE, "")
        return bool(cookie) and hmac.compare_digest(cookie.encode(), self.session.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        if request.url.path in _OPEN_PATHS:
            response = await self._login(request)
        elif self.authorised(request):
            await self.app(scope, receive, send)
            return
        elif request.headers.get("hx-request") or request.method != "GET":
            response = Response("access token required", status_code=401, media_type="text/plain")
        else:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            response = _login_page(_safe_next(target))
        await response(scope, receive, send)

    async def _login(self, request: Request) -> Response:
        if request.method == "GET":
            return _login_page(_safe_next(request.query_params.get("next", "/")), status=200)
        if request.method != "POST":
            return Response("method not allowed", status_code=405)
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        given = (form.get("token") or [""])[0]
        next_url = _safe_next((form.get("next") or ["/"])[0])
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            return _login_page(next_url, "That is not the token this server was started with.")
        response = RedirectResponse(next_url, status_code=303)
        response.set_cookie(COOKIE, self.session, httponly=True, samesite="strict", path="/")
        return response
