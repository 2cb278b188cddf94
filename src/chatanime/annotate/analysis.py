"""Agreement among annotators, and of the LLM judge with them, for one study.

Design decisions (documented because every number depends on them):

* Unit of rating. An annotator rates the *whole two-round dialogue* per metric. The judge
  scores each round (``scores.round`` 1 and 2) or the whole dialogue (round 0); the judge's
  item score is round 0 when present, else the mean of rounds 1 and 2, averaged over repeated
  judgments of the same item.
* Agreement per metric: Krippendorff's alpha (ordinal) on the annotators x items matrix with
  missing cells; ICC(1,1) on items x rating-slots, because in a balanced overlap design each
  item is rated by a *different* subset of annotators (the one-way model's assumption); and
  Cohen's kappa with quadratic weights for every annotator pair on their shared items,
  averaged with weights = shared items. Intervals resample items (bootstrap percentile).
* Calibration per metric: Spearman/Pearson/Kendall between the judge and the mean human
  score over matched items; system-level rank correlation of the per-system means.
* Ceiling: leave-one-annotator-out. For each annotator, the reference is the mean of the
  *other* annotators on the items they share; the annotator's Spearman with that reference is
  the human-human figure, and the judge's Spearman with the *same* reference on the *same*
  items is set beside it, so both face identical noise. Averages over annotators.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Engine, select

from chatanime.annotate import ensure_schema
from chatanime.annotate.ratings import RatingRecord, rating_records
from chatanime.annotate.study import DIALOGUE, find_study
from chatanime.judge.prompt import NO_EXAMPLES
from chatanime.metrics.agreement import (
    Correlations,
    bootstrap_agreement,
    correlations,
    system_rank_correlation,
)
from chatanime.metrics.agreement_replicates import (
    AlphaStatistic,
    OneWayIcc,
    PooledKappa,
)
from chatanime.metrics.agreement_replicates import rating_slots as rating_slots  # re-export
from chatanime.metrics.stats import Estimate
from chatanime.store import Store
from chatanime.store.schema import judgments, scores

FloatArray = NDArray[np.float64]
ItemKey = tuple[str, str, int]  # system, character, scenario


@dataclass(frozen=True)
class RaterMatrix:
    """Ratings of one metric: annotators x items, NaN where an annotator did not rate."""

    metric: str
    annotators: tuple[str, ...]
    items: tuple[str, ...]
    values: FloatArray


@dataclass(frozen=True)
class MetricAgreement:
    metric: str
    n_items: int  # items with at least two ratings
    n_ratings: int
    alpha: Estimate
    icc: Estimate
    kappa: Estimate


@dataclass(frozen=True)
class MetricCalibration:
    metric: str
    item: Correlations
    system_spearman: float
    system_kendall: float
    n_systems: int
    judge_loo: float  # mean Spearman of the judge with the others' mean (per annotator)
    human_ceiling: float  # mean Spearman of each annotator with the others' mean
    n_annotators: int  # annotators contributing to the two figures above


@dataclass(frozen=True)
class JudgeCalibration:
    judge_model: str
    n_items: int  # study dialogue items with a judge score
    metrics: tuple[MetricCalibration, ...]


@dataclass(frozen=True)
class StudyAnalysis:
    study_id: str
    study_name: str
    n_annotators: int
    n_items: int
    n_ratings: int
    agreement: tuple[MetricAgreement, ...]
    calibrations: tuple[JudgeCalibration, ...] = field(default=())


def rater_matrix(records: Sequence[RatingRecord], metric: str) -> RaterMatrix:
    """The annotators x items matrix of ``metric`` (sorted, so results are reproducible)."""
    chosen = [r for r in records if r.metric == metric]
    people = tuple(sorted({r.annotator for r in chosen}))
    item_ids = tuple(sorted({r.item_id for r in chosen}))
    row = {a: i for i, a in enumerate(people)}
    col = {it: j for j, it in enumerate(item_ids)}
    values = np.full((len(people), len(item_ids)), np.nan)
    for r in chosen:
        values[row[r.annotator], col[r.item_id]] = float(r.value)
    return RaterMatrix(metric, people, item_ids, values)


# The three coefficients are BatchedStatistics: bootstrap_agreement scores all replicates at
# once (same draws, same values; see chatanime.metrics.agreement_replicates).
ordinal_alpha = AlphaStatistic("ordinal")
icc_oneway = OneWayIcc()  # ICC(1,1) on rating slots: each unit has different raters
pooled_kappa = PooledKappa(weights="quadratic")  # averaged over pairs, weighted by shared units


def metric_agreement(rm: RaterMatrix, *, n_boot: int = 1000, seed: int = 0) -> MetricAgreement:
    """The three coefficients of one metric with bootstrap intervals over items."""
    data = rm.values
    pairable = int(((~np.isnan(data)).sum(axis=0) >= 2).sum())
    estimates = [
        bootstrap_agreement(fn, data, axis=1, n_boot=n_boot, seed=seed)
        if data.size
        else Estimate(math.nan, math.nan, math.nan, 0)
        for fn in (ordinal_alpha, icc_oneway, pooled_kappa)
    ]
    n_ratings = int((~np.isnan(data)).sum())
    return MetricAgreement(rm.metric, pairable, n_ratings, *estimates)


def study_metrics(config: dict[str, object]) -> list[str]:
    rubric = config["rubric"]
    assert isinstance(rubric, dict)
    return [str(m["id"]) for m in rubric["metrics"]] + [str(rubric["diversity"]["id"])]


def judge_item_scores(
    engine: Engine, study_config: dict[str, object], judge: str | None = None
) -> dict[str, dict[str, dict[ItemKey, float]]]:
    """{judge_model: {metric: {(system, character, scenario): score}}} from the core tables.

    Only scored pointwise judgments of the study's benchmark, systems and characters count.
    A judge run with and without the rubric's anchor examples is two configurations: they
    are never averaged together; the one with examples (the default) is used when both exist.
    """
    query = (
        select(
            judgments.c.id,
            judgments.c.judge_model,
            judgments.c.rubric_ref,
            judgments.c.system,
            judgments.c.character,
            judgments.c.scenario,
            scores.c.round,
            scores.c.metric,
            scores.c.value,
        )
        .join(scores, scores.c.judgment_id == judgments.c.id)
        .where(
            judgments.c.status == "scored",
            judgments.c.mode.like("pointwise%"),
            judgments.c.benchmark == str(study_config.get("benchmark", "chatanime")),
            judgments.c.system.in_(list(study_config["systems"])),  # type: ignore[call-overload]
            judgments.c.character.in_(list(study_config["characters"])),  # type: ignore[call-overload]
        )
    )
    if judge:
        query = query.where(judgments.c.judge_model == judge)
    # judgment -> metric -> round -> value; then whole-dialogue score per judgment
    per_judgment: dict[tuple[str, str, ItemKey], dict[str, dict[int, float]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    without_examples: dict[str, set[str]] = defaultdict(set)  # model -> judgment ids
    with engine.connect() as conn:
        for r in conn.execute(query):
            key = (r.judge_model, r.id, (r.system, r.character, int(r.scenario)))
            per_judgment[key][r.metric][int(r.round)] = float(r.value)
            if str(r.rubric_ref).endswith(f":{NO_EXAMPLES}"):
                without_examples[r.judge_model].add(r.id)
    _keep_one_configuration(per_judgment, without_examples)
    sums: dict[str, dict[str, dict[ItemKey, list[float]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for (model, _jid, item), metrics in per_judgment.items():
        for metric, rounds in metrics.items():
            by_round = [v for rd, v in rounds.items() if rd in (1, 2)]
            whole = rounds.get(0, float(np.mean(by_round)) if by_round else None)
            if whole is not None:
                sums[model][metric][item].append(whole)
    return {
        model: {m: {k: float(np.mean(v)) for k, v in items.items()} for m, items in by_m.items()}
        for model, by_m in sums.items()
    }


def _keep_one_configuration(
    per_judgment: dict[tuple[str, str, ItemKey], dict[str, dict[int, float]]],
    without_examples: dict[str, set[str]],
) -> None:
    """Drop a judge's no-examples judgments when it also has judgments with examples."""
    models = {model for model, _, _ in per_judgment}
    for model in models:
        dropped = without_examples.get(model, set())
        has_default = any(m == model and j not in dropped for m, j, _ in per_judgment)
        if dropped and has_default:
            for key in [k for k in per_judgment if k[0] == model and k[1] in dropped]:
                del per_judgment[key]


HumanScores = dict[ItemKey, dict[str, float]]  # item -> annotator -> value


def human_item_scores(records: Sequence[RatingRecord], metric: str) -> HumanScores:
    """Dialogue items' ratings of ``metric`` keyed like the judge's items."""
    out: HumanScores = defaultdict(dict)
    for r in records:
        if r.metric == metric and r.kind == DIALOGUE and r.scenario is not None:
            out[(r.system, r.character, r.scenario)][r.annotator] = float(r.value)
    return dict(out)


def _spearman(x: list[float], y: list[float]) -> float:
    return correlations(x, y).spearman


def leave_one_out(humans: HumanScores, judge: dict[ItemKey, float]) -> tuple[float, float, int]:
    """(judge_loo, human_ceiling, n_annotators): see the module docstring."""
    people = sorted({a for ratings in humans.values() for a in ratings})
    judge_rs, human_rs = [], []
    for person in people:
        own, ref, machine = [], [], []
        for item, ratings in humans.items():
            others = [v for a, v in ratings.items() if a != person]
            if person in ratings and others and item in judge:
                own.append(ratings[person])
                ref.append(float(np.mean(others)))
                machine.append(judge[item])
        h, j = _spearman(own, ref), _spearman(machine, ref)
        if math.isfinite(h) and math.isfinite(j):
            human_rs.append(h)
            judge_rs.append(j)
    if not human_rs:
        return math.nan, math.nan, 0
    return float(np.mean(judge_rs)), float(np.mean(human_rs)), len(human_rs)


def metric_calibration(
    metric: str, humans: HumanScores, judge: dict[ItemKey, float]
) -> MetricCalibration:
    """Item- and system-level association of the judge with the human mean, and the ceiling."""
    matched = sorted(k for k in humans if k in judge)
    human_mean = {k: float(np.mean(list(humans[k].values()))) for k in matched}
    item = correlations([judge[k] for k in matched], [human_mean[k] for k in matched])
    by_system_j: dict[str, list[float]] = defaultdict(list)
    by_system_h: dict[str, list[float]] = defaultdict(list)
    for k in matched:
        by_system_j[k[0]].append(judge[k])
        by_system_h[k[0]].append(human_mean[k])
    j_means = {s: float(np.mean(v)) for s, v in by_system_j.items()}
    h_means = {s: float(np.mean(v)) for s, v in by_system_h.items()}
    sys_rho, sys_tau = system_rank_correlation(j_means, h_means)
    judge_loo, ceiling, n_people = leave_one_out(humans, judge)
    return MetricCalibration(
        metric, item, sys_rho, sys_tau, len(j_means), judge_loo, ceiling, n_people
    )


def calibrate(
    engine: Engine,
    config: dict[str, object],
    records: Sequence[RatingRecord],
    judge: str | None = None,
) -> list[JudgeCalibration]:
    """One calibration per judge model that scored the study's dialogues."""
    dialogue_metrics = study_metrics(config)[:-1]  # the judge does not rate diversity sets
    out = []
    for model, by_metric in sorted(judge_item_scores(engine, config, judge).items()):
        per_metric = []
        items: set[ItemKey] = set()
        for metric in dialogue_metrics:
            humans = human_item_scores(records, metric)
            scored = by_metric.get(metric, {})
            items |= set(humans) & set(scored)
            per_metric.append(metric_calibration(metric, humans, scored))
        out.append(JudgeCalibration(model, len(items), tuple(per_metric)))
    return out


def analyse_study(
    store: Store | Engine,
    study: str,
    *,
    judge: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> StudyAnalysis:
    """Agreement per metric and calibration of every judge (or ``judge``) for ``study``."""
    engine = store if isinstance(store, Engine) else store.engine
    ensure_schema(engine)
    with engine.connect() as conn:
        row = find_study(conn, study)
    config = json.loads(row.config_json)
    records = rating_records(engine, row.id)
    agreement = tuple(
        metric_agreement(rater_matrix(records, m), n_boot=n_boot, seed=seed)
        for m in study_metrics(config)
    )
    return StudyAnalysis(
        study_id=row.id,
        study_name=row.name,
        n_annotators=len({r.annotator for r in records}),
        n_items=len({r.item_id for r in records}),
        n_ratings=len(records),
        agreement=agreement,
        calibrations=tuple(calibrate(engine, config, records, judge)),
    )
