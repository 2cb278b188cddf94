"""LLM-judged Response Diversity (judge mode ``diversity``): a 1-5 score per answer set.

The judge rates one system's sampled answers for one character (``scenario = 0``, one
``scores`` row ``(round 0, 'diversity')``). Per judge and system the report shows the mean
over characters with a bootstrap interval over characters (the only cluster), and tied
ranks, beside — never mixed with — the automatic diversity metrics. Unscored sets count.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import select

from chatanime.metrics.stats import Estimate, RankInfo, cluster_bootstrap_ci, ranks_with_ties
from chatanime.store import Store
from chatanime.store import schema as t

MODE = "diversity"


@dataclass(frozen=True)
class JudgedDiversity:
    """One judge's diversity scores per system (source ``judge:<model>:diversity``)."""

    judge: str
    estimates: dict[str, Estimate]
    ranks: dict[str, RankInfo]

    @property
    def source(self) -> str:
        return f"judge:{self.judge}:diversity"

    @property
    def systems(self) -> list[str]:
        return sorted(self.estimates, key=lambda s: self.ranks[s].order)


def judged_diversity_rows(
    store: Store, *, benchmark: str = "chatanime", judges: Sequence[str] | None = None
) -> pd.DataFrame:
    """judge, system, character, value (NaN for an unscored set)."""
    j, s = t.judgments, t.scores
    query = (
        select(j.c.judge_model, j.c.system, j.c.character, j.c.status, s.c.value)
        .select_from(j.outerjoin(s, (s.c.judgment_id == j.c.id) & (s.c.metric == "diversity")))
        .where(j.c.benchmark == benchmark, j.c.mode == MODE)
    )
    if judges:
        query = query.where(j.c.judge_model.in_(list(judges)))
    with store.engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(query)]
    df = pd.DataFrame(rows, columns=["judge", "system", "character", "status", "value"])
    df.loc[df.status != "scored", "value"] = math.nan
    return df.astype({"value": "float64"})


def summarise_judged_diversity(
    rows: pd.DataFrame, *, n_boot: int = 2000, seed: int = 0
) -> list[JudgedDiversity]:
    """Per judge: mean score per system over characters, interval and tied ranks."""
    out = []
    for judge, by_judge in rows.groupby("judge", sort=True):
        estimates = {}
        for system, grp in by_judge.groupby("system", sort=True):
            per_char = grp.groupby("character", as_index=False)["value"].mean()
            estimates[str(system)] = cluster_bootstrap_ci(
                per_char["value"].to_numpy(),
                per_char["character"].to_numpy(),
                np.zeros(len(per_char)),
                n_boot=n_boot,
                seed=seed,
            )
        out.append(JudgedDiversity(str(judge), estimates, ranks_with_ties(estimates)))
    return out
