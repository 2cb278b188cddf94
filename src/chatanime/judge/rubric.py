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

The module is split by domain: :mod:`.rubric_schema` holds the fixed ids (:data:`METRICS`,
:data:`DIMENSIONS`, fixed by docs/architecture.md) and the file's validated shape,
:mod:`.rubric_render` the markdown a judge is shown; this module loads, hashes and queries
a rubric, and re-exports the schema's names so callers import everything from here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Protocol, TypeVar

import yaml
from pydantic import ValidationError

from chatanime.errors import DataError
from chatanime.judge.rubric_render import render_rubric
from chatanime.judge.rubric_schema import (
    ANCHOR_SCORES,
    DIMENSION_IDS,
    DIMENSION_METRICS,
    DIMENSIONS,
    DIVERSITY,
    METRICS,
    Dimension,
    DiversityRubric,
    Example,
    ExampleRef,
    Guidance,
    Metric,
    RubricFile,
    Scale,
)
from chatanime.prompts import VersionedData

__all__ = [
    "ANCHOR_SCORES",
    "DIMENSIONS",
    "DIMENSION_IDS",
    "DIMENSION_METRICS",
    "DIVERSITY",
    "LANGUAGES",
    "METRICS",
    "AnchorKeyed",
    "Dimension",
    "DiversityRubric",
    "Example",
    "ExampleRef",
    "Guidance",
    "Metric",
    "Rubric",
    "RubricFile",
    "Scale",
    "exclude_anchor_items",
    "load_rubric",
    "parse_rubric",
]

RUBRICS_PACKAGE = "chatanime.data.rubrics"
RUBRIC_NAME = "esrp"
LANGUAGES = ("zh", "en")


class AnchorKeyed(Protocol):
    """Anything that names one system's answer to one dialogue (Dialogue, judgment rows...)."""

    @property
    def system(self) -> str: ...

    @property
    def character(self) -> str: ...

    @property
    def scenario(self) -> int: ...


ItemT = TypeVar("ItemT", bound=AnchorKeyed)


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
        """The compact rubric text a judge prompt embeds (see :mod:`.rubric_render`)."""
        return render_rubric(
            self.spec,
            self.ref,
            include_examples=include_examples,
            include_translations=include_translations,
            include_diversity=include_diversity,
        )


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
