"""A respondent's view of a collection study: who the token is, their dialogues, their answers.

Every lookup starts from the respondent (found by the hash of the secret token) and a
position in their own list, and every write names the dialogue id the page was rendered
for, so no URL or form field reaches someone else's dialogue. Each answer is one
conditional UPDATE (``... WHERE answer IS NULL``): the caller acknowledges only after it
committed, a repeated submit of the same text is a no-op, and a different text for an
answered round is refused (round 2 was written in reaction to round 1, so neither changes).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update

from chatanime.annotate.collect_quiz import Quiz, QuizResult
from chatanime.annotate.collect_tables import (
    collect_dialogues,
    collect_studies,
    respondents,
)
from chatanime.annotate.security import hash_token
from chatanime.annotate.study_rows import now_iso
from chatanime.characters import CardText, Character
from chatanime.scenarios import Scenario
from chatanime.simulator import text_length

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
DRAFT_FACTOR = 20
"""A draft may be this many times the limit (in characters) before it is refused."""


class AnswerError(ValueError):
    """A submission that cannot be stored; ``key`` names the wording shown to the respondent."""

    def __init__(self, key: str, message: str, **params: int) -> None:
        super().__init__(message)
        self.key = key
        self.params = params


class NotYoursError(AnswerError):
    def __init__(self) -> None:
        super().__init__("err_not_yours", "this dialogue is not assigned to you")


@dataclass(frozen=True)
class Respondent:
    """An authenticated respondent with the study context the pages need."""

    id: str
    name: str
    character: str
    study_id: str
    study_name: str
    secret_key: str
    config: dict[str, Any]
    total: int
    quiz_passed: bool | None
    quiz_taken: bool

    @property
    def language(self) -> str:
        return str(self.config["language"])

    @property
    def limit(self) -> int:
        return int(self.config["limit"])

    @property
    def min_length(self) -> int:
        return int(self.config.get("min_length", 1))

    @cached_property
    def character_obj(self) -> Character:
        return Character.model_validate(self.config["characters"][self.character])

    @property
    def card(self) -> CardText:
        return self.character_obj.card(self.language)

    def scenario(self, scenario_id: int) -> Scenario:
        return Scenario.model_validate(self.config["scenarios"][str(scenario_id)])

    @cached_property
    def quiz(self) -> Quiz | None:
        raw = self.config.get("quiz")
        return Quiz.model_validate(raw) if raw else None

    @property
    def needs_quiz(self) -> bool:
        return (
            self.quiz is not None
            and bool(self.quiz.questions(self.character))
            and not (self.quiz_taken)
        )

    @property
    def screened_out(self) -> bool:
        """Failed a gating quiz: may not go on."""
        return self.quiz is not None and self.quiz.gate and self.quiz_passed is False


@dataclass(frozen=True)
class DialogueTask:
    """One dialogue as the respondent's page shows it."""

    id: str
    position: int
    scenario: int
    q1: str
    draft_r1: str
    draft_r2: str
    a1: str | None
    sim_status: str | None
    sim_error: str | None
    sim_runs: int
    q2: str | None
    a2: str | None
    r1_opened: bool
    r2_opened: bool

    @property
    def stage(self) -> str:
        """``r1`` (write round 1), ``waiting`` (round 2's question is being made), ``r2``,
        ``done``."""
        if self.a1 is None:
            return "r1"
        if self.q2 is None:
            return "waiting"
        return "r2" if self.a2 is None else "done"


def respondent_for_token(conn: Connection, token: str) -> Respondent | None:
    """The respondent whose invite token is ``token``, or None (unknown or rotated)."""
    if not token or len(token) > 200:
        return None
    row = conn.execute(
        select(
            respondents.c.id,
            respondents.c.name,
            respondents.c.character,
            respondents.c.quiz_passed,
            respondents.c.quiz_at,
            collect_studies.c.id.label("study_id"),
            collect_studies.c.name.label("study_name"),
            collect_studies.c.secret_key,
            collect_studies.c.config_json,
        )
        .join(collect_studies, collect_studies.c.id == respondents.c.study_id)
        .where(respondents.c.token_hash == hash_token(token))
    ).first()
    if row is None:
        return None
    total = conn.execute(
        select(func.count())
        .select_from(collect_dialogues)
        .where(collect_dialogues.c.respondent_id == row.id)
    ).scalar_one()
    return Respondent(
        row.id,
        row.name,
        row.character,
        row.study_id,
        row.study_name,
        row.secret_key,
        json.loads(row.config_json),
        int(total),
        row.quiz_passed,
        row.quiz_at is not None,
    )


def dialogue_at(conn: Connection, respondent: Respondent, position: int) -> DialogueTask | None:
    """The respondent's dialogue at ``position`` (1-based), or None."""
    d = collect_dialogues.c
    row = conn.execute(
        select(collect_dialogues).where(d.respondent_id == respondent.id, d.position == position)
    ).first()
    if row is None:
        return None
    return DialogueTask(
        id=row.id,
        position=row.position,
        scenario=row.scenario,
        q1=row.question_r1,
        draft_r1=row.draft_r1 or "",
        draft_r2=row.draft_r2 or "",
        a1=row.answer_r1,
        sim_status=row.sim_status,
        sim_error=row.sim_error,
        sim_runs=int(row.sim_runs or 0),
        q2=row.question_r2,
        a2=row.answer_r2,
        r1_opened=row.r1_opened_at is not None,
        r2_opened=row.r2_opened_at is not None,
    )


def completion(conn: Connection, respondent: Respondent) -> list[tuple[int, bool]]:
    """(position, finished) for every dialogue of the respondent, in order."""
    d = collect_dialogues.c
    rows = conn.execute(
        select(d.position, d.answer_r2).where(d.respondent_id == respondent.id).order_by(d.position)
    ).all()
    return [(int(p), a is not None) for p, a in rows]


def next_open(conn: Connection, respondent: Respondent, after: int = 0) -> int | None:
    """The first unfinished position after ``after`` (wrapping around), or None."""
    open_positions = [p for p, done in completion(conn, respondent) if not done]
    later = [p for p in open_positions if p > after]
    candidates = later or open_positions
    return candidates[0] if candidates else None


def _normalise(text: str) -> str:
    """Browsers send form line breaks as CRLF; the stored text uses LF."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def clean_answer(text: str, respondent: Respondent) -> str:
    """The answer as stored, or an :class:`AnswerError` (the server's own limit check)."""
    clean = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if _CONTROL.search(clean):
        raise AnswerError("err_control", "the answer contains control characters")
    n = text_length(clean, respondent.language)
    if n == 0:
        raise AnswerError("err_empty", "the answer is empty")
    if n > respondent.limit:
        raise AnswerError("err_too_long", "the answer is too long", n=n, limit=respondent.limit)
    if n < respondent.min_length:
        raise AnswerError(
            "err_too_short", "the answer is too short", n=n, minimum=respondent.min_length
        )
    return clean


def _owned(conn: Connection, respondent: Respondent, position: int, dialogue_id: str) -> Any:
    d = collect_dialogues.c
    row = conn.execute(
        select(collect_dialogues).where(d.respondent_id == respondent.id, d.position == position)
    ).first()
    if row is None or row.id != dialogue_id:
        raise NotYoursError()
    return row


def save_round1(
    engine: Engine, respondent: Respondent, position: int, dialogue_id: str, text: str
) -> bool:
    """Store round 1 and queue round 2's question; False when this exact text was stored."""
    clean = clean_answer(text, respondent)
    d = collect_dialogues.c
    with engine.begin() as conn:
        row = _owned(conn, respondent, position, dialogue_id)
        done = conn.execute(
            update(collect_dialogues)
            .where(d.id == row.id, d.answer_r1.is_(None))
            .values(answer_r1=clean, a1_at=now_iso(), draft_r1=None, sim_status="pending")
        ).rowcount
        if done:
            return True
        stored = conn.execute(select(d.answer_r1).where(d.id == row.id)).scalar_one()
    if stored != clean:
        raise AnswerError("err_answered", "round 1 of this dialogue is already answered")
    return False


def save_round2(
    engine: Engine, respondent: Respondent, position: int, dialogue_id: str, text: str
) -> bool:
    """Store round 2 (the dialogue is then finished); False when this exact text was stored."""
    clean = clean_answer(text, respondent)
    d = collect_dialogues.c
    with engine.begin() as conn:
        row = _owned(conn, respondent, position, dialogue_id)
        if row.question_r2 is None:
            raise AnswerError("err_no_question", "round 2's question is not there yet")
        done = conn.execute(
            update(collect_dialogues)
            .where(d.id == row.id, d.answer_r2.is_(None))
            .values(answer_r2=clean, a2_at=now_iso(), draft_r2=None)
        ).rowcount
        if done:
            return True
        stored = conn.execute(select(d.answer_r2).where(d.id == row.id)).scalar_one()
    if stored != clean:
        raise AnswerError("err_answered", "round 2 of this dialogue is already answered")
    return False


def save_draft(
    engine: Engine,
    respondent: Respondent,
    position: int,
    dialogue_id: str,
    round_: int,
    text: str,
) -> bool:
    """Keep what is being typed; ignored (False) once that round is submitted."""
    if round_ not in (1, 2):
        raise AnswerError("err_round", "unknown round")
    if len(text) > DRAFT_FACTOR * max(respondent.limit, 50):
        raise AnswerError("err_too_long", "the draft is too long", n=len(text), limit=0)
    d = collect_dialogues.c
    draft, answer = (d.draft_r1, d.answer_r1) if round_ == 1 else (d.draft_r2, d.answer_r2)
    with engine.begin() as conn:
        row = _owned(conn, respondent, position, dialogue_id)
        done = conn.execute(
            update(collect_dialogues)
            .where(d.id == row.id, answer.is_(None))
            .values({draft.name: _normalise(text), "draft_at": now_iso()})
        ).rowcount
    return bool(done)


def mark_opened(engine: Engine, dialogue_id: str, round_: int) -> None:
    """When a round was first shown: the start of its writing time."""
    d = collect_dialogues.c
    column = d.r1_opened_at if round_ == 1 else d.r2_opened_at
    with engine.begin() as conn:
        conn.execute(
            update(collect_dialogues)
            .where(d.id == dialogue_id, column.is_(None))
            .values({column.name: now_iso()})
        )


def record_quiz(engine: Engine, respondent: Respondent, result: QuizResult) -> bool:
    """Store the quiz once (a second submission is ignored); True when stored now."""
    r = respondents.c
    with engine.begin() as conn:
        done = conn.execute(
            update(respondents)
            .where(r.id == respondent.id, r.quiz_at.is_(None))
            .values(
                quiz_json=result.model_dump_json(),
                quiz_score=result.score,
                quiz_passed=result.passed,
                quiz_at=now_iso(),
            )
        ).rowcount
    return bool(done)
