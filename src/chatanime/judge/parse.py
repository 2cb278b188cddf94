"""Reading a judge's reply: find the JSON object, validate it, or say precisely why not.

Judges wrap JSON in prose, in Markdown fences, or produce none at all; a score of 7 or a
missing metric is just as common. Everything here returns a value — a validated reply or
a :class:`ParseFailure` whose message is short enough to send back to the judge in a
repair request — because an unparseable judgment must be stored as *unscored* with its
raw text, never turned into a number and never crash a paid run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from chatanime.judge.rubric import METRICS

Score = Annotated[int, Field(strict=True, ge=1, le=5)]
"""An integer 1..5; ``4.0``, ``"4"`` and ``true`` are rejected: the judge must follow the format."""

MAX_REPORTED_PROBLEMS = 5


class RoundScores(BaseModel):
    """The 9 metric scores of one round; unknown extra keys are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    fluency: Score
    coherency: Score
    consistency: Score
    character_knowledge: Score
    speech_style: Score
    behavioral_habit: Score
    emotional_value: Score
    experience_sharing: Score
    demand_matching: Score

    def as_dict(self) -> dict[str, int]:
        """Metric id -> score, in the architecture's metric order."""
        return {m: int(getattr(self, m)) for m in METRICS}


class PointwiseReply(BaseModel):
    """``{"rationale": "...", "rounds": {"1": {...}, "2": {...}}}``.

    The rounds that must be present come from the validation context
    (``{"rounds": ("1", "2")}``); rounds that were not asked for are dropped.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    rationale: str = Field(min_length=1)
    rounds: dict[str, RoundScores]

    @field_validator("rounds", mode="before")
    @classmethod
    def _requested_rounds(cls, value: Any, info: ValidationInfo) -> Any:
        wanted = tuple(str(r) for r in (info.context or {}).get("rounds", ("1", "2")))
        if not isinstance(value, Mapping):
            return value  # the dict validator reports the type error
        missing = [r for r in wanted if r not in value]
        if missing:
            got = ", ".join(repr(k) for k in value) or "none"
            raise ValueError(f"missing round(s) {', '.join(missing)} (got {got})")
        return {r: value[r] for r in wanted}

    def scores(self) -> dict[int, dict[str, int]]:
        """Round -> metric -> score."""
        return {int(r): s.as_dict() for r, s in self.rounds.items()}


class DiversityReply(BaseModel):
    """``{"rationale": "...", "diversity": 1..5}`` for a set of one system's answers."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    rationale: str = Field(min_length=1)
    diversity: Score


ReplyT = TypeVar("ReplyT", bound=BaseModel)


@dataclass(frozen=True)
class ParseFailure:
    """Why a reply could not be used; ``error`` is what the repair request quotes."""

    error: str


@dataclass(frozen=True)
class ReplyParser(Generic[ReplyT]):
    """Validates reply text against ``model``; ``key`` picks the JSON object in prose."""

    model: type[ReplyT]
    key: str
    context: Mapping[str, Any] | None = None

    def __call__(self, text: str) -> ReplyT | ParseFailure:
        return parse_reply(text, self.model, key=self.key, context=self.context)


def balanced_objects(text: str) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of ``{...}`` spans with balanced braces (string-aware), in order.

    Every ``{`` starts a candidate, so a caller that fails to parse one span can go
    on to the next brace, and one that parsed a span can skip past its ``end``.
    """
    start = text.find("{")
    while start != -1:
        end = _matching_brace(text, start)
        if end is not None:
            yield start, end
        start = text.find("{", start + 1)


def _matching_brace(text: str, start: int) -> int | None:
    depth = 0
    in_string = escaped = False
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
    return None


def extract_json_object(text: str, *, key: str | None = None) -> dict[str, Any] | None:
    """The JSON object of a reply: the whole text, else one inside fences or prose.

    Among several objects the first holding ``key`` wins, else the first object at all;
    nested objects of a parsed one are not considered separately.
    """
    stripped = text.strip()
    try:
        whole = json.loads(stripped)
    except ValueError:
        whole = None
    if isinstance(whole, dict):
        return whole
    found: list[dict[str, Any]] = []
    covered = -1
    for start, end in balanced_objects(stripped):
        if start <= covered:
            continue  # nested in an object already parsed
        try:
            obj = json.loads(stripped[start : end + 1])
        except ValueError:
            continue
        if isinstance(obj, dict):
            if key is None or key in obj:
                return obj
            found.append(obj)
            covered = end
    return found[0] if found else None


def describe_validation_error(exc: ValidationError) -> str:
    """``rounds.1.fluency: Input should be less than or equal to 5 (got 7); ...``.

    Only the location, pydantic's message and short scalar inputs are quoted, so the
    repair request never echoes long answer text back to the judge.
    """
    problems = []
    errors = exc.errors(include_url=False)
    for err in errors[:MAX_REPORTED_PROBLEMS]:
        where = ".".join(str(p) for p in err["loc"]) or "reply"
        message = str(err["msg"]).removeprefix("Value error, ")
        value = err.get("input")
        shown = ""
        if isinstance(value, int | float | bool) or (isinstance(value, str) and len(value) <= 20):
            shown = f" (got {json.dumps(value, ensure_ascii=False)})"
        if err["type"] == "missing":
            shown = ""
        problems.append(f"{where}: {message}{shown}")
    more = len(errors) - MAX_REPORTED_PROBLEMS
    tail = f"; and {more} more problem(s)" if more > 0 else ""
    return "; ".join(problems) + tail


def parse_reply(
    text: str,
    model: type[ReplyT],
    *,
    key: str,
    context: Mapping[str, Any] | None = None,
) -> ReplyT | ParseFailure:
    """Extract and validate; a failure says whether JSON was missing or wrong, and how."""
    obj = extract_json_object(text, key=key)
    if obj is None:
        return ParseFailure("the reply contains no JSON object")
    try:
        return model.model_validate(obj, context=dict(context or {}))
    except ValidationError as exc:
        return ParseFailure(f"invalid judgment: {describe_validation_error(exc)}")


def pointwise_parser(rounds: Sequence[int]) -> ReplyParser[PointwiseReply]:
    """The parser of a pointwise reply scoring exactly ``rounds``."""
    return ReplyParser(PointwiseReply, "rounds", {"rounds": tuple(str(r) for r in rounds)})


def diversity_parser() -> ReplyParser[DiversityReply]:
    """The parser of an LLM-judged diversity reply."""
    return ReplyParser(DiversityReply, "diversity")
