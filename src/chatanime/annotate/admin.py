"""Admin pages under ``/admin``: log in with the study's admin token, watch progress, export.

Authentication is separate from the annotators': either ``Authorization: Bearer <token>``
(scripts) or a login form that sets an HMAC-signed cookie scoped to ``/admin`` (browsers).
A token grants its own study only. Tokens are compared by hash; the cookie holds no secret.
The same login form accepts a collection study's token (see ``collect_admin``).
"""

from __future__ import annotations

import hmac
import io
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Row, func, select
from starlette.concurrency import run_in_threadpool

from chatanime.annotate.app import render, settings
from chatanime.annotate.ratings import EXPORT_FORMATS, rating_records, write_ratings
from chatanime.annotate.security import check_csrf, csrf_token, hash_token, new_token, sign
from chatanime.annotate.tables import annotators, assignments, ratings, studies

router = APIRouter(prefix="/admin")
ADMIN_COOKIE = "ca_admin"
LOGIN_COOKIE = "ca_login"


def _study_by_token(request: Request, token: str) -> Row[Any] | None:
    with settings(request).store.engine.connect() as conn:
        return conn.execute(
            select(studies).where(studies.c.admin_token_hash == hash_token(token))
        ).first()


def _study_by_id(request: Request, study_id: str) -> Row[Any] | None:
    with settings(request).store.engine.connect() as conn:
        return conn.execute(select(studies).where(studies.c.id == study_id)).first()


def _cookie_value(study: Row[Any]) -> str:
    return f"{study.id}.{sign(study.secret_key, 'admin', study.id, study.admin_token_hash)}"


def _authorised_study(request: Request) -> Row[Any] | None:
    """The study the request may administer (bearer token first, then cookie)."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return _study_by_token(request, auth[7:].strip())
    cookie = request.cookies.get(ADMIN_COOKIE, "")
    study_id, _, _sig = cookie.partition(".")
    study = _study_by_id(request, study_id) if study_id else None
    if study is not None and hmac.compare_digest(_cookie_value(study), cookie):
        return study
    return None


def _require(request: Request, study_id: str) -> Row[Any]:
    study = _authorised_study(request)
    if study is None:
        raise HTTPException(401, headers={"WWW-Authenticate": "Bearer"})
    if study.id != study_id:
        raise HTTPException(403)
    return study


@router.get("", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    study = _authorised_study(request)
    if study is not None:
        return RedirectResponse(f"/admin/studies/{study.id}", status_code=303)
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
    study = await run_in_threadpool(_study_by_token, request, token)
    if study is None:
        from chatanime.annotate import collect_admin  # one login form for both kinds of study

        collection = await run_in_threadpool(collect_admin.study_by_token, request, token)
        if collection is None:
            raise HTTPException(403)
        return collect_admin.login_response(request, collection)
    response = RedirectResponse(f"/admin/studies/{study.id}", status_code=303)
    response.set_cookie(
        ADMIN_COOKIE,
        _cookie_value(study),
        path="/admin",
        httponly=True,
        samesite="strict",
        secure=settings(request).secure_cookies,
    )
    return response


def _logout_csrf(study: Row[Any]) -> str:
    return csrf_token(study.secret_key, "admin-logout", _cookie_value(study))


@router.post("/logout")
async def logout(request: Request) -> Response:
    """Drop the admin cookie (the form carries a token bound to that cookie)."""
    form = await request.form()
    study = await run_in_threadpool(_authorised_study, request)
    if study is None or not hmac.compare_digest(_logout_csrf(study), str(form.get("csrf", ""))):
        raise HTTPException(403)
    response = RedirectResponse("/admin", status_code=303)
    response.delete_cookie(ADMIN_COOKIE, path="/admin")
    return response


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
    study = _require(request, study_id)
    context = {
        "study": study,
        "rows": _progress(request, study.id),
        "n_ratings": _rating_count(request, study.id),
        "formats": EXPORT_FORMATS,
        "csrf": _logout_csrf(study),
    }
    return render(request, "admin_study.html", context)


@router.get("/studies/{study_id}/export.{fmt}")
def export(request: Request, study_id: str, fmt: str) -> Response:
    study = _require(request, study_id)
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
