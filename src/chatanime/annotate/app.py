"""The annotation web app: a FastAPI factory and a ``serve`` entry point.

One app serves both kinds of study in the store: rating studies (annotators at ``/a/...``)
and collection studies (respondents writing as their character at ``/r/...``, with the
user simulator run by a background worker). Server-rendered pages (Jinja2, autoescaped:
dialogue text is data, never markup) and a few lines of vanilla JavaScript (keyboard
shortcuts; a length counter, drafts and a status poll); no build step. Every response carries a
strict Content-Security-Policy (scripts and styles only from /static), so even a template bug
that let markup through could not run an injected script. Pages are never cached and send
no Referer, because their URLs carry the annotator's secret.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from chatanime.annotate import ensure_schema
from chatanime.annotate.collect_sim import LEASE_S, ModelFactory
from chatanime.annotate.collect_worker import SimWorker
from chatanime.annotate.security import install_log_redaction, uvicorn_log_config
from chatanime.annotate.wording import ui_text
from chatanime.backends.base import ChatModel
from chatanime.store import Store, open_store

PACKAGE_DIR = Path(str(resources.files("chatanime.annotate")))
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


@dataclass(frozen=True)
class AppSettings:
    """Per-app state the routes need. ``login_key`` signs the admin login form's CSRF token;
    it may change on restart (the login page is simply reloaded)."""

    store: Store
    templates: jinja2.Environment
    secure_cookies: bool
    login_key: str
    default_language: str


def template_env() -> jinja2.Environment:
    """Autoescaping everywhere; an undefined variable is an error, not an empty string."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(PACKAGE_DIR / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def settings(request: Request) -> AppSettings:
    value: AppSettings = request.app.state.settings
    return value


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    status_code: int = 200,
    language: str | None = None,
) -> HTMLResponse:
    """Render ``name`` with the wording of ``language`` as ``t``."""
    cfg = settings(request)
    lang = language or cfg.default_language
    html = cfg.templates.get_template(name).render(t=ui_text(lang), lang=lang, **context)
    return HTMLResponse(html, status_code=status_code)


def _add_security_headers(app: FastAPI) -> None:
    @app.middleware("http")
    async def headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response


def _add_error_pages(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        messages = {404: "not_found", 403: "forbidden", 401: "forbidden"}
        key = messages.get(exc.status_code)
        text = ui_text(settings(request).default_language)
        message = text[key] if key else str(exc.detail)
        response = render(request, "error.html", {"message": message}, exc.status_code)
        if exc.headers:
            response.headers.update(exc.headers)
        return response


def _model_factory(base_url: str | None) -> ModelFactory:
    def make(name: str) -> ChatModel:
        from chatanime.backends.registry import get_model

        return get_model(name, base_url=base_url)

    return make


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    await run_in_threadpool(app.state.sim_worker.stop)


def create_app(
    store: Store,
    *,
    secure_cookies: bool = False,
    language: str = "zh",
    models: ModelFactory | None = None,
    sim_base_url: str | None = None,
    sim_lease_s: float = LEASE_S,
) -> FastAPI:
    """The app for every study in ``store``. ``secure_cookies`` when served over HTTPS.

    ``models`` builds the user simulator's model from its name (default:
    ``registry.get_model`` with ``sim_base_url``, keys from the environment).
    """
    from chatanime.annotate import admin, collect_admin, collect_pages, pages

    ensure_schema(store)
    install_log_redaction()
    app = FastAPI(
        title="chatanime annotate",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=_lifespan,
    )
    app.state.settings = AppSettings(
        store, template_env(), secure_cookies, secrets.token_hex(32), language
    )
    app.state.sim_worker = SimWorker(
        store.engine, models or _model_factory(sim_base_url), lease_s=sim_lease_s
    )
    app.mount("/static", StaticFiles(directory=PACKAGE_DIR / "static"), name="static")
    _add_security_headers(app)
    _add_error_pages(app)
    app.include_router(pages.router)
    app.include_router(collect_pages.router)
    app.include_router(collect_admin.router)
    app.include_router(admin.router)
    return app


def serve(
    store_url: str | None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    secure_cookies: bool = False,
    language: str = "zh",
    sim_base_url: str | None = None,
    sim_lease_s: float = LEASE_S,
) -> None:
    """Run the app with uvicorn (one process; the database serialises writers)."""
    import uvicorn

    store = open_store(store_url)
    app = create_app(
        store,
        secure_cookies=secure_cookies,
        language=language,
        sim_base_url=sim_base_url,
        sim_lease_s=sim_lease_s,
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=uvicorn_log_config(),
        proxy_headers=False,
        server_header=False,
    )
