"""Leaderboard numbers: means with cluster-bootstrap intervals, paired tests, tied ranks.

Everything is computed within one score source (see ``report.scores``). The
unit is the item (system x character x scenario); a dimension's item value is
the mean of its three metrics and ``overall`` the mean of all nine, so every
level is aggregated the same way and unscored items are counted at each level.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from chatanime.metrics.stats import (
    Estimate,
    PairedResult,
    RankInfo,
    cluster_bootstrap_ci,
    holm,
    paired_compare,
    ranks_with_ties,
)
from chatanime.report.scores import DIMENSIONS, METRICS, item_values

LEVELS: tuple[str, ...] = (*METRICS, *DIMENSIONS, "overall")
PersonaOf = Callable[[int], str]


@dataclass(frozen=True)
class Cell:
    """One leaderboard number."""

    source: str
    system: str
    level: str  # a metric, a dimension, or "overall"
    estimate: Estimate
    rank: RankInfo | None = None


@dataclass(frozen=True)
class Comparison:
    """``system`` minus ``baseline`` on matched items for one level, Holm-adjusted."""

    source: str
    system: str
    baseline: str
    level: str
    result: PairedResult
    p_holm: float


@dataclass
class Leaderboard:
    """All numbers of one source."""

    source: str
    cells: list[Cell] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    by_character: pd.DataFrame = field(default_factory=pd.DataFrame)
    by_persona: pd.DataFrame = field(default_factory=pd.DataFrame)

    def cell(self, system: str, level: str) -> Cell | None:
        for c in self.cells:
            if c.system == system and c.level == level:
                return c
        return None

    @property
    def systems(self) -> list[str]:
        overall = [c for c in self.cells if c.level == "overall"]
        ordered = sorted(overall, key=lambda c: c.rank.order if c.rank else 10**6)
        return [c.system for c in ordered]


def level_values(items: pd.DataFrame) -> pd.DataFrame:
    """Item values for every level (metrics, dimensions, overall) in one long table.

    Only the items a source has (scored or unscored) appear: ``pivot``, not a pivot table
    with ``dropna=False``, which would fill the whole system x character x scenario grid and
    count a study's unrated items, or a calibrated source's rated ones, as unscored.
    """
    wide = items.pivot(index=["system", "character", "scenario"], columns="metric", values="value")
    for dim, metrics in DIMENSIONS.items():
        present = [m for m in metrics if m in wide.columns]
        if present:
            wide[dim] = wide[present].mean(axis=1, skipna=False)
    present_all = [m for m in METRICS if m in wide.columns]
    if present_all:
        wide["overall"] = wide[present_all].mean(axis=1, skipna=False)
    long = wide.reset_index().melt(
        id_vars=["system", "character", "scenario"], var_name="level", value_name="value"
    )
    return long[long["level"].isin(LEVELS)]


def _estimates(values: pd.DataFrame, n_boot: int, seed: int) -> dict[tuple[str, str], Estimate]:
    out = {}
    for (system, level), grp in values.groupby(["system", "level"], sort=False):
        out[(str(system), str(level))] = cluster_bootstrap_ci(
            grp["value"].to_numpy(),
            grp["character"].to_numpy(),
            grp["scenario"].to_numpy(),
            n_boot=n_boot,
            seed=seed,
        )
    return out


def compare(
    values: pd.DataFrame, system: str, baseline: str, source: str, *, method: str = "wilcoxon"
) -> list[Comparison]:
    """Paired test of ``system`` vs ``baseline`` per level, Holm across the nine metrics.

    Items are matched on (character, scenario); dimensions and overall are
    adjusted as their own family of four.
    """
    a = values[values.system == system].set_index(["character", "scenario", "level"])["value"]
    b = values[values.system == baseline].set_index(["character", "scenario", "level"])["value"]
    joined = pd.concat([a.rename("x"), b.rename("y")], axis=1, join="inner").reset_index()
    results: list[tuple[str, PairedResult]] = []
    for level in LEVELS:
        sub = joined[joined.level == level]
        if len(sub) < 2:
            continue
        res = paired_compare(sub["x"].to_numpy(), sub["y"].to_numpy(), method=method)  # type: ignore[arg-type]
        results.append((level, res))
    out: list[Comparison] = []
    for family in (set(METRICS), set(LEVELS) - set(METRICS)):
        fam = [(lvl, r) for lvl, r in results if lvl in family]
        adjusted = holm(np.array([r.p_value for _, r in fam])) if fam else np.array([])
        out.extend(
            Comparison(source, system, baseline, lvl, r, float(p))
            for (lvl, r), p in zip(fam, adjusted, strict=True)
        )
    return out


def breakdown(values: pd.DataFrame, key: str) -> pd.DataFrame:
    """Mean and count per system x ``key`` (character or persona) for the overall and dimensions."""
    sub = values[values.level.isin((*DIMENSIONS, "overall"))]
    grouped = sub.groupby(["system", key, "level"], as_index=False)
    result: pd.DataFrame = grouped.agg(mean=("value", "mean"), n=("value", "count"))
    return result


def build_leaderboard(
    scores: pd.DataFrame,
    source: str,
    *,
    persona_of: PersonaOf,
    baseline: str | None = "human",
    pairs: Sequence[tuple[str, str]] = (),
    n_boot: int = 2000,
    seed: int = 0,
) -> Leaderboard:
    """Everything the report shows for one source."""
    items = item_values(scores[scores.source == source])
    values = level_values(items)
    estimates = _estimates(values, n_boot, seed)
    board = Leaderboard(source)
    for level in LEVELS:
        per_system = {s: e for (s, lvl), e in estimates.items() if lvl == level}
        ranks = ranks_with_ties(per_system)
        board.cells.extend(Cell(source, s, level, e, ranks[s]) for s, e in per_system.items())
    systems = sorted(values.system.unique())
    if baseline is not None and baseline in systems:
        for s in systems:
            if s != baseline:
                board.comparisons.extend(compare(values, s, baseline, source))
    for a, b in pairs:
        board.comparisons.extend(compare(values, a, b, source))
    board.by_character = breakdown(values, "character")
    board.by_persona = breakdown(values.assign(persona=values.scenario.map(persona_of)), "persona")
    return board
