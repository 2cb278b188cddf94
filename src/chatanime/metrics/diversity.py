"""Automatic response diversity: is a system's voice varied, or does it repeat itself?

The study's fans wrote visibly more varied answers than the LLMs; these metrics quantify that
without judges. Each metric is a pure function of one *group* of answers (``Sequence[str]``,
defined in :mod:`chatanime.metrics.diversity_measures`); :func:`diversity_table` computes them
for every system over two groupings and summarises them (the computation itself, with its
worker processes, is :mod:`chatanime.metrics.diversity_pipeline`). Every public name of those
two modules that callers use is re-exported here, so ``chatanime.metrics.diversity`` stays the
one import for diversity.

Groupings (both rounds together unless ``rounds`` says otherwise):

* ``character``: one group per (system, character) = its answers to the 60 scenarios — does the
  system vary what a character says across situations?
* ``scenario``: one group per (system, scenario) = the 20 characters' answers — do different
  characters sound different in the same situation?

A system's value is the mean over its groups; std (sample, ddof=1), min and max give the spread.
The metrics (distinct-n, its equal-size version, MATTR, self-BLEU, compression) are defined in
:mod:`chatanime.metrics.diversity_measures`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import astuple, dataclass, field, fields
from functools import cached_property
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from chatanime.metrics.diversity_measures import (
    DISTINCT_N,
    WINDOWS,
    Metric,
    compressed_size,
    compressed_sizes,
    compression_ratio,
    distinct_counts,
    distinct_n,
    distinct_n_equal_size,
    expected_types,
    mattr,
    mattr_values,
    metrics_for,
    resolve_units,
)
from chatanime.metrics.diversity_pipeline import AnswerGroups, StageClock, compute_metrics
from chatanime.metrics.selfbleu import Floats
from chatanime.metrics.tokens import check_language, default_workers

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DISTINCT_N",
    "GROUPINGS",
    "HUMAN",
    "WINDOWS",
    "AnswerLike",
    "DiversityRow",
    "DiversityTable",
    "GroupValue",
    "Grouping",
    "Metric",
    "compressed_size",
    "compressed_sizes",
    "compression_ratio",
    "distinct_counts",
    "distinct_n",
    "distinct_n_equal_size",
    "diversity_table",
    "expected_types",
    "mattr",
    "mattr_values",
    "metrics_for",
]

HUMAN = "human"
Grouping = Literal["character", "scenario"]
GROUPINGS: tuple[Grouping, ...] = ("character", "scenario")


class AnswerLike(Protocol):
    """What the table needs of an answer (``chatanime.corpus.Answer`` is one)."""

    @property
    def system(self) -> str: ...
    @property
    def character(self) -> str: ...
    @property
    def scenario(self) -> int: ...
    @property
    def round(self) -> int: ...
    @property
    def text(self) -> str: ...


# --- the table -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupValue:
    """One metric's value for one group (e.g. deepseek-v3 x luffy)."""

    system: str
    grouping: str
    group: str
    metric: str
    value: float


@dataclass(frozen=True, slots=True)
class DiversityRow:
    """A system's summary of one metric over its groups (NaN groups are left out)."""

    system: str
    metric: str
    grouping: str
    mean: float
    std: float
    min: float
    max: float
    n_groups: int


@dataclass(frozen=True)
class DiversityTable:
    """Per-group values and per-system summaries of every diversity metric.

    ``sample_sizes[(grouping, metric)]`` is the K of the equal-size metrics; ``timings`` and
    ``cpu_timings`` the wall and CPU seconds of this process per stage (for benchmarks).
    """

    language: str
    rounds: tuple[int, ...]
    metrics: tuple[Metric, ...]
    systems: tuple[str, ...]
    groupings: tuple[str, ...]
    values: tuple[GroupValue, ...]
    rows: tuple[DiversityRow, ...]
    sample_sizes: Mapping[tuple[str, str], int] = field(default_factory=dict)
    timings: Mapping[str, float] = field(default_factory=dict)
    cpu_timings: Mapping[str, float] = field(default_factory=dict)

    def metric(self, metric_id: str) -> Metric:
        for m in self.metrics:
            if m.id == metric_id:
                return m
        known = ", ".join(m.id for m in self.metrics)
        raise KeyError(f"unknown diversity metric {metric_id!r}; known: {known}")

    @cached_property
    def _rows_by_key(self) -> dict[tuple[str, str, str], DiversityRow]:
        return {(r.system, r.metric, r.grouping): r for r in self.rows}

    def row(self, system: str, metric: str, grouping: str = "character") -> DiversityRow:
        """The summary of ``metric`` for ``system`` over the groups of ``grouping``."""
        try:
            return self._rows_by_key[system, metric, grouping]
        except KeyError:
            raise KeyError(
                f"no row for system {system!r}, metric {metric!r}, grouping {grouping!r}"
            ) from None

    def ranking(self, metric: str, grouping: str = "character") -> list[str]:
        """Systems from most to least diverse on ``metric`` (systems without a value last)."""
        sign = 1.0 if self.metric(metric).higher_is_more_diverse else -1.0

        def key(system: str) -> float:
            mean = self.row(system, metric, grouping).mean
            return -sign * mean if mean == mean else float("inf")

        return sorted(self.systems, key=key)

    def best(self, metric: str, grouping: str = "character") -> str:
        return self.ranking(metric, grouping)[0]

    def human_ranks_first(self, metric: str, grouping: str = "character") -> bool:
        """Is ``human`` strictly more diverse than every other system on ``metric``?"""
        if HUMAN not in self.systems:
            raise KeyError(f"system {HUMAN!r} is not in the table")
        sign = 1.0 if self.metric(metric).higher_is_more_diverse else -1.0
        own = sign * self.row(HUMAN, metric, grouping).mean
        others = [sign * self.row(s, metric, grouping).mean for s in self.systems if s != HUMAN]
        return all(own > other for other in others)

    def to_dataframe(self) -> pd.DataFrame:
        """One row per (system, metric, grouping) with mean, std, min, max, n_groups."""
        import pandas as pd

        return pd.DataFrame(
            [astuple(r) for r in self.rows], columns=[f.name for f in fields(DiversityRow)]
        )

    def values_dataframe(self) -> pd.DataFrame:
        """One row per (system, grouping, group, metric): the per-group values."""
        import pandas as pd

        return pd.DataFrame(
            [astuple(v) for v in self.values], columns=[f.name for f in fields(GroupValue)]
        )


def _grouping(items: Sequence[AnswerLike], name: str) -> AnswerGroups:
    if name not in GROUPINGS:
        raise ValueError(f"unknown grouping {name!r}; use one of {', '.join(GROUPINGS)}")
    ids: dict[tuple[str, str], int] = {}
    if name == "character":
        index = [ids.setdefault((a.system, a.character), len(ids)) for a in items]
    else:
        index = [ids.setdefault((a.system, str(a.scenario)), len(ids)) for a in items]
    return AnswerGroups(name, np.asarray(index, dtype=np.int64), list(ids))


def _row(system: str, metric: str, grouping: str, values: Floats) -> DiversityRow:
    ok = values[~np.isnan(values)]
    if not ok.size:
        nan = float("nan")
        return DiversityRow(system, metric, grouping, nan, nan, nan, nan, 0)
    std = float(ok.std(ddof=1)) if ok.size > 1 else float("nan")
    return DiversityRow(
        system, metric, grouping, float(ok.mean()), std, float(ok.min()), float(ok.max()), ok.size
    )


def _summaries(
    values: Mapping[tuple[str, str], Floats],
    groups: Sequence[AnswerGroups],
    metrics: Sequence[Metric],
    systems: Sequence[str],
) -> tuple[list[GroupValue], list[DiversityRow]]:
    out_values: list[GroupValue] = []
    rows: list[DiversityRow] = []
    for gr in groups:
        owner = np.array([system for system, _ in gr.labels])
        for metric in metrics:
            vals = values[gr.name, metric.id]
            out_values += [
                GroupValue(s, gr.name, label, metric.id, v)
                for (s, label), v in zip(gr.labels, vals.tolist(), strict=True)
            ]
            rows += [_row(s, metric.id, gr.name, vals[owner == s]) for s in systems]
    return out_values, rows


def _answers_in_rounds(answers: Iterable[AnswerLike], rounds: Sequence[int]) -> list[AnswerLike]:
    """The answers of ``rounds`` in a fixed order (system, character, scenario, round), which
    is the order of each group's concatenation for MATTR and compression."""
    wanted = set(rounds)
    items = sorted(
        (a for a in answers if a.round in wanted),
        key=lambda a: (a.system, a.character, a.scenario, a.round),
    )
    if not items:
        raise ValueError(f"no answers in rounds {sorted(wanted)} to compute diversity on")
    return items


def diversity_table(
    answers: Iterable[AnswerLike],
    language: str = "zh",
    *,
    groupings: Sequence[str] = GROUPINGS,
    rounds: Sequence[int] = (1, 2),
    units: Sequence[str] | None = None,
    workers: int | None = None,
    windows: Mapping[str, int] | None = None,
) -> DiversityTable:
    """Every diversity metric per (system, character) and/or (system, scenario) group.

    ``rounds`` selects the answers ((1, 2) = both rounds in one group); ``units`` the token
    units (default: all of the language's); ``windows`` overrides the MATTR window per unit.
    ``workers`` > 1 forks that many processes to segment words and compress while this one
    computes the metrics; 1 does everything here (default: 2 for large inputs on a machine
    with 2+ cores, else 1). The result does not depend on it.
    """
    check_language(language)
    chosen = resolve_units(language, units)
    clock = StageClock()
    items = _answers_in_rounds(answers, rounds)
    texts = [a.text for a in items]
    groups = [_grouping(items, name) for name in dict.fromkeys(groupings)]
    systems = sorted({a.system for a in items}, key=lambda s: (s != HUMAN, s))
    metrics = metrics_for(language, chosen)
    clock.lap("prepare")
    n_workers = default_workers(len(texts)) if workers is None else max(1, workers)
    values, sizes = compute_metrics(
        texts, groups, language, chosen, n_workers, windows or {}, clock
    )
    group_values, rows = _summaries(values, groups, metrics, systems)
    clock.lap("summarise")
    return DiversityTable(
        language=language,
        rounds=tuple(sorted({a.round for a in items})),
        metrics=metrics,
        systems=tuple(systems),
        groupings=tuple(g.name for g in groups),
        values=tuple(group_values),
        rows=tuple(rows),
        sample_sizes=sizes,
        timings=clock.laps,
        cpu_timings=clock.cpu,
    )
