"""The judge audit: is this judge fair to human-written answers, and how far off is it?

A strong LLM rater put the fans last on every dimension while the study's people put them
near the top on two; its scores rose with answer length and fans write short. A judge
used as-is would report "models beat fans everywhere" for the wrong reasons. The audit
runs a judge on items people rated (a study of the annotation app) and measures, per
metric (and ``overall``, the mean of the 9), against those ratings:

- **bias on human-written vs model-written answers**: the residual ``judge - human`` (mean
  human rating of the item) on the fans' answers and on the models', and their gap,
  paired within each character x scenario (fans vs models on the same item) with a
  two-way cluster bootstrap interval. Human-written = system ``human`` plus any listed in
  ``human_systems`` (e.g. collected answers).
- **length sensitivity**: the OLS slope of the residual ``judge - human`` on answer length
  (per 50 characters, or words in English) at equal authorship: what the judge gives for
  length beyond what people give, so a preference people share is not charged to the
  judge, nor is a gap between fans and models. (The residual, rather than the judge score
  with the human rating as a covariate, because a noisy covariate would leave any chance
  correlation of quality with length in the slope.) Plus people's own slope, and Spearman
  of the judge score with length overall and within each system.
- **position flips**: from the judge's pairwise-vs-fans verdicts on the study's items
  (:func:`chatanime.judge.pairwise_summary.position_bias`).
- **self-preference**: residual on systems of the judge's own family minus residual on the
  other model systems, paired per character x scenario (families from
  :func:`chatanime.judge.bias.model_family`, overridable).
- **agreement with people** beside the human-human ceiling: item Spearman / Pearson /
  Kendall, and the leave-one-annotator-out comparison of
  :func:`chatanime.annotate.analysis.metric_calibration`, in which judge and annotator face
  the same reference on the same items.

Residuals against people, not raw gaps, are what make a gap a *bias*: the fans may be
better or worse, and only a difference the ratings do not show is the judge's.
:meth:`JudgeAudit.findings` lists each bias whose interval excludes zero and whose size
is material (:data:`MATERIAL`), with its size.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as sps

from chatanime.annotate.analysis import (
    HumanScores,
    MetricCalibration,
    judge_item_scores,
    metric_calibration,
)
from chatanime.corpus import HUMAN
from chatanime.judge.bias import answer_length, model_family
from chatanime.judge.pairwise_summary import PositionBias, load_verdicts, position_bias
from chatanime.judge.rubric import METRICS
from chatanime.judge.study_ratings import (
    ItemKey,
    StudyRatings,
    load_study,
    overall_humans,
    overall_scores,
)
from chatanime.metrics.agreement import correlations
from chatanime.metrics.stats import Estimate, cluster_bootstrap_ci
from chatanime.store import Store

OVERALL = "overall"
LENGTH_UNIT = 50
"""Length slopes are per this many characters (Chinese) or words (English)."""
MATERIAL: Mapping[str, float] = {"human_written": 0.25, "length": 0.2, "self": 0.25, "flip": 0.1}
"""Smallest size reported as a finding: points on the 1-5 scale (points per 50 characters
for length; a share of items for flips), so a tight interval around a trivial effect is
not called a bias."""


@dataclass(frozen=True)
class GroupBias:
    """Mean ``judge - human`` on human-written and on model-written answers, and the gap."""

    human_written: Estimate
    model_written: Estimate
    gap: Estimate
    """Human-written minus model-written, paired within character x scenario."""


@dataclass(frozen=True)
class LengthSensitivity:
    slope: float
    """Points per 50 characters the judge gives *beyond* people (slope of ``judge - human``),
    at equal authorship (human-written or not)."""
    lo: float
    hi: float
    n: int
    human_slope: float
    """People's own rating per 50 characters (context: a shared preference)."""
    spearman: float
    within_system: Mapping[str, float]

    @property
    def mean_within(self) -> float:
        finite = [v for v in self.within_system.values() if math.isfinite(v)]
        return float(np.mean(finite)) if finite else math.nan


@dataclass(frozen=True)
class SelfPreferenceGap:
    family: str
    own_systems: tuple[str, ...]
    gap: Estimate
    """Own-family minus other model systems, ``judge - human``, paired per item cell."""


@dataclass(frozen=True)
class MetricAudit:
    metric: str
    n_items: int
    bias: Estimate
    """Mean ``judge - human`` over every item."""
    human_written: GroupBias | None
    length: LengthSensitivity | None
    self_preference: SelfPreferenceGap | None
    agreement: MetricCalibration


@dataclass(frozen=True)
class Finding:
    """A detected bias and its size (``lo``/``hi``: the interval)."""

    check: str
    metric: str
    size: float
    lo: float
    hi: float
    text: str


@dataclass(frozen=True)
class JudgeAudit:
    judge: str
    study: str
    family: str | None
    n_items: int
    metrics: tuple[MetricAudit, ...]
    position: tuple[PositionBias, ...]
    level: float

    def metric(self, metric: str) -> MetricAudit:
        return next(m for m in self.metrics if m.metric == metric)

    def findings(self) -> list[Finding]:
        """Every material bias whose interval excludes zero: per metric, then position."""
        out = []
        for m in self.metrics:
            out += _metric_findings(m)
        for p in self.position:
            f = p.flip_share
            if math.isfinite(f.lo) and f.lo > MATERIAL["flip"]:
                text = f"{f.mean:.0%} of {p.dimension} verdicts flip when the order is swapped"
                out.append(Finding("position", p.dimension, f.mean, f.lo, f.hi, text))
        return out


def _excludes_zero(est: Estimate, material: float) -> bool:
    return (est.lo > 0 or est.hi < 0) and abs(est.mean) >= material


def _metric_findings(m: MetricAudit) -> list[Finding]:
    out = []
    hw = m.human_written
    if hw is not None and _excludes_zero(hw.gap, MATERIAL["human_written"]):
        g = hw.gap
        text = f"human-written answers get {g.mean:+.2f} points vs model-written beyond people"
        out.append(Finding("human_written", m.metric, g.mean, g.lo, g.hi, text))
    ln = m.length
    if ln is not None and _excludes_zero(
        Estimate(ln.slope, ln.lo, ln.hi, ln.n), MATERIAL["length"]
    ):
        text = f"{ln.slope:+.2f} points per {LENGTH_UNIT} characters beyond people's ratings"
        out.append(Finding("length", m.metric, ln.slope, ln.lo, ln.hi, text))
    sp = m.self_preference
    if sp is not None and _excludes_zero(sp.gap, MATERIAL["self"]):
        g = sp.gap
        text = f"own family ({sp.family}) gets {g.mean:+.2f} points vs other models"
        out.append(Finding("self", m.metric, g.mean, g.lo, g.hi, text))
    return out


# ---------------------------------------------------------------- per-metric data


@dataclass(frozen=True)
class _Data:
    """Matched items of one metric as arrays."""

    keys: list[ItemKey]
    judge: np.ndarray[Any, np.dtype[np.float64]]
    human: np.ndarray[Any, np.dtype[np.float64]]
    length: np.ndarray[Any, np.dtype[np.float64]]
    human_written: np.ndarray[Any, np.dtype[np.bool_]]

    @property
    def residual(self) -> np.ndarray[Any, np.dtype[np.float64]]:
        return self.judge - self.human


def _lengths(ratings: StudyRatings, language: str) -> dict[ItemKey, float]:
    return {
        key: (answer_length(d.a1, language) + answer_length(d.a2, language)) / 2
        for key, d in ratings.dialogues.items()
    }


def _data(
    judge: Mapping[ItemKey, float],
    humans: HumanScores,
    lengths: Mapping[ItemKey, float],
    human_systems: Collection[str],
) -> _Data:
    keys = sorted(k for k in judge if k in humans and humans[k] and k in lengths)
    return _Data(
        keys,
        np.array([judge[k] for k in keys], dtype=float),
        np.array([np.mean(list(humans[k].values())) for k in keys], dtype=float),
        np.array([lengths[k] for k in keys], dtype=float),
        np.array([k[0] in human_systems for k in keys], dtype=bool),
    )


# ---------------------------------------------------------------- statistics


def _cluster_mean(
    values: Sequence[float], keys: Sequence[ItemKey], n_boot: int, seed: int, level: float
) -> Estimate:
    if not len(values):
        return Estimate(math.nan, math.nan, math.nan, 0)
    chars = np.array([k[1] for k in keys])
    scens = np.array([k[2] for k in keys])
    return cluster_bootstrap_ci(
        np.asarray(values, dtype=float), chars, scens, n_boot=n_boot, level=level, seed=seed
    )


def _subset_mean(data: _Data, mask: np.ndarray[Any, Any], **kw: Any) -> Estimate:
    keys = [k for k, keep in zip(data.keys, mask, strict=True) if keep]
    return _cluster_mean(data.residual[mask].tolist(), keys, **kw)


def paired_gap(
    data: _Data, first: np.ndarray[Any, np.dtype[np.bool_]], second: np.ndarray[Any, Any], **kw: Any
) -> Estimate:
    """Mean residual of ``first`` items minus ``second`` items within each item cell."""
    cells: dict[tuple[str, int], tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    for key, r, a, b in zip(data.keys, data.residual, first, second, strict=True):
        if a:
            cells[(key[1], key[2])][0].append(float(r))
        elif b:
            cells[(key[1], key[2])][1].append(float(r))
    both = sorted(c for c, (x, y) in cells.items() if x and y)
    diffs = [float(np.mean(cells[c][0]) - np.mean(cells[c][1])) for c in both]
    return _cluster_mean(diffs, [("", c, s) for c, s in both], **kw)


def ols_slope(
    y: np.ndarray[Any, Any], columns: Sequence[np.ndarray[Any, Any]], level: float
) -> tuple[float, float, float]:
    """OLS of ``y`` on an intercept and ``columns``; (coef, lo, hi) of the first column."""
    x = np.column_stack([np.ones(len(y)), *columns])
    dof = len(y) - x.shape[1]
    if dof < 1 or np.linalg.matrix_rank(x) < x.shape[1]:
        return math.nan, math.nan, math.nan
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ beta
    cov = (resid @ resid / dof) * np.linalg.inv(x.T @ x)
    se = math.sqrt(max(float(cov[1, 1]), 0.0))
    half = float(sps.t.ppf((1 + level) / 2, dof)) * se
    return float(beta[1]), float(beta[1]) - half, float(beta[1]) + half


def length_sensitivity(data: _Data, level: float) -> LengthSensitivity | None:
    if len(data.keys) < 5:
        return None
    units = data.length / LENGTH_UNIT
    mixed = 0 < int(data.human_written.sum()) < len(data.keys)
    authorship = [data.human_written.astype(float)] if mixed else []
    slope, lo, hi = ols_slope(data.residual, [units, *authorship], level)
    human_slope, _, _ = ols_slope(data.human, [units, *authorship], level)
    within = {}
    for system in sorted({k[0] for k in data.keys}):
        idx = [i for i, k in enumerate(data.keys) if k[0] == system]
        within[system] = correlations(data.judge[idx], data.length[idx]).spearman
    rho = correlations(data.judge, data.length).spearman
    return LengthSensitivity(slope, lo, hi, len(data.keys), human_slope, rho, within)


def _self_preference(
    data: _Data, family: str | None, families: Mapping[str, str] | None, **kw: Any
) -> SelfPreferenceGap | None:
    if family is None:
        return None
    systems = {k[0] for k, hw in zip(data.keys, data.human_written, strict=True) if not hw}
    own = tuple(sorted(s for s in systems if model_family(s, families) == family))
    if not own or len(own) == len(systems):
        return None
    is_own = np.array([k[0] in own for k in data.keys])
    others = ~is_own & ~data.human_written
    return SelfPreferenceGap(family, own, paired_gap(data, is_own, others, **kw))


def audit_metric(
    metric: str,
    data: _Data,
    humans: HumanScores,
    judge: Mapping[ItemKey, float],
    *,
    family: str | None,
    families: Mapping[str, str] | None,
    n_boot: int,
    seed: int,
    level: float,
) -> MetricAudit:
    kw: dict[str, Any] = {"n_boot": n_boot, "seed": seed, "level": level}
    hw = data.human_written
    group = None
    if hw.any() and (~hw).any():
        group = GroupBias(
            _subset_mean(data, hw, **kw),
            _subset_mean(data, ~hw, **kw),
            paired_gap(data, hw, ~hw, **kw),
        )
    return MetricAudit(
        metric,
        len(data.keys),
        _cluster_mean(data.residual.tolist(), data.keys, **kw),
        group,
        length_sensitivity(data, level),
        _self_preference(data, family, families, **kw),
        metric_calibration(metric, humans, dict(judge)),
    )


def audit_judge(
    store: Store,
    study: str,
    judge: str,
    *,
    families: Mapping[str, str] | None = None,
    human_systems: Collection[str] = (),
    language: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> JudgeAudit:
    """Audit ``judge``'s stored scores (and pairwise verdicts) on ``study``'s rated items.

    Reads only; :func:`chatanime.judge.study_judging.judge_study` judges the items first.
    ``families`` maps model or system names to families where
    :func:`~chatanime.judge.bias.model_family` does not know them; ``language`` (default:
    the study's) decides whether length counts characters or words.
    """
    ratings = load_study(store, study)
    scores = judge_item_scores(store.engine, dict(ratings.config), judge).get(judge, {})
    lengths = _lengths(ratings, language or ratings.language)
    writers = {HUMAN, *human_systems}
    family = model_family(judge, families)
    kw: dict[str, Any] = {"n_boot": n_boot, "seed": seed, "level": level}
    audits = []
    for metric in (*METRICS, OVERALL):
        humans = overall_humans(ratings) if metric == OVERALL else ratings.humans(metric)
        by_item = overall_scores(scores) if metric == OVERALL else scores.get(metric, {})
        data = _data(by_item, humans, lengths, writers)
        audits.append(
            audit_metric(metric, data, humans, by_item, family=family, families=families, **kw)
        )
    verdicts = load_verdicts(
        store,
        benchmark=ratings.benchmark,
        judges=[judge],
        systems=set(ratings.config.get("systems", [])),
        characters=set(ratings.config.get("characters", [])),
        scenarios={int(s) for s in ratings.config.get("scenarios", [])},
    )
    position = position_bias(verdicts, **kw)
    n_items = max((a.n_items for a in audits), default=0)
    return JudgeAudit(judge, ratings.name, family, n_items, tuple(audits), position, level)
