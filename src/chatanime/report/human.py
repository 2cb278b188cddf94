"""Human annotation studies as report sources: ratings as scores, agreement and calibration.

Each study with ratings becomes its own score source ``human:<study name>`` (one ``ScoreRow``
per rating of a dialogue item, round 0 = whole dialogue; ``item_values`` then averages the
annotators of an item), so human ratings get their own leaderboard and are never mixed with
judge scores. The study's agreement and judge-vs-human calibration come from
``chatanime.annotate.analysis``.

The store is only read: when it has no annotation tables (nobody has created a study), the
report gets no human sources and does not migrate the user's database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
from sqlalchemy import inspect, select

from chatanime.report.scores import METRICS, ScoreRow, frame
from chatanime.store import Store

if TYPE_CHECKING:
    from chatanime.annotate.analysis import StudyAnalysis

STUDIES_TABLE = "annotate_studies"


def study_names(store: Store) -> list[str]:
    """Names of the store's annotation studies (empty when there are no annotation tables)."""
    if not inspect(store.engine).has_table(STUDIES_TABLE):
        return []
    from chatanime.annotate.tables import studies

    with store.engine.connect() as conn:
        return sorted(str(n) for (n,) in conn.execute(select(studies.c.name)))


def human_scores(store: Store, studies: list[str] | None = None) -> pd.DataFrame:
    """Dialogue ratings of every study (or ``studies``) as score rows, source ``human:<study>``."""
    from chatanime.annotate.ratings import rating_records
    from chatanime.annotate.study import DIALOGUE

    rows: list[ScoreRow] = []
    for name in study_names(store) if studies is None else studies:
        for rec in rating_records(store, name):
            if rec.kind != DIALOGUE or rec.scenario is None or rec.metric not in METRICS:
                continue
            rows.append(
                ScoreRow(
                    f"human:{rec.study}",
                    rec.system,
                    rec.character,
                    int(rec.scenario),
                    0,
                    rec.metric,
                    float(rec.value),
                )
            )
    return frame(rows)


def study_analyses(store: Store, *, n_boot: int = 1000, seed: int = 0) -> list[StudyAnalysis]:
    """Agreement and calibration of every study that has ratings."""
    from chatanime.annotate.analysis import analyse_study

    out = []
    for name in study_names(store):
        analysis = analyse_study(store, name, n_boot=n_boot, seed=seed)
        if analysis.n_ratings:
            out.append(analysis)
    return out
