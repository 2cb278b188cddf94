"""Scenarios: the everyday emotional situations a user brings to a character.

The ChatAnime study generated its 60 scenarios from user *personas* (who is
talking) and human *emotions* (how they feel), each as a daily event plus the
user's opening line (``question_r1``). Keeping persona and emotion as closed
enums lets results be sliced by them without string typos splitting a group,
and lets a user-written scenario file be checked when it is loaded instead of
when a report quietly shows a tenth emotion.

The scenarios themselves are benchmark data (``data/benchmarks/<name>/
scenarios.yaml``); :func:`parse_scenarios` validates such a file and
:func:`builtin_scenarios` returns the 60 of the built-in benchmark.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chatanime.errors import DataError


class Persona(StrEnum):
    """Who the user is; the release assigns one persona per block of 15 ids."""

    STUDENT = "student"
    OFFICE_WORKER = "office-worker"
    FREELANCER = "freelancer"
    SELF_EMPLOYED = "self-employed"

    @property
    def label_zh(self) -> str:
        return _PERSONA_LABELS[self][0]

    @property
    def label_en(self) -> str:
        return _PERSONA_LABELS[self][1]

    def label(self, language: str = "zh") -> str:
        """Human-readable label in ``language`` ("zh" or "en")."""
        return self.label_zh if language == "zh" else self.label_en


_PERSONA_LABELS: dict[Persona, tuple[str, str]] = {
    Persona.STUDENT: ("学生", "student"),
    Persona.OFFICE_WORKER: ("上班族", "office worker"),
    Persona.FREELANCER: ("自由职业者", "freelancer"),
    Persona.SELF_EMPLOYED: ("个体经营者", "self-employed"),
}


class Emotion(StrEnum):
    """The user's emotion in a scenario (the nine emotions of the study)."""

    JOY = "joy"
    AFFECTION = "affection"
    SURPRISE = "surprise"
    CONFUSION = "confusion"
    ANGER = "anger"
    WORRY = "worry"
    LONELINESS = "loneliness"
    SADNESS = "sadness"
    DISAPPOINTMENT = "disappointment"

    @property
    def label_zh(self) -> str:
        return _EMOTION_LABELS_ZH[self]

    @property
    def label_en(self) -> str:
        return self.value

    def label(self, language: str = "zh") -> str:
        """Human-readable label in ``language`` ("zh" or "en")."""
        return self.label_zh if language == "zh" else self.label_en


_EMOTION_LABELS_ZH: dict[Emotion, str] = {
    Emotion.JOY: "喜悦",
    Emotion.AFFECTION: "喜爱",
    Emotion.SURPRISE: "惊讶",
    Emotion.CONFUSION: "困惑",
    Emotion.ANGER: "愤怒",
    Emotion.WORRY: "担忧",
    Emotion.LONELINESS: "孤独",
    Emotion.SADNESS: "悲伤",
    Emotion.DISAPPOINTMENT: "失望",
}


class Scenario(BaseModel):
    """One scenario: the situation and the user's round-1 opening line."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int = Field(ge=1)
    persona: Persona
    emotion: Emotion
    location: str = Field(min_length=1)
    daily_event: str = Field(min_length=1)
    question_r1: str = Field(min_length=1)


RELEASE_SCENARIO_COUNT = 60
_PERSONA_BLOCK = 15
_PERSONA_ORDER = (
    Persona.STUDENT,
    Persona.OFFICE_WORKER,
    Persona.FREELANCER,
    Persona.SELF_EMPLOYED,
)


def persona_for_release_id(scenario_id: int) -> Persona:
    """The persona of a release dialog id: 1-15 student, 16-30 office worker, and so on.

    The release does not store personas; they follow from the id blocks, so
    this is the one place that knows the mapping.
    """
    if not 1 <= scenario_id <= RELEASE_SCENARIO_COUNT:
        raise ValueError(f"release scenario ids are 1..{RELEASE_SCENARIO_COUNT}, got {scenario_id}")
    return _PERSONA_ORDER[(scenario_id - 1) // _PERSONA_BLOCK]


def normalise_question(text: str) -> str:
    """Map the ASCII ``~`` to the full-width ``～`` used by the release's human file.

    In the release, all 10 LLM files write ``~`` where ``human.json`` writes
    ``～`` in scenarios 24 and 37 (otherwise every file carries the same 60
    questions). We normalise to the human file's form, so questions read from
    any system file compare equal to the built-in scenarios.
    """
    return text.replace("~", "～")


def format_location(loc: Sequence[str | int], prefix: str = "") -> str:
    """Render a pydantic error location as ``scenarios[3].persona``."""
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def validation_message(source: str, exc: ValidationError, prefix: str = "") -> str:
    """One sentence naming the file and the first failing field (plus a count of the rest)."""
    errors = exc.errors()
    first = errors[0]
    field = format_location(first["loc"], prefix) or "(top level)"
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return f"{source}: {field}: {first['msg']}{more}"


def parse_scenarios(raw: Any, source: str, field: str = "scenarios") -> tuple[Scenario, ...]:
    """Validate a list of scenario mappings; errors name ``source`` and e.g. ``scenarios[3].id``.

    Rejects an empty list and duplicate ids, because a benchmark's results are
    keyed by scenario id and a duplicate would silently overwrite a cell.
    """
    if not isinstance(raw, list) or not raw:
        raise DataError(f"{source}: {field}: must be a non-empty list of scenarios")
    scenarios: list[Scenario] = []
    seen: dict[int, int] = {}
    for index, item in enumerate(raw):
        where = f"{field}[{index}]"
        if not isinstance(item, Mapping):
            raise DataError(f"{source}: {where}: a scenario must be a mapping")
        try:
            scenario = Scenario.model_validate(dict(item))
        except ValidationError as exc:
            raise DataError(validation_message(source, exc, where)) from exc
        if scenario.id in seen:
            raise DataError(
                f"{source}: {where}.id: duplicate scenario id {scenario.id} "
                f"(first used by {field}[{seen[scenario.id]}])"
            )
        seen[scenario.id] = index
        scenarios.append(scenario)
    return tuple(scenarios)


def builtin_scenarios(language: str = "zh") -> tuple[Scenario, ...]:
    """The 60 scenarios of the built-in benchmark in ``language`` ("zh" or "en").

    They are benchmark data, so this goes through the benchmark loader (the
    one code path); the import is local because ``benchmark`` imports this module.
    """
    from chatanime.benchmark import builtin_benchmark_for_language

    return builtin_benchmark_for_language(language).scenarios
