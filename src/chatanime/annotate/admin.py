"""Admin pages under ``/admin``: log in with the study's admin token, watch progress, export.

Authentication is separate from the annotators': either ``Authorization: Bearer <token>``
(scripts) or a login form that sets an HMAC-signed cookie scoped to ``/admin`` (browsers).
A token grants its own study only. Tokens are compared by hash; the cookie holds no secret.
The same login form accepts a collection study's token (see ``collect_admin``); both
kinds of study check their admins with :class:`~chatanime.annotate.admin_session.AdminSession`.
"""

from __future__ import annotations

import io
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Row, func, select
from starlette.concurrency import run_in_threadpool

from chatanime.annotate.admin_session import AdminSession
from chatanime.annotate.app import render, settings
from chatanime.annotate.ratings import EXPORT_FORMATS, rating_records, write_ratings
from chatanime.annotate.security import check_csrf, csrf_token, new_token
from chatanime.annotate.tables import annotators, assignments, ratings, studies

router = APIRouter(prefix="/admin")
ADMIN_COOKIE = "ca_admin"
LOGIN_COOKIE = "ca_login"
SESSION = AdminSession(
    table=studies,
    cookie=ADMIN_COOKIE,
    cookie_path="/admin",
    home="/admin/studies",
    purpose="admin",
)


@router.get("", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    study = SESSION.authorised(request)
    if study is not None:
        return RedirectResponse(f"{SESSION.home}/{study.id}", status_code=303)
    nonce = request.cookies.get(LOGIN_COOKIE) or new_token()
    csrf = csrf_token(settings(request).login_key, "admin-login", nonce)
    response = render(request, "admin_login.html", {"csrf": csrf, "error": ""})
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        path="/admin",
        httponly=True,
        samesite="strict",
        secure=settings(request).secure_cookies,
    )
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    ok = check_csrf(
        settings(request).login_key,
        "admin-login",
        request.cookies.get(LOGIN_COOKIE),
        str(form.get("csrf", "")),
    )
    if not ok:
        raise HTTPException(403)
    token = str(form.get("token", ""))
    study = await run_in_threadpool(SESSION.study_by_token, request, token)
    if study is not None:
        return SESSION.login_response(request, study)
    from chatanime.annotate import collect_admin  # one login form for both kinds of study

    collection = await run_in_threadpool(collect_admin.SESSION.study_by_token, request, token)
    if collection is None:
        raise HTTPException(403)
    return collect_admin.SESSION.login_response(request, collection)


@router.post("/logout")
async def logout(request: Request) -> Response:
    return await SESSION.logout(request)


def _progress(request: Request, study_id: str) -> list[Row[Any]]:
    done = func.count(assignments.c.completed_at)
    with settings(request).store.engine.connect() as conn:
        return list(
            conn.execute(
                select(
                    annotators.c.name,
                    func.count(assignments.c.id).label("total"),
                    done.label("done"),
                    func.max(assignments.c.completed_at).label("last"),
                )
                .join(assignments, assignments.c.annotator_id == annotators.c.id)
                .where(annotators.c.study_id == study_id)
                .group_by(annotators.c.name)
                .order_by(annotators.c.name)
            ).all()
        )


def _rating_count(request: Request, study_id: str) -> int:
    with settings(request).store.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(ratings)
                .join(assignments, assignments.c.id == ratings.c.assignment_id)
                .where(assignments.c.study_id == study_id)
            ).scalar_one()
        )


@router.get("/studies/{study_id}", response_class=HTMLResponse)
def study_page(request: Request, study_id: str) -> Response:
    study = SESSION.require(request, study_id)
    context = {
        "study": study,
        "rows": _progress(request, study.id),
        "n_ratings": _rating_count(request, study.id),
        "formats": EXPORT_FORMATS,
        "csrf": SESSION.logout_csrf(study),
    }
    return render(request, "admin_study.html", context)


@router.get("/studies/{study_id}/export.{fmt}")
def export(request: Request, study_id: str, fmt: str) -> Response:
    study = SESSION.require(request, study_id)
    if fmt not in EXPORT_FORMATS:
        raise HTTPException(404)
    buffer = io.StringIO()
    write_ratings(rating_records(settings(request).store, study.id), buffer, fmt)
    media = "text/csv" if fmt == "csv" else "application/x-ndjson"
    return Response(
        buffer.getvalue(),
        media_type=f"{media}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="ratings-{study.id}.{fmt}"'},
    )
