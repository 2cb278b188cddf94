"""The respondent's pages: invite link, quiz, one dialogue at a time, drafts, round-2 status.

URLs are ``/r/{token}`` and ``/r/{token}/{position}[/...]``: the secret token says who you
are, the position indexes *your own* list, and every POST names the dialogue id the page
was rendered for (checked against the position) and carries a CSRF token bound to the
respondent and this browser. Round 1 is committed before anything else happens (the 303
is the acknowledgement); round 2's question is then made by :mod:`collect_sim`'s worker
while the page polls ``/status``, so a slow or failing simulator never holds a request
and never touches what was written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from chatanime.annotate.app import render, settings
from chatanime.annotate.collect_answers import (
    AnswerError,
    DialogueTask,
    Respondent,
    completion,
    dialogue_at,
    mark_opened,
    next_open,
    record_quiz,
    respondent_for_token,
    save_draft,
    save_round1,
    save_round2,
)
from chatanime.annotate.collect_quiz import grade
from chatanime.annotate.collect_sim import needs_worker, request_retry, round2_status
from chatanime.annotate.collect_worker import SimWorker
from chatanime.annotate.security import check_csrf, csrf_token, new_token
from chatanime.annotate.wording import ui_text
from chatanime.errors import DataError
from chatanime.simulator import text_length

router = APIRouter()
NONCE_COOKIE = "ca_rnonce"
WORD_LIMIT_CHARS = 15
"""English limits count words; the no-JavaScript ``maxlength`` allows this many characters
per word (the server's word count is the real check)."""


def _engine(request: Request) -> Any:
    return settings(request).store.engine


def _worker(request: Request) -> SimWorker:
    worker: SimWorker = request.app.state.sim_worker
    return worker


def _respondent(request: Request, token: str) -> Respondent:
    with _engine(request).connect() as conn:
        respondent = respondent_for_token(conn, token)
    if respondent is None:
        raise HTTPException(404)
    return respondent


def _task(request: Request, respondent: Respondent, position: int) -> DialogueTask:
    with _engine(request).connect() as conn:
        task = dialogue_at(conn, respondent, position)
    if task is None:
        raise HTTPException(404)
    return task


def _nonce(request: Request) -> tuple[str, bool]:
    existing = request.cookies.get(NONCE_COOKIE)
    if existing and 16 <= len(existing) <= 100:
        return existing, False
    return new_token(), True


def _with_nonce(request: Request, make: Callable[[str], Response]) -> Response:
    """Render with this browser's CSRF token, setting the nonce cookie when it is new."""
    nonce, fresh = _nonce(request)
    response = make(nonce)
    if fresh:
        response.set_cookie(
            NONCE_COOKIE,
            nonce,
            path="/r/",
            httponly=True,
            samesite="lax",
            secure=settings(request).secure_cookies,
            max_age=90 * 24 * 3600,
        )
    return response


def _require_csrf(request: Request, respondent: Respondent, form: dict[str, str]) -> None:
    nonce = request.cookies.get(NONCE_COOKIE)
    if not check_csrf(respondent.secret_key, respondent.id, nonce, form.get("csrf")):
        raise HTTPException(403)


def _gate(respondent: Respondent, token: str) -> str | None:
    """Where a respondent who may not see dialogues yet must go instead."""
    if respondent.screened_out:
        return f"/r/{token}/done"
    if respondent.needs_quiz:
        return f"/r/{token}/quiz"
    return None


def _kick(request: Request, task: DialogueTask, lease_until: float | None = None) -> None:
    if task.stage == "waiting" and needs_worker(task.sim_status, lease_until):
        _worker(request).submit(task.id)


@router.get("/r/{token}")
def start(request: Request, token: str) -> Response:
    """The invite link: the quiz if it is due, else the first unfinished dialogue."""
    respondent = _respondent(request, token)
    gate = _gate(respondent, token)
    if gate:
        return RedirectResponse(gate, status_code=303)
    with _engine(request).connect() as conn:
        position = next_open(conn, respondent)
    target = f"/r/{token}/{position}" if position else f"/r/{token}/done"
    return RedirectResponse(target, status_code=303)


@router.get("/r/{token}/done", response_class=HTMLResponse)
def done(request: Request, token: str) -> Response:
    respondent = _respondent(request, token)
    with _engine(request).connect() as conn:
        states = completion(conn, respondent)
    context = {
        "token": token,
        "states": states,
        "total": respondent.total,
        "done": sum(1 for _, d in states if d),
        "screened_out": respondent.screened_out,
        "card": respondent.card.model_dump(),
    }
    return render(request, "collect_done.html", context, language=respondent.language)


def _quiz_page(
    request: Request, token: str, respondent: Respondent, error: str = "", status: int = 200
) -> Response:
    assert respondent.quiz is not None
    questions = [q.public() for q in respondent.quiz.questions(respondent.character)]

    def make(nonce: str) -> Response:
        context = {
            "token": token,
            "questions": questions,
            "card": respondent.card.model_dump(),
            "csrf": csrf_token(respondent.secret_key, respondent.id, nonce),
            "error": error,
        }
        return render(request, "collect_quiz.html", context, status, language=respondent.language)

    return _with_nonce(request, make)


@router.get("/r/{token}/quiz", response_class=HTMLResponse)
def quiz(request: Request, token: str) -> Response:
    respondent = _respondent(request, token)
    if not respondent.needs_quiz:
        return RedirectResponse(f"/r/{token}", status_code=303)
    return _quiz_page(request, token, respondent)


@router.post("/r/{token}/quiz")
async def submit_quiz(request: Request, token: str) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    response: Response = await run_in_threadpool(_submit_quiz, request, token, form)
    return response


def _submit_quiz(request: Request, token: str, form: dict[str, str]) -> Response:
    respondent = _respondent(request, token)
    _require_csrf(request, respondent, form)
    if respondent.needs_quiz:
        assert respondent.quiz is not None
        try:
            result = grade(respondent.quiz, respondent.character, form)
        except DataError as exc:
            return _quiz_page(request, token, respondent, str(exc), 422)
        record_quiz(_engine(request), respondent, result)
    return RedirectResponse(f"/r/{token}", status_code=303)


def _counter(respondent: Respondent, text: str) -> dict[str, Any]:
    words = respondent.language == "en"
    limit = respondent.limit
    return {
        "limit": limit,
        "unit": "words" if words else "chars",
        "count": text_length(text, respondent.language),
        "maxlength": limit * WORD_LIMIT_CHARS if words else limit,
    }


def _show(
    request: Request,
    token: str,
    respondent: Respondent,
    task: DialogueTask,
    *,
    error: str = "",
    entered: str | None = None,
    status_code: int = 200,
) -> Response:
    opened = task.r1_opened if task.stage == "r1" else task.r2_opened
    if task.stage in ("r1", "r2") and not opened:
        mark_opened(_engine(request), task.id, 1 if task.stage == "r1" else 2)
    with _engine(request).connect() as conn:
        states = completion(conn, respondent)
    draft = task.draft_r1 if task.stage == "r1" else task.draft_r2
    text = entered if entered is not None else draft

    def make(nonce: str) -> Response:
        context = {
            "token": token,
            "task": task,
            "card": respondent.card.model_dump(),
            "card_open": False,
            "csrf": csrf_token(respondent.secret_key, respondent.id, nonce),
            "done": sum(1 for _, d in states if d),
            "total": respondent.total,
            "text": text,
            "restored": bool(draft) and entered is None,
            "error": error,
            "counter": _counter(respondent, text),
            "prev": task.position - 1 if task.position > 1 else None,
            "next": task.position + 1 if task.position < respondent.total else None,
        }
        return render(
            request, "collect_task.html", context, status_code, language=respondent.language
        )

    return _with_nonce(request, make)


@router.get("/r/{token}/{position}", response_class=HTMLResponse)
def show_dialogue(request: Request, token: str, position: int) -> Response:
    respondent = _respondent(request, token)
    gate = _gate(respondent, token)
    if gate:
        return RedirectResponse(gate, status_code=303)
    task = _task(request, respondent, position)
    if task.stage == "waiting":
        _kick(request, task, round2_status(_engine(request), task.id)["lease_until"])
    return _show(request, token, respondent, task)


async def _form(request: Request) -> dict[str, str]:
    return {k: str(v) for k, v in (await request.form()).items()}


@router.post("/r/{token}/{position}/round1")
async def submit_round1(request: Request, token: str, position: int) -> Response:
    form = await _form(request)
    response: Response = await run_in_threadpool(_submit, request, token, position, 1, form)
    return response


@router.post("/r/{token}/{position}/round2")
async def submit_round2(request: Request, token: str, position: int) -> Response:
    form = await _form(request)
    response: Response = await run_in_threadpool(_submit, request, token, position, 2, form)
    return response


def _checked(
    request: Request, token: str, position: int, form: dict[str, str]
) -> tuple[Respondent, DialogueTask]:
    """The respondent and task of a POST, after the CSRF and quiz gates."""
    respondent = _respondent(request, token)
    _require_csrf(request, respondent, form)
    if _gate(respondent, token):
        raise HTTPException(403)
    return respondent, _task(request, respondent, position)


def _submit(
    request: Request, token: str, position: int, round_: int, form: dict[str, str]
) -> Response:
    """Store the round; 303 only after the commit (that is the acknowledgement)."""
    respondent, task = _checked(request, token, position, form)
    save = save_round1 if round_ == 1 else save_round2
    try:
        save(_engine(request), respondent, position, form.get("dialogue", ""), form.get("text", ""))
    except AnswerError as exc:
        message = ui_text(respondent.language)[exc.key].format(**exc.params)
        status = 403 if exc.key == "err_not_yours" else 422
        return _show(
            request,
            token,
            respondent,
            task,
            error=message,
            entered=form.get("text", ""),
            status_code=status,
        )
    if round_ == 1:
        _worker(request).submit(task.id)
        return RedirectResponse(f"/r/{token}/{position}", status_code=303)
    with _engine(request).connect() as conn:
        following = next_open(conn, respondent, after=position)
    target = f"/r/{token}/{following}" if following else f"/r/{token}/done"
    return RedirectResponse(target, status_code=303)


@router.post("/r/{token}/{position}/draft")
async def draft(request: Request, token: str, position: int) -> Response:
    form = await _form(request)
    response: Response = await run_in_threadpool(_draft, request, token, position, form)
    return response


def _draft(request: Request, token: str, position: int, form: dict[str, str]) -> Response:
    respondent, _ = _checked(request, token, position, form)
    round_ = int(form["round"]) if form.get("round", "").isdigit() else 0
    try:
        kept = save_draft(
            _engine(request),
            respondent,
            position,
            form.get("dialogue", ""),
            round_,
            form.get("text", ""),
        )
    except AnswerError as exc:
        return JSONResponse({"saved": False, "error": exc.key}, status_code=422)
    return JSONResponse({"saved": kept})


@router.get("/r/{token}/{position}/status")
def status(request: Request, token: str, position: int) -> Response:
    """Round 2's state for the waiting page (restarting a job whose lease ran out)."""
    respondent = _respondent(request, token)
    if _gate(respondent, token):
        raise HTTPException(403)
    task = _task(request, respondent, position)
    info = round2_status(_engine(request), task.id)
    _kick(request, task, info.pop("lease_until"))
    auto = respondent.config["simulator"]
    info["auto_retry_s"] = (
        auto.get("auto_retry_after_s", 10)
        if info["state"] == "failed" and info["runs"] <= int(auto.get("auto_retries", 0))
        else None
    )
    return JSONResponse(info)


@router.post("/r/{token}/{position}/retry")
async def retry(request: Request, token: str, position: int) -> Response:
    form = await _form(request)
    response: Response = await run_in_threadpool(_retry, request, token, position, form)
    return response


def _retry(request: Request, token: str, position: int, form: dict[str, str]) -> Response:
    _, task = _checked(request, token, position, form)
    if form.get("dialogue") != task.id:
        raise HTTPException(403)
    if request_retry(_engine(request), task.id):
        _worker(request).submit(task.id)
    return RedirectResponse(f"/r/{token}/{position}", status_code=303)
