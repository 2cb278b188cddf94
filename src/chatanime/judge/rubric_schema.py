"""The schema of a rubric file: the fixed metric ids and the validated shape of the YAML.

Split from :mod:`chatanime.judge.rubric` (which loads, hashes and queries rubrics) because
this is the contract a rubric file must meet, and the one place the ESRP ids live: the
metric ids, their order and their dimensions are fixed by docs/architecture.md, and a
rubric file must use exactly those ids so judge output can always be keyed by them.
Everything here is data validation; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ANCHOR_SCORES = (1, 3, 5)
DIVERSITY = "diversity"

DIMENSION_METRICS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "basic": ("fluency", "coherency", "consistency"),
        "roleplay": ("character_knowledge", "speech_style", "behavioral_habit"),
        "emotional": ("emotional_value", "experience_sharing", "demand_matching"),
    }
)
"""Dimension id -> its three metric ids, both in the architecture's order."""

DIMENSION_IDS: tuple[str, ...] = tuple(DIMENSION_METRICS)
"""The 3 dimension ids in order."""

METRICS: tuple[str, ...] = tuple(m for ms in DIMENSION_METRICS.values() for m in ms)
"""The 9 metric ids in order."""

DIMENSIONS: Mapping[str, str] = MappingProxyType(
    {m: dim for dim, ms in DIMENSION_METRICS.items() for m in ms}
)
"""Metric id -> dimension id (iterates in metric order)."""

_SLUG = r"^[a-z][a-z0-9_-]*$"
_SYSTEM = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Scale(_Frozen):
    """The Likert scale; fixed at 1..5 because human and judge scores are compared."""

    min: Literal[1]
    max: Literal[5]


class Guidance(_Frozen):
    """General judging guidance: what must not earn points and what should."""

    do_not_reward: list[str] = Field(min_length=1)
    do_reward: list[str] = Field(min_length=1)


class Dimension(_Frozen):
    id: str
    name: str = Field(min_length=1)
    description: str = Field(min_length=1)


class ExampleRef(_Frozen):
    """Where an anchor example comes from in the release."""

    system: str = Field(pattern=_SYSTEM)
    character: str = Field(pattern=_SLUG)
    scenario: int = Field(ge=1)
    round: Literal[1, 2]


class Example(_Frozen):
    """One anchor example: a real answer (``ref``) or a constructed counter-example."""

    score: Literal[1, 3, 5]
    ref: ExampleRef | None
    constructed: bool = False
    text: str = Field(min_length=1)
    translation: str | None = None
    note: str = Field(min_length=1)

    @model_validator(mode="after")
    def _ref_or_constructed(self) -> Example:
        if (self.ref is None) != self.constructed:
            raise ValueError("an example needs a ref, or ref: null with constructed: true")
        return self


class _Anchored(_Frozen):
    name: str = Field(min_length=1)
    measures: str = Field(min_length=1)
    anchors: dict[int, str]

    @field_validator("anchors")
    @classmethod
    def _anchor_keys(cls, anchors: dict[int, str]) -> dict[int, str]:
        if sorted(anchors) != list(ANCHOR_SCORES):
            raise ValueError(
                f"anchors must be exactly {list(ANCHOR_SCORES)}, got {sorted(anchors)}"
            )
        if any(not text.strip() for text in anchors.values()):
            raise ValueError("anchor texts must not be empty")
        return anchors


class Metric(_Anchored):
    id: str
    dimension: str
    examples: list[Example] = Field(default_factory=list)

    @model_validator(mode="after")
    def _known_id_and_dimension(self) -> Metric:
        if self.id not in DIMENSIONS:
            raise ValueError(f"unknown metric id {self.id!r}; expected one of {list(METRICS)}")
        if self.dimension != DIMENSIONS[self.id]:
            raise ValueError(
                f"metric {self.id!r} belongs to dimension {DIMENSIONS[self.id]!r}, "
                f"not {self.dimension!r}"
            )
        return self


class DiversityRubric(_Anchored):
    """Anchors for rating a set of one system's answers for one character."""


class RubricFile(_Frozen):
    """The schema of ``data/rubrics/<id>.<language>.yaml``."""

    id: str = Field(pattern=_SLUG)
    version: int = Field(ge=1)
    language: Literal["zh", "en"]
    scale: Scale
    guidance: Guidance
    dimensions: list[Dimension]
    metrics: list[Metric]
    diversity: DiversityRubric

    @field_validator("dimensions")
    @classmethod
    def _dimension_ids(cls, dims: list[Dimension]) -> list[Dimension]:
        ids = [d.id for d in dims]
        if sorted(ids) != sorted(DIMENSION_IDS):
            raise ValueError(f"dimension ids must be exactly {list(DIMENSION_IDS)}, got {ids}")
        return dims

    @field_validator("metrics")
    @classmethod
    def _metric_ids(cls, metrics: list[Metric]) -> list[Metric]:
        ids = [m.id for m in metrics]
        if sorted(ids) != sorted(METRICS):
            missing = sorted(set(METRICS) - set(ids))
            unknown = sorted(set(ids) - set(METRICS))
            raise ValueError(
                f"metric ids must be exactly the 9 ESRP metrics (missing {missing}, "
                f"unknown {unknown}, {len(ids)} given)"
            )
        return metrics
