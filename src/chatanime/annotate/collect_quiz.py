"""The optional screening quiz of a collection study: a few canon questions per character.

The study's fans were vetted; a team building its own baseline screens respondents the
same way, with questions the admin writes in a YAML file::

    pass_score: 2        # correct answers needed to pass (default: every question)
    gate: false          # true: a respondent who fails cannot go on (default: only recorded)
    characters:
      luffy:
        - question: 路飞吃下的恶魔果实是？
          choices: [橡胶果实, 烧烧果实, 响雷果实]
          answer: 橡胶果实          # one of the choices
        - question: 路飞的梦想是什么？
          accept: [海贼王, 成为海贼王]  # free text; any of these (trimmed, case-folded)

The quiz is snapshotted into the study; the answer key never reaches a page. A respondent
takes it once, and the answers, per-question correctness and score are stored with them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from chatanime.errors import DataError

MAX_ANSWER = 500


class QuizQuestion(BaseModel):
    """A multiple-choice question (``choices`` + ``answer``) or a free one (``accept``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    question: str = Field(min_length=1)
    choices: tuple[str, ...] = ()
    answer: str | None = None
    accept: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _one_kind(self) -> QuizQuestion:
        if self.choices:
            if self.answer is None or self.answer not in self.choices:
                raise ValueError("'answer' must be one of the 'choices'")
            if self.accept:
                raise ValueError("give either 'choices' + 'answer' or 'accept', not both")
        elif not self.accept:
            raise ValueError("a question needs 'choices' + 'answer', or 'accept'")
        return self

    def is_correct(self, given: str) -> bool:
        if self.choices:
            return given == self.answer
        return _fold(given) in {_fold(a) for a in self.accept}

    def public(self) -> dict[str, Any]:
        """What a respondent's page may show (no answer key)."""
        return {"question": self.question, "choices": list(self.choices)}


class Quiz(BaseModel):
    """Questions per character slug, the pass mark, and whether failing stops a respondent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    characters: dict[str, tuple[QuizQuestion, ...]] = Field(default_factory=dict)
    pass_score: int | None = Field(default=None, ge=0)
    gate: bool = False

    def questions(self, character: str) -> tuple[QuizQuestion, ...]:
        return self.characters.get(character, ())

    def needed(self, character: str) -> int:
        """Correct answers needed to pass (never more than there are questions)."""
        n = len(self.questions(character))
        return n if self.pass_score is None else min(self.pass_score, n)


class QuizResult(BaseModel):
    """A respondent's quiz, as stored with them."""

    model_config = ConfigDict(frozen=True)

    answers: tuple[str, ...]
    correct: tuple[bool, ...]
    score: int
    total: int
    passed: bool


def _fold(text: str) -> str:
    return "".join(text.split()).casefold()


def parse_quiz(raw: Any, source: str, characters: Mapping[str, object]) -> Quiz:
    """Validate a quiz mapping against the study's characters (slugs)."""
    if not isinstance(raw, dict):
        raise DataError(f"{source}: a quiz must be a mapping with a 'characters' key")
    try:
        quiz = Quiz.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise DataError(f"{source}: field '{where}': {first['msg']}") from exc
    unknown = sorted(set(quiz.characters) - set(characters))
    if unknown:
        raise DataError(
            f"{source}: character {unknown[0]!r} is not in the study ({', '.join(characters)})"
        )
    return quiz


def load_quiz(path: Path, characters: Mapping[str, object]) -> Quiz:
    """Read and validate ``path`` (YAML)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise DataError(f"{path}: not valid YAML ({exc})") from exc
    return parse_quiz(raw, str(path), characters)


def grade(quiz: Quiz, character: str, form: Mapping[str, str]) -> QuizResult:
    """Score the ``q_<n>`` answers of a submitted quiz form; every question needs an answer."""
    questions = quiz.questions(character)
    answers: list[str] = []
    for i, question in enumerate(questions):
        given = form.get(f"q_{i}", "").strip()
        if not given:
            raise DataError(f"question {i + 1} has no answer")
        if len(given) > MAX_ANSWER:
            raise DataError(f"the answer to question {i + 1} is too long")
        if question.choices and given not in question.choices:
            raise DataError(f"question {i + 1}: not one of the choices")
        answers.append(given)
    correct = tuple(q.is_correct(a) for q, a in zip(questions, answers, strict=True))
    score = sum(correct)
    return QuizResult(
        answers=tuple(answers),
        correct=correct,
        score=score,
        total=len(questions),
        passed=score >= quiz.needed(character),
    )
