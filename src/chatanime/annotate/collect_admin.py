"""Admin pages of collection studies under ``/admin/collect``: progress, quiz results, export.

Authentication is the rating studies' (:mod:`chatanime.annotate.admin_session`):
``Authorization: Bearer <token>`` for scripts, or the one login form at ``/admin`` (which
also accepts a collection study's token) setting an HMAC-signed cookie scoped to
``/admin/collect``. A token grants its own study only.
"""

from __future__ import annotations

import io

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from chatanime.annotate.admin_session import AdminSession
from chatanime.annotate.app import render, settings
from chatanime.annotate.collect_export import (
    EXPORT_FORMATS,
    collected_dialogues,
    write_collection,
)
from chatanime.annotate.collect_progress import collection_progress
from chatanime.annotate.collect_tables import collect_studies

router = APIRouter(prefix="/admin/collect")
COOKIE = "ca_collect_admin"
COOKIE_PATH = "/admin/collect"
SESSION = AdminSession(
    table=collect_studies,
    cookie=COOKIE,
    cookie_path=COOKIE_PATH,
    home=COOKIE_PATH,
    purpose="collect-admin",
)


@router.post("/logout")
async def logout(request: Request) -> Response:
    return await SESSION.logout(request)


@router.get("/{study_id}", response_class=HTMLResponse)
def study_page(request: Request, study_id: str) -> Response:
    study = SESSION.require(request, study_id)
    progress = collection_progress(settings(request).store, study.id)
    context = {
        "study": study,
        "rows": progress.rows,
        "total": progress.total,
        "finished": progress.finished,
        "failures": progress.failures,
        "formats": EXPORT_FORMATS,
        "csrf": SESSION.logout_csrf(study),
    }
    return render(request, "collect_admin.html", context)


@router.get("/{study_id}/export.{fmt}")
def export(request: Request, study_id: str, fmt: str) -> Response:
    study = SESSION.require(request, study_id)
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
