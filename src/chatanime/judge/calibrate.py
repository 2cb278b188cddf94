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

Item scores follow :func:`chatanime.annotate.analysis.judge_item_scores` (round 0 if
present, else the mean of rounds 1 and 2, averaged over repeated judgments); the human
score of an item is the mean over its annotators, who rate the whole dialogue.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from sqlalchemy import select

from chatanime.annotate import ensure_schema
from chatanime.annotate.analysis import HumanScores, human_item_scores, judge_item_scores
from chatanime.annotate.ratings import RatingRecord, rating_records
from chatanime.annotate.study import DIALOGUE, find_study
from chatanime.annotate.tables import items as study_items
from chatanime.backends.base import GenerationParams
from chatanime.benchmark import Benchmark, load_benchmark
from chatanime.corpus import Corpus
from chatanime.dialogue import Dialogue
from chatanime.judge.job import JudgeJob, JudgeReport, judge_async
from chatanime.judge.judgments import ModelFactory
from chatanime.judge.pairwise import OPPONENT
from chatanime.judge.pairwise_job import PairwiseJob, PairwiseReport, judge_pairwise_async
from chatanime.judge.rubric import METRICS
from chatanime.metrics.agreement import Correlations, correlations
from chatanime.metrics.calibration import (
    CalibrationReport,
    MonotoneCalibrator,
    cross_validated_calibration,
    fit_monotone,
)
from chatanime.pricing import PriceTable
from chatanime.report.scores import ScoreRow, frame
from chatanime.runner import RunOptions
from chatanime.store import Store
from chatanime.store.schema import judgments

ItemKey = tuple[str, str, int]  # system, character, scenario
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


# ---------------------------------------------------------------- a study's ratings


@dataclass(frozen=True)
class StudyRatings:
    """One study: its configuration, every rating, and the dialogues it showed."""

    name: str
    study_id: str
    config: Mapping[str, Any]
    records: tuple[RatingRecord, ...]
    dialogues: Mapping[ItemKey, Dialogue]
    """The study's dialogue items as snapshotted at creation (what annotators saw)."""

    @property
    def benchmark(self) -> str:
        return str(self.config.get("benchmark", "chatanime"))

    @property
    def language(self) -> str:
        return str(self.config.get("language", "zh"))

    def humans(self, metric: str) -> HumanScores:
        """Item -> annotator -> rating of ``metric`` (dialogue items only)."""
        return human_item_scores(self.records, metric)

    def human_means(self, metric: str) -> dict[ItemKey, float]:
        return {k: float(np.mean(list(v.values()))) for k, v in self.humans(metric).items()}


def load_study(store: Store, study: str) -> StudyRatings:
    """A study by id or name (``DataError`` naming the known ones otherwise)."""
    ensure_schema(store)
    with store.engine.connect() as conn:
        row = find_study(conn, study)
        snapshots = conn.execute(
            select(
                study_items.c.system,
                study_items.c.character,
                study_items.c.scenario,
                study_items.c.payload_json,
            ).where(study_items.c.study_id == row.id, study_items.c.kind == DIALOGUE)
        ).all()
    dialogues = {}
    for system, character, scenario, payload in snapshots:
        turns = json.loads(payload)
        dialogues[(system, character, int(scenario))] = Dialogue(
            system=system, character=character, scenario=int(scenario), **turns
        )
    records = tuple(rating_records(store, row.id))
    return StudyRatings(row.name, row.id, json.loads(row.config_json), records, dialogues)


def all_judge_item_scores(
    store: Store, judge: str, benchmark: str
) -> dict[str, dict[ItemKey, float]]:
    """Metric -> item -> the judge's pointwise item score, for every item it scored."""
    query = select(judgments.c.system, judgments.c.character).where(
        judgments.c.judge_model == judge, judgments.c.benchmark == benchmark
    )
    with store.engine.connect() as conn:
        pairs = conn.execute(query.distinct()).all()
    scope: dict[str, object] = {
        "benchmark": benchmark,
        "systems": sorted({p.system for p in pairs}),
        "characters": sorted({p.character for p in pairs}),
    }
    return judge_item_scores(store.engine, scope, judge).get(judge, {})


def overall_scores(per_metric: Mapping[str, Mapping[ItemKey, float]]) -> dict[ItemKey, float]:
    """Items scored on all 9 metrics -> the mean of the 9."""
    common = set.intersection(*(set(per_metric.get(m, {})) for m in METRICS))
    return {k: float(np.mean([per_metric[m][k] for m in METRICS])) for k in common}


def overall_humans(ratings: StudyRatings) -> HumanScores:
    """Item -> annotator -> the annotator's mean over the 9 metrics (all 9 rated)."""
    per: dict[tuple[ItemKey, str], list[float]] = defaultdict(list)
    for metric in METRICS:
        for item, by_person in ratings.humans(metric).items():
            for person, value in by_person.items():
                per[(item, person)].append(value)
    out: HumanScores = defaultdict(dict)
    for (item, person), values in per.items():
        if len(values) == len(METRICS):
            out[item][person] = float(np.mean(values))
    return dict(out)


# ---------------------------------------------------------------- judging a study's items


@dataclass
class StudyJudging:
    """The judge runs over a study's items; ``note`` says why pairwise was skipped."""

    pointwise: JudgeReport
    pairwise: PairwiseReport | None
    note: str | None = None

    @property
    def complete(self) -> bool:
        return self.pointwise.complete and (self.pairwise is None or self.pairwise.complete)


async def judge_study_async(
    store: Store,
    study: str,
    judges: Sequence[str],
    *,
    models: ModelFactory,
    options: RunOptions | None = None,
    prices: PriceTable | None = None,
    pairwise: bool = False,
    fans: Corpus | None = None,
    benchmark: Benchmark | None = None,
    language: str | None = None,
    params: GenerationParams | None = None,
) -> StudyJudging:
    """Judge (or finish judging) the dialogues a study showed its annotators.

    The study's snapshots are judged, so scores match exactly what people rated. With
    ``pairwise`` each non-fan item is also compared with the fans' dialogue of its
    character and scenario: from the study when it includes ``human``, else from ``fans``.
    Anchor dialogues of the rubric are left out, as in every judge run.
    """
    ratings = load_study(store, study)
    bench = benchmark or load_benchmark(ratings.benchmark)
    config = ratings.config
    scope: dict[str, Any] = {
        "systems": tuple(config["systems"]),
        "characters": tuple(config["characters"]),
        "scenarios": tuple(int(s) for s in config["scenarios"]),
        "language": language,
        "params": params or GenerationParams(temperature=0.0),
    }
    corpus = Corpus(ratings.dialogues.values(), bench)
    job = JudgeJob(judges=tuple(judges), benchmark=bench, **scope)
    run: dict[str, Any] = {"models": models, "options": options, "prices": prices}
    run["run_config"] = {"study": ratings.name}
    report = await judge_async(job, corpus, store, **run)
    if not pairwise:
        return StudyJudging(report, None)
    pairs = _with_fans(corpus, fans)
    if not any(d.system == OPPONENT for d in pairs.dialogues):
        return StudyJudging(report, None, "no fans' dialogues for the study's items")
    pjob = PairwiseJob(judges=tuple(judges), benchmark=bench, **scope)
    compared = await judge_pairwise_async(pjob, pairs, store, **run)
    return StudyJudging(report, compared)


def _with_fans(corpus: Corpus, fans: Corpus | None) -> Corpus:
    """The study's dialogues plus the fans' dialogues of its items it does not hold."""
    if fans is None:
        return corpus
    wanted = {(d.character, d.scenario) for d in corpus.dialogues}
    extra = [
        d
        for d in fans.dialogues
        if d.system == OPPONENT
        and (d.character, d.scenario) in wanted
        and corpus.get(OPPONENT, d.character, d.scenario) is None
    ]
    return Corpus([*corpus.dialogues, *extra], corpus.benchmark)


def judge_study(store: Store, study: str, judges: Sequence[str], **kwargs: Any) -> StudyJudging:
    """Synchronous :func:`judge_study_async` (the CLI's entry point)."""
    return asyncio.run(judge_study_async(store, study, judges, **kwargs))


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
