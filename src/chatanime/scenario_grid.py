"""The grid a generated benchmark is drawn from, and how evenly it was filled.

The study's scenarios cover four user personas and nine emotions; a generated
benchmark should too, or its averages quietly over-weight whatever the writer
model found easy. The grid crosses personas x emotions x locations with
``per_cell`` scenarios each, and :class:`GridBalance` counts what survived the
checks and near-duplicate removal per (persona, emotion), flagging empty and
under-filled pairs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from chatanime.errors import DataError
from chatanime.runner import stable_hash
from chatanime.scenarios import Emotion, Persona, validation_message

DEFAULT_LOCATIONS: dict[str, tuple[str, ...]] = {
    "zh": ("家里", "宿舍", "图书馆", "食堂", "公司会议室", "地铁上", "咖啡馆", "店里"),
    "en": ("home", "dorm room", "library", "cafeteria", "meeting room", "subway", "café", "shop"),
}
"""Everyday places; the grid crosses them with every persona, so none is persona-specific."""


class GridCell(BaseModel):
    """One unit of the grid: the ``variant``-th scenario of (persona, emotion, location)."""

    model_config = ConfigDict(frozen=True)

    persona: Persona
    emotion: Emotion
    location: str
    variant: int = Field(ge=1)

    @property
    def key(self) -> str:
        return f"{self.persona}:{self.emotion}:{stable_hash(self.location, 10)}:{self.variant}"


class ScenarioGrid(BaseModel):
    """Personas x emotions x locations, ``per_cell`` scenarios each (a grid YAML's schema)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    personas: tuple[Persona, ...] = tuple(Persona)
    emotions: tuple[Emotion, ...] = tuple(Emotion)
    locations: tuple[str, ...] = Field(min_length=1)
    per_cell: int = Field(default=1, ge=1)

    @field_validator("personas", "emotions", "locations")
    @classmethod
    def _non_empty_unique(cls, value: tuple[Any, ...]) -> tuple[Any, ...]:
        if isinstance(value[0] if value else None, Persona | Emotion):
            value = tuple(dict.fromkeys(value))
        else:
            value = tuple(dict.fromkeys(str(v).strip() for v in value))
        if not value or any(v == "" for v in value):
            raise ValueError("must be a non-empty list of non-empty values")
        return value

    @classmethod
    def default(cls, language: str, **overrides: Any) -> ScenarioGrid:
        """All personas and emotions, the language's default locations, one per cell."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return cls.model_validate({"locations": DEFAULT_LOCATIONS[language], **given})

    def cells(self) -> list[GridCell]:
        """Every unit in grid order (persona, emotion, location, variant): ids follow it."""
        return [
            GridCell(persona=p, emotion=e, location=loc, variant=k)
            for p in self.personas
            for e in self.emotions
            for loc in self.locations
            for k in range(1, self.per_cell + 1)
        ]

    @property
    def target_per_pair(self) -> int:
        """Scenarios wanted per (persona, emotion) pair."""
        return len(self.locations) * self.per_cell


def build_grid(language: str, path: Path | None = None, **overrides: Any) -> ScenarioGrid:
    """The default grid, updated by a grid YAML (``personas``, ``emotions``, ``locations``,
    ``per_cell``; all optional) and then by ``overrides`` that are not ``None`` (the
    command-line options). Problems are ``DataError`` naming the file (or the options).
    """
    raw: Any = {}
    source = str(path) if path is not None else "grid options"
    if path is not None:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise DataError(f"{path}: cannot read the grid file ({exc})") from exc
        if not isinstance(raw, dict):
            raise DataError(f"{path}: a grid file is a mapping (personas, emotions, locations)")
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return ScenarioGrid.default(language, **{**raw, **given})
    except ValidationError as exc:
        raise DataError(validation_message(source, exc)) from exc


@dataclass(frozen=True)
class GridBalance:
    """Scenarios per (persona, emotion) and per location, against the grid's target."""

    personas: tuple[Persona, ...]
    emotions: tuple[Emotion, ...]
    target: int
    counts: Mapping[tuple[Persona, Emotion], int]
    locations: Mapping[str, int]

    @classmethod
    def of(cls, grid: ScenarioGrid, cells: Iterable[GridCell]) -> GridBalance:
        """Count the cells that produced a kept scenario."""
        cells = list(cells)
        pairs = Counter((c.persona, c.emotion) for c in cells)
        places = Counter(c.location for c in cells)
        return cls(
            personas=grid.personas,
            emotions=grid.emotions,
            target=grid.target_per_pair,
            counts={(p, e): pairs[(p, e)] for p in grid.personas for e in grid.emotions},
            locations={loc: places[loc] for loc in grid.locations},
        )

    def count(self, persona: Persona, emotion: Emotion) -> int:
        return self.counts.get((persona, emotion), 0)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def empty(self) -> list[tuple[Persona, Emotion]]:
        """Pairs with no scenario at all: the benchmark cannot be sliced by them."""
        return [pair for pair, n in self.counts.items() if n == 0]

    def underfilled(self) -> list[tuple[Persona, Emotion]]:
        """Pairs with some but fewer scenarios than the grid asked for."""
        return [pair for pair, n in self.counts.items() if 0 < n < self.target]
