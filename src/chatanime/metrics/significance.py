"""Is system A better than system B on the same items? Paired tests, effect size and Holm.

Why these choices:

* Systems are compared on *matched* items (same character, scenario, round), so the tests in
  :func:`paired_compare` work on per-item differences, which removes the item difficulty.
* Likert differences are mostly zeros and ties, so the Wilcoxon test splits zeros instead of
  dropping them, and :func:`rank_biserial` keeps them in its denominator.
* Many pairwise comparisons are reported at once; :func:`holm` controls the family-wise error
  without assuming independence.

Vectorised with numpy like :mod:`chatanime.metrics.stats`, which re-exports these names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as sps

FloatArray = NDArray[np.float64]
PairedMethod = Literal["wilcoxon", "permutation"]

# Sign-flip tests enumerate all 2**n patterns up to this n, and sample above it.
EXACT_SIGN_FLIP_MAX_N = 16
_PERM_CHUNK = 2000


@dataclass(frozen=True, slots=True)
class PairedResult:
    """Outcome of a paired comparison of ``x`` against ``y`` (differences are ``x - y``).

    ``statistic`` is the Wilcoxon signed-rank statistic (scipy's two-sided
    ``min(R+, R-)`` with zero-splitting) for ``method="wilcoxon"`` and the mean difference for
    ``method="permutation"``. ``effect_size`` is the matched-pairs rank-biserial correlation
    in [-1, 1] (positive: ``x`` tends to be larger), see :func:`rank_biserial`.
    """

    mean_diff: float
    statistic: float
    p_value: float
    n: int
    method: PairedMethod
    effect_size: float
    n_dropped: int = 0


def _paired_differences(x: ArrayLike, y: ArrayLike) -> tuple[FloatArray, int]:
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    if xa.ndim != 1 or xa.shape != ya.shape:
        raise ValueError(f"x and y must be 1-D of equal length, got {xa.shape} and {ya.shape}")
    keep = ~(np.isnan(xa) | np.isnan(ya))
    return xa[keep] - ya[keep], int(xa.size - keep.sum())


def rank_biserial(differences: ArrayLike) -> float:
    """Matched-pairs rank-biserial correlation, zero differences kept (zero-split convention).

    ``(sum of ranks of positive |d|) - (sum of ranks of negative |d|)`` over the total rank sum
    ``n(n+1)/2``, ranking ``|d|`` over *all* pairs with average ranks for ties. Keeping the zero
    differences in the denominator matches ``zero_method="zsplit"`` and, for Likert data where
    most pairs tie, stops a handful of non-tied pairs from looking like a perfect effect
    (Kerby 2014's formula drops zeros and would report 1.0 there). NaN when empty.
    """
    d = np.asarray(differences, dtype=np.float64)
    if d.size == 0:
        return math.nan
    ranks = sps.rankdata(np.abs(d))
    total = d.size * (d.size + 1) / 2.0
    return float((ranks[d > 0].sum() - ranks[d < 0].sum()) / total)


def _sign_flip_p_value(d: FloatArray, n_perm: int, seed: int) -> float:
    """Two-sided paired sign-flip p-value for the sum (equivalently mean) of ``d``."""
    observed = abs(float(d.sum()))
    tol = 1e-9 * max(1.0, observed)
    if d.size <= EXACT_SIGN_FLIP_MAX_N:
        patterns = (np.arange(2**d.size)[:, None] >> np.arange(d.size)) & 1
        sums = (1.0 - 2.0 * patterns) @ d
        return float(np.mean(np.abs(sums) >= observed - tol))
    if n_perm < 1:
        raise ValueError(f"n_perm must be >= 1, got {n_perm}")
    rng = np.random.default_rng(seed)
    total = float(d.sum())
    extreme = 0
    for start in range(0, n_perm, _PERM_CHUNK):
        size = min(_PERM_CHUNK, n_perm - start)
        # One random byte gives eight signs; sum(s * d) = 2 * sum(d[s > 0]) - sum(d).
        packed = rng.integers(0, 256, size=(size, (d.size + 7) // 8), dtype=np.uint8)
        positive = np.unpackbits(packed, axis=1, count=d.size).astype(np.float64)
        sums = 2.0 * (positive @ d) - total
        extreme += int(np.count_nonzero(np.abs(sums) >= observed - tol))
    # Counting the observed labelling as one of the permutations keeps p > 0 (Phipson & Smyth).
    return (1 + extreme) / (1 + n_perm)


WILCOXON_PERMUTATION_MAX_N = 13
"""scipy's ``wilcoxon(method="auto")`` enumerates every sign flip for samples this small that
have ties or zeros (2**13 is within its 9999 permutation resamples)."""


def _wilcoxon_zsplit(d: FloatArray) -> tuple[float, float]:
    """``scipy.stats.wilcoxon(d, zero_method="zsplit")``: (statistic, two-sided p-value).

    For n <= 13 with ties or zeros (Likert data: nearly always) scipy runs an exhaustive
    ``permutation_test`` that re-ranks each of the 2**n sign-flipped copies one by one, about
    a second per call, and a report of a small rating study makes dozens of calls. Flipping
    signs leaves the ranks of ``|d|`` unchanged, so the null distribution of R+ is one product
    of the sign patterns with the ranks; the sums are exact (half-integer ranks), and counting
    them with scipy's tolerance and formula gives the same p-value. Other cases go to scipy.
    """
    size = int(d.size)
    magnitudes = np.abs(d)
    plain = np.unique(magnitudes).size == size and bool(np.all(d != 0))
    if size > WILCOXON_PERMUTATION_MAX_N or plain:
        res = sps.wilcoxon(d, zero_method="zsplit")
        return float(res.statistic), float(res.pvalue)
    ranks = sps.rankdata(magnitudes)
    zero_half = float(ranks[d == 0].sum()) / 2
    r_plus = float(ranks[d > 0].sum()) + zero_half
    r_minus = float(ranks[d < 0].sum()) + zero_half
    keep = ((np.arange(2**size)[:, None] >> np.arange(size)) & 1).astype(bool)
    positive = np.where(keep, d > 0, d < 0)  # bit 1 keeps an answer's sign, 0 flips it
    null = positive.astype(np.float64) @ ranks + zero_half
    gamma = abs(np.finfo(np.float64).eps * 100 * r_plus)
    less = np.count_nonzero(null <= r_plus + gamma) / null.size
    greater = np.count_nonzero(null >= r_plus - gamma) / null.size
    return min(r_plus, r_minus), min(max(min(less, greater) * 2, 0.0), 1.0)


def paired_compare(
    x: ArrayLike,
    y: ArrayLike,
    *,
    method: PairedMethod = "wilcoxon",
    n_perm: int = 10_000,
    seed: int = 0,
) -> PairedResult:
    """Two-sided paired test of ``x`` vs ``y`` on matched items (pairs with a NaN are dropped).

    ``"wilcoxon"``: scipy's signed-rank test with ``zero_method="zsplit"``. Likert scores give
    many zero differences; the default ``"wilcox"`` discards them, which inflates significance
    when most items tie, while zero-splitting keeps them in the ranking and shares their ranks
    equally between the signs (and, unlike ``"pratt"``, stays defined when every difference is
    zero). scipy picks the p-value method: exhaustive permutations for n <= 13 when there are
    ties/zeros, the tie-corrected normal approximation otherwise.

    ``"permutation"``: paired sign-flip test of the mean difference, exact (all 2**n sign
    patterns) for n <= 16, else ``n_perm`` Monte-Carlo sign flips with p = (1 + k)/(1 + n_perm).

    Raises ValueError when fewer than two complete pairs remain. All-zero differences give
    p = 1.
    """
    d, n_dropped = _paired_differences(x, y)
    if d.size < 2:
        raise ValueError(f"paired_compare needs at least 2 complete pairs, got {d.size}")
    effect = rank_biserial(d)
    mean_diff = float(d.mean())
    if method == "wilcoxon":
        if not np.any(d):
            statistic, p_value = d.size * (d.size + 1) / 4.0, 1.0
        else:
            statistic, p_value = _wilcoxon_zsplit(d)
    elif method == "permutation":
        statistic, p_value = mean_diff, _sign_flip_p_value(d, n_perm, seed)
    else:
        raise ValueError(f"unknown method {method!r}; use 'wilcoxon' or 'permutation'")
    return PairedResult(
        mean_diff=mean_diff,
        statistic=statistic,
        p_value=min(1.0, p_value),
        n=int(d.size),
        method=method,
        effect_size=effect,
        n_dropped=n_dropped,
    )


def holm(p_values: ArrayLike) -> FloatArray:
    """Holm's step-down adjusted p-values, in the input order.

    Sorted ascending, ``p_(i)`` becomes ``max_{j<=i} min(1, (m - j + 1) p_(j))``: monotone in
    the raw p-values and capped at 1. NaN entries stay NaN and do not count towards ``m``
    (an untestable comparison should not make the others stricter).
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"p_values must be 1-D, got shape {p.shape}")
    finite = ~np.isnan(p)
    if np.any((p[finite] < 0) | (p[finite] > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    out = np.full(p.shape, np.nan)
    q = p[finite]
    order = np.argsort(q, kind="stable")
    factors = q.size - np.arange(q.size)
    adjusted = np.minimum(1.0, np.maximum.accumulate(factors * q[order]))
    step = np.empty(q.size)
    step[order] = adjusted
    out[finite] = step
    return out
