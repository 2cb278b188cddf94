"""Inter-annotator agreement and judge-vs-human correlation.

Used by the annotation analysis (do fans agree with each other?) and the judge audit (does the
LLM judge agree with fans?). Conventions shared by every function here:

* Missing ratings are NaN.
* Malformed input (wrong shape, unknown level, a value outside the declared categories) raises
  ValueError; a coefficient that is *undefined for this data* (nothing pairable, no variance,
  too few units) is returned as NaN, so a bootstrap or a breakdown table can carry on.
* Orientation follows each coefficient's literature: Krippendorff's alpha takes a raters x
  units matrix (his "reliability data"), the ICC a units x raters matrix (Shrout & Fleiss).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as sps

from chatanime.metrics.stats import Estimate

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
AlphaLevel = Literal["nominal", "ordinal", "interval", "ratio"]
IccKind = Literal["ICC(1,1)", "ICC(2,1)", "ICC(3,1)", "ICC(1,k)", "ICC(2,k)", "ICC(3,k)"]
KappaWeights = Literal["linear", "quadratic"] | None

# Correlations on fewer points than this are reported as NaN (two points always correlate +-1).
MIN_CORRELATION_N = 3
# Bootstrap replicates scored per batch by a BatchedStatistic: bounds the replicates x units
# arrays (a 1,200-item study at 2,000 replicates would otherwise need a few hundred MB).
_BATCH_CELLS = 1 << 20


@dataclass(frozen=True, slots=True)
class Correlations:
    """Judge-vs-human association on matched items; Kendall's is tau-b (Likert data has ties)."""

    spearman: float
    pearson: float
    kendall: float
    n: int


def _as_matrix(matrix: ArrayLike, name: str) -> FloatArray:
    data = np.asarray(matrix, dtype=np.float64)
    if data.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix, got shape {data.shape}")
    return data


def _value_counts(data: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Distinct values and a units x values count table from a raters x units matrix."""
    present = ~np.isnan(data)
    values = np.unique(data[present])
    _, unit_idx = np.nonzero(present)
    value_idx = np.searchsorted(values, data[present])
    # np.nonzero walks row-major, the same order as boolean indexing, so the pairs line up.
    # Counts are whole numbers, so bincount gives exactly what accumulating 1.0s would.
    cells = np.bincount(unit_idx * values.size + value_idx, minlength=data.shape[1] * values.size)
    return values, cells.reshape(data.shape[1], values.size).astype(np.float64)


def _delta(values: FloatArray, marginals: FloatArray, level: AlphaLevel) -> FloatArray:
    """Krippendorff's squared difference function delta^2(c, k) for the given level."""
    if level == "nominal":
        return 1.0 - np.eye(values.size)
    if level == "ordinal":
        # (sum_{g=c..k} n_g - (n_c + n_k)/2)^2: distance is how many pairable values lie between.
        cum = np.cumsum(marginals)
        between = cum[None, :] - cum[:, None] + (marginals[:, None] - marginals[None, :]) / 2.0
        return np.asarray(between**2, dtype=np.float64)
    if level == "interval":
        return np.asarray((values[:, None] - values[None, :]) ** 2, dtype=np.float64)
    if level == "ratio":
        if np.any(values < 0):
            raise ValueError("ratio-level alpha needs non-negative values")
        total = values[:, None] + values[None, :]
        diff = values[:, None] - values[None, :]
        safe = np.where(total == 0, 1.0, total)
        return np.asarray(np.where(total == 0, 0.0, (diff / safe) ** 2), dtype=np.float64)
    raise ValueError(f"unknown level {level!r}; use nominal, ordinal, interval or ratio")


def krippendorff_alpha(matrix: ArrayLike, level: AlphaLevel = "nominal") -> float:
    """Krippendorff's alpha for a raters x units matrix with NaN for missing ratings.

    Computed from the coincidence matrix (Krippendorff 2011, "Computing Krippendorff's
    Alpha-Reliability"): only units with two or more ratings are pairable. ``alpha = 1 - (n-1)
    sum(o_ck d_ck) / sum(n_c n_k d_ck)``. NaN when no unit is pairable or the pairable values
    are all equal (expected disagreement 0, alpha = 0/0).
    """
    data = _as_matrix(matrix, "matrix")
    if level not in ("nominal", "ordinal", "interval", "ratio"):
        raise ValueError(f"unknown level {level!r}; use nominal, ordinal, interval or ratio")
    values, counts = _value_counts(data)
    per_unit = counts.sum(axis=1)
    pairable = per_unit >= 2
    if not np.any(pairable):
        return math.nan
    counts, per_unit = counts[pairable], per_unit[pairable]
    weighted = counts / (per_unit - 1.0)[:, None]
    coincidences = counts.T @ weighted - np.diag(weighted.sum(axis=0))
    marginals = coincidences.sum(axis=1)
    n = float(marginals.sum())
    delta = _delta(values, marginals, level)
    expected = float((np.outer(marginals, marginals) * delta).sum())
    if expected == 0.0:
        return math.nan
    observed = float((coincidences * delta).sum())
    return 1.0 - (n - 1.0) * observed / expected


_ICC_KINDS: tuple[IccKind, ...] = (
    "ICC(1,1)",
    "ICC(2,1)",
    "ICC(3,1)",
    "ICC(1,k)",
    "ICC(2,k)",
    "ICC(3,k)",
)


def icc(ratings: ArrayLike, kind: IccKind = "ICC(2,1)") -> float:
    """Shrout & Fleiss (1979) intraclass correlation for a units x raters matrix.

    The ANOVA estimators need a complete table, so units with any missing rating are dropped
    (listwise, as psych::ICC with ``missing=TRUE``); for sparse designs use
    :func:`krippendorff_alpha` instead. ``ICC(2,*)`` (random raters, absolute agreement) is the
    default because annotators are a sample of possible fans. NaN when fewer than two complete
    units remain or the denominator is 0 (no variance at all).
    """
    data = _as_matrix(ratings, "ratings")
    if kind not in _ICC_KINDS:
        raise ValueError(f"unknown ICC kind {kind!r}; use one of {', '.join(_ICC_KINDS)}")
    if data.shape[1] < 2:
        raise ValueError(f"ICC needs at least 2 raters (columns), got {data.shape[1]}")
    data = data[~np.isnan(data).any(axis=1)]
    n, k = data.shape
    if n < 2:
        return math.nan
    grand = data.mean()
    ss_total = float(((data - grand) ** 2).sum())
    ss_rows = k * float(((data.mean(axis=1) - grand) ** 2).sum())
    ss_cols = n * float(((data.mean(axis=0) - grand) ** 2).sum())
    msr = ss_rows / (n - 1)
    msc = ss_cols / (k - 1)
    mse = (ss_total - ss_rows - ss_cols) / ((n - 1) * (k - 1))
    msw = (ss_total - ss_rows) / (n * (k - 1))
    numer, denom = {
        "ICC(1,1)": (msr - msw, msr + (k - 1) * msw),
        "ICC(2,1)": (msr - mse, msr + (k - 1) * mse + k * (msc - mse) / n),
        "ICC(3,1)": (msr - mse, msr + (k - 1) * mse),
        "ICC(1,k)": (msr - msw, msr),
        "ICC(2,k)": (msr - mse, msr + (msc - mse) / n),
        "ICC(3,k)": (msr - mse, msr),
    }[kind]
    return numer / denom if denom != 0 else math.nan


def weighted_kappa(
    a: ArrayLike,
    b: ArrayLike,
    categories: Iterable[float] = range(1, 6),
    weights: KappaWeights = "linear",
) -> float:
    """Cohen's kappa between two raters, optionally weighted by category distance.

    Disagreement weights use category *positions* in ``categories`` (as scikit-learn does):
    linear ``|i-j|/(K-1)``, quadratic ``((i-j)/(K-1))**2``, ``None`` for unweighted (0/1).
    Pairs with a NaN are dropped; a value outside ``categories`` raises ValueError. NaN when no
    pair remains or chance disagreement is 0 (both raters used a single category).
    """
    xa = np.asarray(a, dtype=np.float64)
    xb = np.asarray(b, dtype=np.float64)
    if xa.ndim != 1 or xa.shape != xb.shape:
        raise ValueError(f"a and b must be 1-D of equal length, got {xa.shape} and {xb.shape}")
    cats = kappa_categories(categories)
    sorter = np.argsort(cats, kind="stable")
    keep = ~(np.isnan(xa) | np.isnan(xb))
    xa, xb = xa[keep], xb[keep]
    ia, ib = category_index(xa, cats, sorter), category_index(xb, cats, sorter)
    if xa.size == 0:
        return math.nan
    k = cats.size
    observed = np.bincount(ia * k + ib, minlength=k * k).reshape(k, k).astype(np.float64)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / xa.size
    w = kappa_weight_matrix(k, weights)
    chance = float((w * expected).sum())
    if chance == 0.0:
        return math.nan
    return 1.0 - float((w * observed).sum()) / chance


def kappa_categories(categories: Iterable[float]) -> FloatArray:
    """``categories`` as a float array, validated (cached: kappa is called per replicate)."""
    return _kappa_categories(tuple(categories))


@functools.lru_cache(maxsize=64)
def _kappa_categories(categories: tuple[float, ...]) -> FloatArray:
    cats = np.asarray(categories, dtype=np.float64)
    if cats.ndim != 1 or cats.size < 2 or np.unique(cats).size != cats.size:
        raise ValueError("categories must hold at least two distinct values")
    cats.setflags(write=False)
    return cats


@functools.lru_cache(maxsize=64)
def kappa_weight_matrix(k: int, weights: KappaWeights) -> FloatArray:
    """Disagreement weights between the positions of ``k`` categories (read-only, cached)."""
    distance = np.abs(np.arange(k)[:, None] - np.arange(k)[None, :]) / (k - 1)
    if weights is None:
        w = (distance > 0).astype(np.float64)
    elif weights == "linear":
        w = distance
    elif weights == "quadratic":
        w = distance**2
    else:
        raise ValueError(f"unknown weights {weights!r}; use 'linear', 'quadratic' or None")
    w.setflags(write=False)
    return np.asarray(w, dtype=np.float64)


def category_index(
    values: FloatArray, cats: FloatArray, sorter: NDArray[np.intp] | None = None
) -> NDArray[np.intp]:
    """Position of each value in ``cats`` (distinct, any order); ValueError for others.

    ``sorter`` is ``np.argsort(cats)`` if the caller has it (saves a sort per call).
    """
    if sorter is None:
        sorter = np.argsort(cats, kind="stable")
    pos = np.searchsorted(cats, values, sorter=sorter)
    index = np.asarray(sorter[pos.clip(max=cats.size - 1)], dtype=np.intp)
    unknown = cats[index] != values
    if unknown.any():
        raise ValueError(f"values outside categories {cats.tolist()}: {values[unknown][:5]}")
    return index


@runtime_checkable
class BatchedStatistic(Protocol):
    """An agreement coefficient that can also score many bootstrap replicates in one go.

    A replicate that resamples units only changes how often each unit counts, so a coefficient
    built from per-unit sufficient statistics can score all replicates with a few matrix
    products instead of being recomputed on every resampled matrix (numpy call overhead, not
    arithmetic, is what a per-replicate loop spends its time on). Implementations live in
    :mod:`chatanime.metrics.agreement_replicates`.
    """

    @property
    def units_axis(self) -> int:
        """The axis of the matrix that holds units (what the bootstrap resamples)."""
        ...

    def __call__(self, matrix: FloatArray) -> float: ...

    def replicates(self, matrix: FloatArray, multiplicity: IntArray) -> FloatArray:
        """The coefficient of each replicate; ``multiplicity[b, u]`` = draws of unit u in b."""
        ...


def bootstrap_agreement(
    fn: Callable[[FloatArray], float],
    matrix: ArrayLike,
    *,
    axis: int = 1,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """Percentile interval for an agreement coefficient by resampling units with replacement.

    ``axis`` is the units axis of ``matrix``: 1 for :func:`krippendorff_alpha`'s raters x
    units, 0 for :func:`icc`'s units x raters. Units, not single ratings, are resampled because
    the ratings of one unit are what the coefficient compares. ``Estimate.mean`` is ``fn`` on
    the full data (the point estimate, not the bootstrap mean); replicates where ``fn`` is NaN
    are skipped. ``n`` is the number of units. A :class:`BatchedStatistic` whose
    ``units_axis`` is ``axis`` scores the same resamples (same seed, same draws) all at once.
    """
    data = _as_matrix(matrix, "matrix")
    if axis not in (0, 1):
        raise ValueError(f"axis must be 0 or 1, got {axis}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be strictly between 0 and 1, got {level}")
    n_units = data.shape[axis]
    point = float(fn(data))
    if n_units < 2:
        return Estimate(point, math.nan, math.nan, n_units)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_units, size=(n_boot, n_units))
    if isinstance(fn, BatchedStatistic) and fn.units_axis == axis:
        replicates = _batched_replicates(fn, data, draws)
    else:
        replicates = np.array([fn(np.take(data, idx, axis=axis)) for idx in draws], dtype=float)
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        return Estimate(point, math.nan, math.nan, n_units)
    lo, hi = np.quantile(finite, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return Estimate(point, float(lo), float(hi), n_units)


def resample_multiplicity(draws: IntArray, n_units: int) -> IntArray:
    """replicates x units counts of how often each unit was drawn (one bincount for all)."""
    offsets = np.arange(draws.shape[0], dtype=np.int64)[:, None] * n_units
    flat = np.bincount((draws + offsets).ravel(), minlength=draws.shape[0] * n_units)
    return np.asarray(flat.reshape(draws.shape[0], n_units), dtype=np.int64)


def _batched_replicates(fn: BatchedStatistic, data: FloatArray, draws: IntArray) -> FloatArray:
    n_boot, n_units = draws.shape
    step = max(1, _BATCH_CELLS // max(n_units * max(data.shape[1 - fn.units_axis], 1), 1))
    parts = [
        np.asarray(fn.replicates(data, resample_multiplicity(draws[i : i + step], n_units)))
        for i in range(0, n_boot, step)
    ]
    return np.concatenate(parts).astype(np.float64)


def _complete_pairs(x: ArrayLike, y: ArrayLike) -> tuple[FloatArray, FloatArray]:
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    if xa.ndim != 1 or xa.shape != ya.shape:
        raise ValueError(f"inputs must be 1-D of equal length, got {xa.shape} and {ya.shape}")
    keep = ~(np.isnan(xa) | np.isnan(ya))
    return xa[keep], ya[keep]


def _correlatable(x: FloatArray, y: FloatArray) -> bool:
    # Constant input has no correlation; checking first also avoids scipy's warnings.
    return bool(x.size >= MIN_CORRELATION_N and np.ptp(x) > 0 and np.ptp(y) > 0)


def correlations(judge: ArrayLike, human: ArrayLike) -> Correlations:
    """Spearman, Pearson and Kendall tau-b between judge and human scores on matched items.

    Pairs with a NaN are dropped. All three are NaN when fewer than 3 pairs remain or either
    side is constant.
    """
    x, y = _complete_pairs(judge, human)
    if not _correlatable(x, y):
        return Correlations(math.nan, math.nan, math.nan, int(x.size))
    return Correlations(
        spearman=float(sps.spearmanr(x, y).statistic),
        pearson=float(sps.pearsonr(x, y).statistic),
        kendall=float(sps.kendalltau(x, y).statistic),
        n=int(x.size),
    )


def system_rank_correlation(
    judge_means: Mapping[str, float], human_means: Mapping[str, float]
) -> tuple[float, float]:
    """(Spearman, Kendall tau-b) between judge and human system-level means.

    Only systems present (and not NaN) in both mappings count: the judge may score systems the
    humans never rated. NaN when fewer than 3 systems are shared or either side is constant.
    """
    common = sorted(set(judge_means) & set(human_means))
    x, y = _complete_pairs([judge_means[k] for k in common], [human_means[k] for k in common])
    if not _correlatable(x, y):
        return math.nan, math.nan
    return float(sps.spearmanr(x, y).statistic), float(sps.kendalltau(x, y).statistic)
