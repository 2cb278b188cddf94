"""Judge calibration on human ratings, as report sections and a score source of their own.

When a study of the annotation app has ratings, each judge is calibrated on it
(:func:`chatanime.judge.calibrate.calibrate_scores`: per metric a monotone map from the
judge's item scores to the mean human rating, k-fold validated) and the map is applied to
the items the study did not rate. The report shows, per judge x study, the fit (rated
pairs, MAE / Spearman / Pearson before -> after on held-out folds) and a separate
leaderboard of the calibrated scores, source ``judge:<model>:calibrated`` (with
``@<study>`` when a judge is calibrated on several studies, so they are never pooled).
Without ratings nothing is fitted and the report says the judge scores are uncalibrated.

The judges' item scores come from the rows the report has already read
(:class:`~chatanime.report.scores.StoredJudgments`), computed column-wise; they follow
:func:`chatanime.annotate.analysis.judge_item_scores` (round 0 if present, else the mean of
rounds 1 and 2; repeated judgments of an item averaged).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from chatanime.report.scores import METRICS, StoredJudgments
from chatanime.store import Store

if TYPE_CHECKING:
    from chatanime.judge.calibrate import CalibrationResult, StudyRatings

ItemTable = dict[str, dict[str, dict[tuple[str, str, int], float]]]
"""judge -> metric -> (system, character, scenario) -> item score."""


@dataclass(frozen=True)
class JudgeCalibrationSection:
    """One judge calibrated on one study, and the label of its calibrated scores."""

    result: CalibrationResult
    source: str

    @property
    def judge(self) -> str:
        return self.result.judge

    @property
    def study(self) -> str:
        return self.result.study or ""

    @property
    def calibrated(self) -> bool:
        return self.result.status == "calibrated"

    @property
    def uncalibrated_metrics(self) -> list[str]:
        return [m.metric for m in self.result.metrics if not m.calibrated]

    @property
    def audit_command(self) -> str:
        """The CLI that audits this judge against the same ratings (bias, length, position)."""
        return f"chatanime judge audit --judge {self.judge} --study {self.study}"

    def frame(self) -> pd.DataFrame:
        """The calibrated scores of the unrated items under this section's source label."""
        return self.result.frame().assign(source=self.source)


def judge_item_table(stored: StoredJudgments) -> ItemTable:
    """Every judge's pointwise item score per metric, from rows already read."""
    rows = stored.scored()
    rows = rows[rows["metric"].isin(METRICS)]
    if rows.empty:
        return {}
    key = ["id", "metric"]
    whole = rows[rows["round"] == 0].set_index(key)["value"]
    halves = rows[rows["round"].isin((1, 2))].groupby(key, sort=False)["value"].mean()
    per_judgment = whole.combine_first(halves).rename("value").reset_index()
    owners = stored.judgments[["id", "judge_model", "system", "character", "scenario"]]
    items = per_judgment.merge(owners, on="id", how="inner", sort=False)
    means = items.groupby(["judge_model", "metric", "system", "character", "scenario"])[
        "value"
    ].mean()
    keys: list[tuple[str, str, str, str, int]] = means.index.tolist()
    table: ItemTable = defaultdict(lambda: defaultdict(dict))
    for (judge, metric, system, character, scenario), value in zip(
        keys, means.tolist(), strict=True
    ):
        table[str(judge)][str(metric)][(str(system), str(character), int(scenario))] = float(value)
    return {judge: dict(by_metric) for judge, by_metric in table.items()}


def rated_studies(store: Store, benchmark: str) -> list[StudyRatings]:
    """The store's studies of ``benchmark`` that have ratings (none without annotation tables)."""
    from chatanime.judge.calibrate import load_study
    from chatanime.report.human import study_names

    loaded = [load_study(store, name) for name in study_names(store)]
    return [s for s in loaded if s.records and s.benchmark == benchmark]


def calibrate_judges(
    store: Store, stored: StoredJudgments, *, benchmark: str, seed: int = 0
) -> list[JudgeCalibrationSection]:
    """Every judge with pointwise scores, calibrated on every rated study of ``benchmark``."""
    studies = rated_studies(store, benchmark)
    if not studies or stored.judgments.empty:
        return []
    from chatanime.judge.calibrate import calibrate_scores, calibrated_source

    table = judge_item_table(stored)
    out = []
    for judge in sorted(table):
        for study in studies:
            result = calibrate_scores(study, judge, table[judge], seed=seed)
            source = calibrated_source(judge)
            if len(studies) > 1:
                source += f"@{study.name}"
            out.append(JudgeCalibrationSection(result, source))
    return out


def calibrated_scores(sections: list[JudgeCalibrationSection]) -> list[pd.DataFrame]:
    """The calibrated score tables, one per calibrated judge x study."""
    return [s.frame() for s in sections if s.calibrated and s.result.rows]
