"""Calibrating a judge on human ratings: a monotone map per metric, validated, then applied.

A judge can order answers much like people do and still use the 1-5 scale differently
(never a 1, everything a point high, a compressed middle). When a study of the annotation
app has rated a subset of the items, :func:`calibrate_judge` fits, per metric, a monotone
map from the judge's item scores to the mean human rating on that subset
(:func:`chatanime.metrics.calibration.fit_monotone`), reports what it buys on items it was
*not* fitted on (k-fold :func:`~chatanime.metrics.calibration.cross_validated_calibration`:
MAE, Spearman, Pearson before and after), and applies it to the judge's scores of every
item the study did not rate. Calibrated scores are a separate score source,
``judge:<model>:calibrated`` (:func:`calibrated_source`), so the report never mixes them
with raw judge scores or with the ratings themselves.

A monotone map keeps the judge's ordering: calibration fixes scale use, not ranking errors
(a judge that rewards length still does after calibration; :mod:`chatanime.judge.audit`
measures that). Without ratings the result says so (``status='uncalibrated'`` and a
reason), which is what the report prints instead of pretending.

The study's ratings and item scores come from :mod:`chatanime.judge.study_ratings`, and
judging a study's items first from :mod:`chatanime.judge.study_judging`; both are
re-exported here, where the CLI and the report import them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from chatanime.judge.rubric import METRICS
from chatanime.judge.study_judging import StudyJudging, judge_study, judge_study_async
from chatanime.judge.study_ratings import (
    ItemKey,
    StudyRatings,
    all_judge_item_scores,
    load_study,
    overall_humans,
    overall_scores,
)
from chatanime.metrics.agreement import Correlations, correlations
from chatanime.metrics.calibration import (
    CalibrationReport,
    MonotoneCalibrator,
    cross_validated_calibration,
    fit_monotone,
)
from chatanime.report.scores import ScoreRow, frame
from chatanime.store import Store

__all__ = [
    "MIN_PAIRS",
    "UNCALIBRATED_NOTE",
    "CalibrationResult",
    "ItemKey",
    "MetricFit",
    "StudyJudging",
    "StudyRatings",
    "all_judge_item_scores",
    "calibrate_judge",
    "calibrate_scores",
    "calibrated_rows",
    "calibrated_source",
    "fit_metric",
    "judge_study",
    "judge_study_async",
    "load_study",
    "overall_humans",
    "overall_scores",
    "uncalibrated",
]

MIN_PAIRS = 10
"""Fewer rated items than this for a metric: no calibration (a map from a handful of points
would move every unrated score on little evidence)."""
UNCALIBRATED_NOTE = (
    "Judge scores are uncalibrated: {reason}. They show how the LLM judge scores, not how "
    "people would."
)


def calibrated_source(judge: str) -> str:
    """The score source of calibrated scores: ``judge:<model>:calibrated``."""
    return f"judge:{judge}:calibrated"


# ---------------------------------------------------------------- calibration


@dataclass(frozen=True)
class MetricFit:
    """One metric's calibration, or why there is none (``note``)."""

    metric: str
    n_pairs: int
    """Rated items the judge also scored."""
    before: Correlations
    """Raw judge vs mean human rating on those items."""
    calibrator: MonotoneCalibrator | None
    cross_validated: CalibrationReport | None
    n_applied: int
    """Unrated items that received a calibrated score."""
    note: str | None = None

    @property
    def calibrated(self) -> bool:
        return self.calibrator is not None


@dataclass(frozen=True)
class CalibrationResult:
    """A judge's calibration on a study; ``rows`` are the calibrated scores of unrated items."""

    judge: str
    study: str | None
    status: Literal["calibrated", "uncalibrated"]
    reason: str | None
    metrics: tuple[MetricFit, ...]
    rows: tuple[ScoreRow, ...]

    @property
    def source(self) -> str:
        return calibrated_source(self.judge)

    @property
    def message(self) -> str:
        """One sentence for the report above the judge's numbers."""
        if self.status == "uncalibrated":
            return UNCALIBRATED_NOTE.format(reason=self.reason or "no human ratings")
        done = [m.metric for m in self.metrics if m.calibrated]
        return (
            f"{self.judge} calibrated on study {self.study!r} for {len(done)} of "
            f"{len(self.metrics)} metrics; calibrated scores are the source {self.source}."
        )

    def calibrators(self) -> dict[str, MonotoneCalibrator]:
        return {m.metric: m.calibrator for m in self.metrics if m.calibrator is not None}

    def frame(self) -> pd.DataFrame:
        """The calibrated scores as the report's long score table."""
        return frame(self.rows)


def uncalibrated(judge: str, study: str | None, reason: str) -> CalibrationResult:
    return CalibrationResult(judge, study, "uncalibrated", reason, (), ())


def fit_metric(
    metric: str,
    human: Mapping[ItemKey, float],
    judge: Mapping[ItemKey, float],
    *,
    k: int = 5,
    seed: int = 0,
    min_pairs: int = MIN_PAIRS,
) -> MetricFit:
    """Fit on the rated items the judge scored; cross-validate when there are enough."""
    rated = sorted(set(human) & set(judge))
    x = np.array([judge[i] for i in rated], dtype=float)
    y = np.array([human[i] for i in rated], dtype=float)
    before = correlations(x, y)
    if len(rated) < max(min_pairs, 2):
        short = f"{len(rated)} rated items scored by the judge; at least {min_pairs} needed"
        return MetricFit(metric, len(rated), before, None, None, 0, short)
    calibrator = fit_monotone(x, y)
    report: CalibrationReport | None = None
    note: str | None = None
    if len(rated) >= 2 * k:
        report = cross_validated_calibration(x, y, k=k, seed=seed)
    else:
        note = f"fitted on {len(rated)} items: too few for {k}-fold validation"
    unrated = [i for i in judge if i not in human]
    return MetricFit(metric, len(rated), before, calibrator, report, len(unrated), note)


def calibrated_rows(
    judge: str, scores: Mapping[str, Mapping[ItemKey, float]], fits: tuple[MetricFit, ...]
) -> list[ScoreRow]:
    source = calibrated_source(judge)
    rows: list[ScoreRow] = []
    for fit in fits:
        if fit.calibrator is None:
            continue
        by_item = scores.get(fit.metric, {})
        keys = sorted(by_item)
        values = fit.calibrator.predict([by_item[key] for key in keys])
        rows.extend(
            ScoreRow(source, s, c, sc, 0, fit.metric, float(v))
            for (s, c, sc), v in zip(keys, values, strict=True)
            if not math.isnan(float(v))
        )
    return rows


def calibrate_judge(
    store: Store,
    judge: str,
    study: str | None,
    *,
    k: int = 5,
    seed: int = 0,
    min_pairs: int = MIN_PAIRS,
) -> CalibrationResult:
    """Per-metric monotone calibration of ``judge`` on ``study``'s ratings, applied to the rest.

    ``study=None`` or a study without ratings gives ``status='uncalibrated'`` with the
    reason; so does a judge that scored none of the rated items.
    """
    if study is None:
        return uncalibrated(judge, None, "no study with human ratings was given")
    ratings = load_study(store, study)
    if not ratings.records:
        return uncalibrated(judge, ratings.name, f"study {ratings.name!r} has no ratings yet")
    scores = all_judge_item_scores(store, judge, ratings.benchmark)
    return calibrate_scores(ratings, judge, scores, k=k, seed=seed, min_pairs=min_pairs)


def calibrate_scores(
    ratings: StudyRatings,
    judge: str,
    scores: Mapping[str, Mapping[ItemKey, float]],
    *,
    k: int = 5,
    seed: int = 0,
    min_pairs: int = MIN_PAIRS,
) -> CalibrationResult:
    """:func:`calibrate_judge` on a loaded study and the judge's item scores at hand.

    ``scores`` is metric -> item -> item score as :func:`all_judge_item_scores` gives it;
    the report computes it for every judge from rows it has already read.
    """
    if not ratings.records:
        return uncalibrated(judge, ratings.name, f"study {ratings.name!r} has no ratings yet")
    fits = [
        fit_metric(
            m, ratings.human_means(m), scores.get(m, {}), k=k, seed=seed, min_pairs=min_pairs
        )
        for m in METRICS
    ]
    if not any(f.calibrated for f in fits):
        reason = f"{judge} scored too few of the items rated in study {ratings.name!r}"
        return CalibrationResult(judge, ratings.name, "uncalibrated", reason, tuple(fits), ())
    rows = calibrated_rows(judge, _unrated(scores, ratings), tuple(fits))
    return CalibrationResult(judge, ratings.name, "calibrated", None, tuple(fits), tuple(rows))


def _unrated(
    scores: Mapping[str, Mapping[ItemKey, float]], ratings: StudyRatings
) -> dict[str, dict[ItemKey, float]]:
    out = {}
    for metric, by_item in scores.items():
        human = ratings.humans(metric)
        out[metric] = {i: v for i, v in by_item.items() if i not in human}
    return out
