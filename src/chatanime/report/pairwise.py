"""Pairwise-vs-fans results: how often a judge prefers a system's dialogue to the fans'.

The judge mode ``pairwise-vs-fans`` stores one judgment per (system, item, order) with
``opponent = human`` and ``order`` AB or BA, and one ``scores`` row per dimension valued
+1 / 0 / -1 from the *system's* point of view. Here:

* win / tie / loss are shares of the scored judgments (both orders count);
* ``net`` is the mean item verdict (orders averaged first, so an item judged once per order is
  one observation) with the same character x scenario cluster bootstrap as the leaderboard;
* ``flip_share`` is, among items judged in both orders, the share whose verdict changes with
  the order: a position-bias check (a consistent judge scores 0);
* unscored judgments are counted, never dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import select

from chatanime.metrics.stats import Estimate, cluster_bootstrap_ci
from chatanime.store import Store
from chatanime.store import schema as t

MODE = "pairwise-vs-fans"
PAIRWISE_COLUMNS = (
    "judge",
    "system",
    "opponent",
    "order",
    "character",
    "scenario",
    "status",
    "dimension",
    "value",
)


@dataclass(frozen=True)
class PairwiseCell:
    """One system vs the fans on one dimension, by one judge."""

    judge: str
    system: str
    opponent: str
    dimension: str
    n_judgments: int
    n_unscored: int
    win: float
    tie: float
    loss: float
    net: Estimate
    flip_share: float
    n_both_orders: int


@dataclass(frozen=True)
class PairwiseSection:
    cells: tuple[PairwiseCell, ...]

    @property
    def judges(self) -> list[str]:
        return sorted({c.judge for c in self.cells})

    @property
    def dimensions(self) -> list[str]:
        return list(dict.fromkeys(c.dimension for c in self.cells))

    def for_judge(self, judge: str) -> list[PairwiseCell]:
        return [c for c in self.cells if c.judge == judge]


def pairwise_rows(
    store: Store, *, benchmark: str = "chatanime", judges: Sequence[str] | None = None
) -> pd.DataFrame:
    """Long table of pairwise-vs-fans verdicts; an unscored judgment has one row, NaN value."""
    j, s = t.judgments, t.scores
    query = (
        select(
            j.c.judge_model,
            j.c.system,
            j.c.opponent,
            j.c.order,
            j.c.character,
            j.c.scenario,
            j.c.status,
            s.c.metric,
            s.c.value,
        )
        .select_from(j.outerjoin(s, s.c.judgment_id == j.c.id))
        .where(j.c.benchmark == benchmark, j.c.mode == MODE)
    )
    if judges:
        query = query.where(j.c.judge_model.in_(list(judges)))
    with store.engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(query)]
    df = pd.DataFrame(rows, columns=list(PAIRWISE_COLUMNS))
    df.loc[df.status != "scored", "value"] = float("nan")
    return df.astype({"value": "float64"})


def _cell(
    judge: str, system: str, dim: str, grp: pd.DataFrame, n_unscored: int, n_boot: int, seed: int
) -> PairwiseCell:
    v = grp["value"]
    n = int(v.notna().sum())
    items = grp.groupby(["character", "scenario"], as_index=False)["value"].mean()
    net = cluster_bootstrap_ci(
        items["value"].to_numpy(),
        items["character"].to_numpy(),
        items["scenario"].to_numpy(),
        n_boot=n_boot,
        seed=seed,
    )
    both = grp.dropna(subset=["value"]).pivot_table(
        index=["character", "scenario"], columns="order", values="value", aggfunc="first"
    )
    flips, n_both = float("nan"), 0
    if {"AB", "BA"} <= set(both.columns):
        paired = both[["AB", "BA"]].dropna()
        n_both = len(paired)
        if n_both:
            flips = float((paired["AB"] != paired["BA"]).mean())

    def share(x: float) -> float:
        return float((v == x).sum()) / n if n else float("nan")

    opponent = str(grp["opponent"].dropna().iloc[0]) if grp["opponent"].notna().any() else "human"
    return PairwiseCell(
        judge,
        system,
        opponent,
        dim,
        n + n_unscored,
        n_unscored,
        share(1.0),
        share(0.0),
        share(-1.0),
        net,
        flips,
        n_both,
    )


def summarise_pairwise(rows: pd.DataFrame, *, n_boot: int = 2000, seed: int = 0) -> PairwiseSection:
    """Win/tie/loss, net verdict with interval and flip share per judge x system x dimension."""
    if rows.empty:
        return PairwiseSection(())
    unscored = (
        rows[rows.status != "scored"]
        .drop_duplicates(["judge", "system", "character", "scenario", "order"])
        .groupby(["judge", "system"])
        .size()
    )
    scored = rows[(rows.status == "scored") & rows.dimension.notna()]
    cells = []
    for (judge, system, dim), grp in scored.groupby(["judge", "system", "dimension"], sort=True):
        n_un = int(unscored.get((judge, system), 0))
        cells.append(_cell(str(judge), str(system), str(dim), grp, n_un, n_boot, seed))
    order = {"basic": 0, "roleplay": 1, "emotional": 2, "overall": 3}
    cells.sort(key=lambda c: (c.judge, c.system, order.get(c.dimension, 9), c.dimension))
    return PairwiseSection(tuple(cells))
