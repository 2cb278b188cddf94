"""The 9-metric ESRP rubric as versioned, hashed data, and its loader.

The rubric lives in ``data/rubrics/esrp.<language>.yaml`` rather than in a prompt string
because it is the thing a score means: two scores are only comparable if the judge saw
the same rubric, so its sha256 (``Rubric.ref``) is stored with every judgment.

Two fairness decisions are built into this module (judge-fairness issue):

* Each metric carries short anchor examples drawn from the release, many of them short
  fan-written answers, to stop a judge from equating quality with length and polish.
  Those answers must never be scored as test items, so :func:`exclude_anchor_items`
  removes them from any evaluation set.
* :meth:`Rubric.render_markdown` never names the system an example came from: the
  judge is blind to systems, and provenance would leak a prior ("fans are good").

The metric ids, their order and their dimensions are fixed by docs/architecture.md and
defined here as constants (:data:`METRICS`, :data:`DIMENSIONS`); a rubric file must use
exactly those ids, so judge output can always be keyed by them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Literal, Protocol, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from chatanime.errors import DataError
from chatanime.prompts import VersionedData

RUBRICS_PACKAGE = "chatanime.data.rubrics"
RUBRIC_NAME = "esrp"
LANGUAGES = ("zh", "en")
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


class AnchorKeyed(Protocol):
    """Anything that names one system's answer to one dialogue (Dialogue, judgment rows...)."""

    @property
    def system(self) -> str: ...

    @property
    def character(self) -> str: ...

    @property
    def scenario(self) -> int: ...


ItemT = TypeVar("ItemT", bound=AnchorKeyed)

_LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "ESRP 评分标准",
        "scale": "每项指标打 {min}–{max} 的整数分；锚点描述 1、3、5 分，2 和 4 介于其间。",
        "principles": "评分原则",
        "do_not": "不要奖励：",
        "do": "应当奖励：",
        "measures": "衡量",
        "score": "{score} 分",
        "examples": "示例",
        "round": "第 {round} 轮",
        "constructed": "构造反例",
        "translation": "译文",
        "sep": "：",
    },
    "en": {
        "title": "ESRP rubric",
        "scale": "Score each metric with an integer {min}-{max}; anchors describe 1, 3 and 5, "
        "2 and 4 lie between.",
        "principles": "Judging principles",
        "do_not": "Do not reward:",
        "do": "Do reward:",
        "measures": "Measures",
        "score": "{score}",
        "examples": "Examples",
        "round": "round {round}",
        "constructed": "constructed",
        "translation": "translation",
        "sep": ": ",
    },
}


class Rubric(VersionedData[RubricFile]):
    """A loaded, validated rubric: look-ups, anchor-item exclusion and rendering."""

    def __init__(self, spec: RubricFile, sha256: str, source: str) -> None:
        super().__init__(spec, sha256, source)
        self._metrics = {m.id: m for m in spec.metrics}
        self._dimensions = {d.id: d for d in spec.dimensions}

    @property
    def metric_ids(self) -> tuple[str, ...]:
        """The 9 metric ids in the architecture's order (whatever the file's order)."""
        return METRICS

    @property
    def dimension_ids(self) -> tuple[str, ...]:
        return DIMENSION_IDS

    def metric(self, metric_id: str) -> Metric:
        if metric_id not in self._metrics:
            raise DataError(f"unknown metric {metric_id!r}; known metrics: {', '.join(METRICS)}")
        return self._metrics[metric_id]

    def dimension(self, dimension_id: str) -> Dimension:
        if dimension_id not in self._dimensions:
            known = ", ".join(DIMENSION_IDS)
            raise DataError(f"unknown dimension {dimension_id!r}; known dimensions: {known}")
        return self._dimensions[dimension_id]

    def dimension_of(self, metric_id: str) -> str:
        """The dimension id a metric belongs to."""
        return self.metric(metric_id).dimension

    def examples(self) -> list[tuple[str, Example]]:
        """All anchor examples as ``(metric_id, example)``, in metric order."""
        return [(m, ex) for m in METRICS for ex in self._metrics[m].examples]

    def example_refs(self) -> set[tuple[str, str, int]]:
        """``(system, character, scenario)`` of every real anchor example."""
        return {
            (ex.ref.system, ex.ref.character, ex.ref.scenario)
            for _, ex in self.examples()
            if ex.ref is not None
        }

    def anchor_dialogues(self) -> set[tuple[str, int]]:
        """``(character, scenario)`` of every real anchor example, any system."""
        return {(character, scenario) for _, character, scenario in self.example_refs()}

    def render_markdown(
        self,
        include_examples: bool = True,
        *,
        include_translations: bool = False,
        include_diversity: bool = False,
    ) -> str:
        """The compact rubric text a judge prompt embeds.

        Examples are shown with their score, round and note but never their system, so
        the judge stays blind. Translations and the diversity rubric are opt-in: the
        pointwise judge is sent this text on every call.
        """
        lab = _LABELS[self.language]
        lines = [
            f"# {lab['title']} ({self.ref})",
            lab["scale"].format(**self.spec.scale.model_dump()),
        ]
        lines += ["", f"## {lab['principles']}", lab["do_not"]]
        lines += [f"- {item}" for item in self.spec.guidance.do_not_reward]
        lines += [lab["do"]] + [f"- {item}" for item in self.spec.guidance.do_reward]
        for dim_id in DIMENSION_IDS:
            dim = self._dimensions[dim_id]
            lines += ["", f"## {dim.name} ({dim.id}){lab['sep']}{dim.description}"]
            for metric_id in DIMENSION_METRICS[dim_id]:
                lines += self._render_metric(
                    self._metrics[metric_id], include_examples, include_translations
                )
        if include_diversity:
            div = self.spec.diversity
            lines += [
                "",
                f"## {div.name} ({DIVERSITY})",
                f"{lab['measures']}{lab['sep']}{div.measures}",
            ]
            lines += _render_anchors(div.anchors, lab)
        return "\n".join(lines)

    def _render_metric(self, metric: Metric, with_examples: bool, translations: bool) -> list[str]:
        lab = _LABELS[self.language]
        lines = [
            "",
            f"### {metric.name} ({metric.id})",
            f"{lab['measures']}{lab['sep']}{metric.measures}",
        ]
        lines += _render_anchors(metric.anchors, lab)
        if not with_examples or not metric.examples:
            return lines
        lines.append(f"{lab['examples']}{lab['sep']}".rstrip())
        for ex in sorted(metric.examples, key=lambda e: -e.score):
            where = (
                lab["constructed"] if ex.ref is None else lab["round"].format(round=ex.ref.round)
            )
            lines.append(
                f"- [{lab['score'].format(score=ex.score)} | {where}] 「{ex.text}」 — {ex.note}"
            )
            if translations and ex.translation:
                lines.append(f"  ({lab['translation']}{lab['sep']}{ex.translation})")
        return lines


def _render_anchors(anchors: Mapping[int, str], lab: Mapping[str, str]) -> list[str]:
    return [f"- {lab['score'].format(score=s)}{lab['sep']}{anchors[s]}" for s in ANCHOR_SCORES]


def _error_field(exc: ValidationError) -> str:
    errors = exc.errors()
    first = errors[0]
    field = ".".join(str(part) for part in first["loc"])
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    where = f"field '{field}': " if field else ""
    message = first["msg"].removeprefix("Value error, ")
    return f"{where}{message}{more}"


def parse_rubric(text: str, source: str) -> Rubric:
    """Validate rubric text; errors name ``source`` and the offending field."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DataError(f"{source}: not valid YAML ({exc})") from exc
    if not isinstance(raw, dict):
        raise DataError(f"{source}: a rubric file must be a mapping")
    try:
        spec = RubricFile.model_validate(raw)
    except ValidationError as exc:
        raise DataError(f"{source}: {_error_field(exc)}") from exc
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return Rubric(spec, digest, source)


@cache
def _builtin_rubric(language: str) -> Rubric:
    if language not in LANGUAGES:
        raise DataError(f"no built-in rubric in language {language!r}; use one of {LANGUAGES}")
    name = f"{RUBRIC_NAME}.{language}.yaml"
    entry = resources.files(RUBRICS_PACKAGE).joinpath(name)
    rubric = parse_rubric(entry.read_text(encoding="utf-8"), name)
    if rubric.language != language:
        raise DataError(f"{name}: field 'language': expected {language!r}, got {rubric.language!r}")
    return rubric


def load_rubric(language: str = "zh", path: Path | None = None) -> Rubric:
    """The built-in ESRP rubric in ``language``, or a user's rubric file at ``path``.

    A user file must follow the same schema; its own ``language`` field wins over the
    ``language`` argument, which only selects among the built-ins.
    """
    if path is None:
        return _builtin_rubric(language)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{path}: cannot read rubric file ({exc.strerror})") from exc
    return parse_rubric(text, str(path))


def exclude_anchor_items(
    items: Iterable[ItemT],
    rubric: Rubric | None = None,
    *,
    whole_dialogue: bool = False,
) -> list[ItemT]:
    """Drop the items that are anchor examples, so they are never scored as test items.

    An item is dropped when its ``(system, character, scenario)`` is an example's ref.
    ``rubric=None`` uses every built-in language (they share refs). With
    ``whole_dialogue=True`` the dialogue is dropped for every system, which keeps paired
    comparisons between systems on the same set of dialogues.
    """
    rubrics = [rubric] if rubric is not None else [_builtin_rubric(lang) for lang in LANGUAGES]
    refs = set().union(*(r.example_refs() for r in rubrics))
    if whole_dialogue:
        dialogues = {(character, scenario) for _, character, scenario in refs}
        return [it for it in items if (it.character, it.scenario) not in dialogues]
    return [it for it in items if (it.system, it.character, it.scenario) not in refs]
