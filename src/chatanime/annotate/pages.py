"""The annotator's pages: invite link, one task at a time, submit, overview.

URLs are ``/a/{token}`` and ``/a/{token}/{position}``: the secret token says who you are,
the position indexes *your own* list. Each request re-derives the annotator from the token
and the task from (annotator, position), and a POST must also name the item the form was
rendered for, so no URL or form field can reach another annotator's item.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from chatanime.annotate.app import render, settings
from chatanime.annotate.ratings import (
    NotAssignedError,
    RatingError,
    parse_values,
    save_ratings,
    task_metrics,
)
from chatanime.annotate.security import check_csrf, csrf_token, new_token
from chatanime.annotate.study import DIVERSITY
from chatanime.annotate.worklist import (
    Annotator,
    Task,
    annotator_for_token,
    completion,
    done_count,
    next_open,
    task_at,
)

router = APIRouter()
NONCE_COOKIE = "ca_nonce"


def _annotator(request: Request, token: str) -> Annotator:
    with settings(request).store.engine.connect() as conn:
        annotator = annotator_for_token(conn, token)
    if annotator is None:
        raise HTTPException(404)
    return annotator


def _nonce(request: Request) -> tuple[str, bool]:
    """The browser's CSRF nonce, and whether it is new (and so must be set as a cookie)."""
    existing = request.cookies.get(NONCE_COOKIE)
    if existing and 16 <= len(existing) <= 100:
        return existing, False
    return new_token(), True


def _set_nonce(request: Request, response: Response, nonce: str) -> None:
    response.set_cookie(
        NONCE_COOKIE,
        nonce,
        path="/a/",
        httponly=True,
        samesite="lax",
        secure=settings(request).secure_cookies,
        max_age=90 * 24 * 3600,
    )


@router.get("/", response_class=HTMLResponse)
def landing(request: Request) -> Response:
    return render(request, "landing.html", {})


@router.get("/a/{token}")
def start(request: Request, token: str) -> Response:
    """The invite link: resume at the first unfinished task."""
    annotator = _annotator(request, token)
    with settings(request).store.engine.connect() as conn:
        position = next_open(conn, annotator)
    target = f"/a/{token}/{position}" if position else f"/a/{token}/done"
    return RedirectResponse(target, status_code=303)


@router.get("/a/{token}/done", response_class=HTMLResponse)
def done(request: Request, token: str) -> Response:
    annotator = _annotator(request, token)
    with settings(request).store.engine.connect() as conn:
        states = completion(conn, annotator)
    context = {
        "token": token,
        "states": states,
        "total": annotator.total,
        "done": sum(1 for _, d in states if d),
    }
    return render(request, "done.html", context, language=annotator.language)


def _task_context(
    annotator: Annotator, task: Task, done: int, csrf: str, token: str
) -> dict[str, Any]:
    rubric = annotator.config["rubric"]
    if task.kind == DIVERSITY:
        groups = [("diversity", "", [rubric["diversity"]])]
    else:
        names = rubric["dimensions"]
        order: list[str] = []
        for m in rubric["metrics"]:
            if m["dimension"] not in order:
                order.append(m["dimension"])
        groups = [
            (dim, names.get(dim, dim), [m for m in rubric["metrics"] if m["dimension"] == dim])
            for dim in order
        ]
    card = annotator.config["cards"][task.character]
    return {
        "token": token,
        "task": task,
        "card": card,
        "groups": groups,
        "csrf": csrf,
        "done": done,
        "total": annotator.total,
        "is_diversity": task.kind == DIVERSITY,
        "prev": task.position - 1 if task.position > 1 else None,
        "next": task.position + 1 if task.position < annotator.total else None,
    }


def _show(
    request: Request,
    token: str,
    annotator: Annotator,
    task: Task,
    *,
    error: str = "",
    entered: dict[str, int] | None = None,
    status_code: int = 200,
) -> Response:
    nonce, fresh = _nonce(request)
    with settings(request).store.engine.connect() as conn:
        done_n = done_count(conn, annotator)
    csrf = csrf_token(annotator.secret_key, annotator.id, nonce)
    context = _task_context(annotator, task, done_n, csrf, token)
    context["values"] = entered if entered is not None else task.ratings
    context["error"] = error
    response = render(request, "task.html", context, status_code, language=annotator.language)
    if fresh:
        _set_nonce(request, response, nonce)
    return response


def _task(request: Request, annotator: Annotator, position: int) -> Task:
    with settings(request).store.engine.connect() as conn:
        task = task_at(conn, annotator, position)
    if task is None:
        raise HTTPException(404)
    return task


@router.get("/a/{token}/{position}", response_class=HTMLResponse)
def show_task(request: Request, token: str, position: int) -> Response:
    annotator = _annotator(request, token)
    return _show(request, token, annotator, _task(request, annotator, position))


@router.post("/a/{token}/{position}")
async def submit_task(request: Request, token: str, position: int) -> Response:
    """Read the form, then do the blocking database work off the event loop."""
    form = {k: str(v) for k, v in (await request.form()).items()}
    response: Response = await run_in_threadpool(_submit, request, token, position, form)
    return response


def _submit(request: Request, token: str, position: int, form: dict[str, str]) -> Response:
    """Validate and store; 303 to the next open task only after the commit."""
    annotator = _annotator(request, token)
    if not check_csrf(
        annotator.secret_key, annotator.id, request.cookies.get(NONCE_COOKIE), form.get("csrf")
    ):
        raise HTTPException(403)
    task = _task(request, annotator, position)
    try:
        if form.get("item") != task.item_id:
            raise NotAssignedError()
        values = parse_values(form, task_metrics(task.kind, annotator.config))
        save_ratings(
            settings(request).store.engine,
            annotator.id,
            position,
            task.item_id,
            values,
            form.get("comment", ""),
        )
    except RatingError as exc:
        entered = {k[2:]: int(v) for k, v in form.items() if k.startswith("m_") and v.isdigit()}
        status = 403 if isinstance(exc, NotAssignedError) else 422
        return _show(
            request, token, annotator, task, error=str(exc), entered=entered, status_code=status
        )
    with settings(request).store.engine.connect() as conn:
        following = next_open(conn, annotator, after=position)
    target = f"/a/{token}/{following}" if following else f"/a/{token}/done"
    return RedirectResponse(target, status_code=303)
