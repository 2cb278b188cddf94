"""Admin pages of collection studies under ``/admin/collect``: progress, quiz results, export.

Authentication mirrors the rating studies' admin (``admin.py``): ``Authorization: Bearer
<token>`` for scripts, or the one login form at ``/admin`` (which also accepts a collection
study's token) setting an HMAC-signed cookie scoped to ``/admin/collect``. A token grants
its own study only.
"""

from __future__ import annotations

import hmac
import io
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Row, select
from starlette.concurrency import run_in_threadpool

from chatanime.annotate.app import render, settings
from chatanime.annotate.collect_export import (
    EXPORT_FORMATS,
    collected_dialogues,
    write_collection,
)
from chatanime.annotate.collect_progress import collection_progress
from chatanime.annotate.collect_tables import collect_studies
from chatanime.annotate.security import csrf_token, hash_token, sign

router = APIRouter(prefix="/admin/collect")
COOKIE = "ca_collect_admin"
COOKIE_PATH = "/admin/collect"


def study_by_token(request: Request, token: str) -> Row[Any] | None:
    with settings(request).store.engine.connect() as conn:
        return conn.execute(
            select(collect_studies).where(collect_studies.c.admin_token_hash == hash_token(token))
        ).first()


def _study_by_id(request: Request, study_id: str) -> Row[Any] | None:
    with settings(request).store.engine.connect() as conn:
        return conn.execute(select(collect_studies).where(collect_studies.c.id == study_id)).first()


def _cookie_value(study: Row[Any]) -> str:
    sig = sign(study.secret_key, "collect-admin", study.id, study.admin_token_hash)
    return f"{study.id}.{sig}"


def login_response(request: Request, study: Row[Any]) -> Response:
    """The redirect after a successful login at ``/admin`` with this study's token."""
    response = RedirectResponse(f"{COOKIE_PATH}/{study.id}", status_code=303)
    response.set_cookie(
        COOKIE,
        _cookie_value(study),
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=settings(request).secure_cookies,
    )
    return response


def _authorised(request: Request) -> Row[Any] | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return study_by_token(request, auth[7:].strip())
    cookie = request.cookies.get(COOKIE, "")
    study_id, _, _sig = cookie.partition(".")
    study = _study_by_id(request, study_id) if study_id else None
    if study is not None and hmac.compare_digest(_cookie_value(study), cookie):
        return study
    return None


def _require(request: Request, study_id: str) -> Row[Any]:
    study = _authorised(request)
    if study is None:
        raise HTTPException(401, headers={"WWW-Authenticate": "Bearer"})
    if study.id != study_id:
        raise HTTPException(403)
    return study


def _logout_csrf(study: Row[Any]) -> str:
    return csrf_token(study.secret_key, "collect-admin-logout", _cookie_value(study))


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await request.form()
    study = await run_in_threadpool(_authorised, request)
    if study is None or not hmac.compare_digest(_logout_csrf(study), str(form.get("csrf", ""))):
        raise HTTPException(403)
    response = RedirectResponse("/admin", status_code=303)
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response


@router.get("/{study_id}", response_class=HTMLResponse)
def study_page(request: Request, study_id: str) -> Response:
    study = _require(request, study_id)
    progress = collection_progress(settings(request).store, study.id)
    context = {
        "study": study,
        "rows": progress.rows,
        "total": progress.total,
        "finished": progress.finished,
        "failures": progress.failures,
        "formats": EXPORT_FORMATS,
        "csrf": _logout_csrf(study),
    }
    return render(request, "collect_admin.html", context)


@router.get("/{study_id}/export.{fmt}")
def export(request: Request, study_id: str, fmt: str) -> Response:
    study = _require(request, study_id)
    if fmt not in EXPORT_FORMATS:
        raise HTTPException(404)
    buffer = io.StringIO()
    records = collected_dialogues(settings(request).store, study.id)
    write_collection(records, buffer, fmt, study.name)
    media = "application/json" if fmt == "json" else "application/x-ndjson"
    return Response(
        buffer.getvalue(),
        media_type=f"{media}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{study.name}.{fmt}"'},
    )
