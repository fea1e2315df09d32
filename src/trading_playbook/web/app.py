"""The FastAPI application of ``playbook serve``: pages over the registry, research and paper accounts.

:func:`create_app` wires the read-only :class:`~trading_playbook.web.store.Store`, the routers, the
static files (HTMX vendored, plotly.js from the ``plotly`` wheel), the error pages and the security
layers (:mod:`trading_playbook.web.security`). The app has no route that writes anything.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import Response

from trading_playbook.core.errors import PlaybookError
from trading_playbook.web.render import render
from trading_playbook.web.security import LOOPBACK_HOSTS, TokenGate, is_loopback
from trading_playbook.web.store import PageNotFound, PageUnavailable, Store

__all__ = ["ServeSettings", "create_app", "plotly_js_path"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
log = logging.getLogger("trading_playbook.web")

# Pages may run their own scripts (htmx, plotly, app.js) but nothing inline or from elsewhere;
# plotly.js needs eval for some trace types and injects its own <style> elements.
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; font-src 'self' data:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)


@dataclass(frozen=True)
class ServeSettings:
    """What ``playbook serve`` was started with.

    Attributes
    ----------
    home : Path
        The playbook home (``runs.sqlite``, paper accounts).
    host : str
        The bind address (decides the allowed ``Host`` headers).
    token : str, optional
        The access token; required by :func:`~trading_playbook.web.security.check_bind` off loopback.
    data_root : Path
        Folder that relative data paths of run configs are resolved from (the backtests' folder).
    poll_seconds : float
        How often an open paper-account page asks for fresh figures.
    """

    home: Path
    host: str = "127.0.0.1"
    token: str | None = None
    data_root: Path = field(default_factory=Path.cwd)
    poll_seconds: float = 5.0


def plotly_js_path() -> Path:
    """``plotly.min.js`` as the ``plotly`` wheel ships it (served locally: no CDN)."""
    import plotly

    path = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise PlaybookError(
            f"the plotly package has no {path}; reinstall it: pip install 'trading-playbook[web]'"
        )
    return path


def create_app(settings: ServeSettings) -> FastAPI:
    """The dashboard application for ``settings``."""
    from trading_playbook.web.routes import compare, paper, research, run, runs

    app = FastAPI(title="Trading Playbook", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.store = Store(settings.home)
    plotly_js = plotly_js_path()

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/runs", status_code=307)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")

    @app.get("/static/vendor/plotly.min.js", include_in_schema=False)
    def plotly_bundle() -> FileResponse:
        return FileResponse(
            plotly_js, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"}
        )

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (runs, run, compare, research, paper):
        app.include_router(module.router)
    _error_pages(app)

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "max-age=3600")
        return response

    app.add_middleware(GZipMiddleware, minimum_size=2048)
    if settings.token is not None:
        app.add_middleware(TokenGate, token=settings.token)
    if is_loopback(settings.host):
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=[*LOOPBACK_HOSTS, "testserver"])
    return app


def _error_pages(app: FastAPI) -> None:
    """Clear pages instead of tracebacks: unknown ids are 404, unreadable records 409."""

    @app.exception_handler(PageNotFound)
    async def not_found(request: Request, exc: PageNotFound) -> Response:
        return _problem(request, exc.title, exc.detail, 404)

    @app.exception_handler(PageUnavailable)
    async def unavailable(request: Request, exc: PageUnavailable) -> Response:
        return _problem(request, exc.title, exc.detail, 409)

    @app.exception_handler(PlaybookError)
    async def playbook_error(request: Request, exc: PlaybookError) -> Response:
        return _problem(request, "This page cannot be shown", str(exc), 409)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return _problem(request, "Page not found", f"nothing is served at {request.url.path}", 404)
        return _problem(request, "Request refused", str(exc.detail), exc.status_code)


def _problem(request: Request, title: str, detail: str, status: int) -> Response:
    log.info("%s %s -> %s: %s", request.method, request.url.path, status, title)
    if request.headers.get("hx-request"):
        return Response(f"{title}: {detail}", status_code=status, media_type="text/plain")
    return render(request, "problem.html", {"title": title, "detail": detail, "status": status}, status)
