"""Uncertainty for leaderboard numbers: cluster bootstrap, paired tests, Holm, tied ranks.

Why these choices:

* A ChatAnime score is an average over items that are *crossed* by character (20) and scenario
  (60). Items that share a character (or a scenario) are correlated — a character the model
  knows badly drags down all 60 of its items — so the 1,200 items are far fewer than 1,200
  independent observations. Resampling items i.i.d. ignores that and gives intervals that are
  too narrow; :func:`cluster_bootstrap_ci` resamples characters and scenarios instead.
* Systems are compared on *matched* items (same character, scenario, round), so the tests in
  :func:`paired_compare` work on per-item differences, which removes the item difficulty.
* Many pairwise comparisons are reported at once; :func:`holm` controls the family-wise error
  without assuming independence.
* A leaderboard should not pretend to separate systems whose intervals overlap;
  :func:`ranks_with_ties` gives them a shared rank.

Everything is vectorised with numpy: the report calls these functions for every system x metric
x breakdown and must stay interactive.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
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
class Estimate:
    """A point estimate with a percentile interval.

    ``n`` counts the observations used; ``n_missing`` those excluded as NaN (unscored), so a
    report can show how much of the data the number rests on. ``lo``/``hi`` are NaN when an
    interval is undefined (fewer than two observations).
    """

    mean: float
    lo: float
    hi: float
    n: int
    n_missing: int = 0


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


@dataclass(frozen=True, slots=True)
class RankInfo:
    """A system's place on a leaderboard.

    ``rank`` is 1 + the number of systems whose interval lies entirely on the better side of
    this one's, so systems with overlapping intervals share ranks; ``None`` when the system has
    no estimate (NaN mean). ``order`` is the plain 1-based position by point estimate.
    """

    rank: int | None
    order: int


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be strictly between 0 and 1, got {level}")


def _percentile_interval(replicates: FloatArray, level: float) -> tuple[float, float]:
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        return math.nan, math.nan
    lo, hi = np.quantile(finite, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return float(lo), float(hi)


def _labels_to_codes(labels: ArrayLike, n: int, name: str) -> NDArray[np.intp]:
    arr = np.asarray(labels)
    if arr.shape != (n,):
        raise ValueError(f"{name} must be 1-D with one label per value ({n}), got {arr.shape}")
    _, codes = np.unique(arr, return_inverse=True)
    return codes.reshape(-1).astype(np.intp)


def _cell_tables(
    v: FloatArray, char_codes: NDArray[np.intp], scen_codes: NDArray[np.intp]
) -> tuple[FloatArray, FloatArray]:
    """Per (character, scenario) cell: sum of values and number of items (labels re-coded so
    that only labels with a scored item get a row/column)."""
    _, rows = np.unique(char_codes, return_inverse=True)
    _, cols = np.unique(scen_codes, return_inverse=True)
    shape = (int(rows.max()) + 1, int(cols.max()) + 1)
    flat = np.ravel_multi_index((rows.reshape(-1), cols.reshape(-1)), shape)
    size = shape[0] * shape[1]
    totals = np.bincount(flat, weights=v, minlength=size).astype(np.float64).reshape(shape)
    counts = np.bincount(flat, minlength=size).astype(np.float64).reshape(shape)
    return totals, counts


def _draw_weights(
    n_char: int, n_scen: int, n_boot: int, seed: int
) -> tuple[FloatArray, FloatArray]:
    rng = np.random.default_rng(seed)
    w_char = rng.multinomial(n_char, np.full(n_char, 1.0 / n_char), size=n_boot).astype(float)
    w_scen = rng.multinomial(n_scen, np.full(n_scen, 1.0 / n_scen), size=n_boot).astype(float)
    return w_char, w_scen


@functools.lru_cache(maxsize=8)
def _cached_weights(
    n_char: int, n_scen: int, n_boot: int, seed: int
) -> tuple[FloatArray, FloatArray]:
    w_char, w_scen = _draw_weights(n_char, n_scen, n_boot, seed)
    w_char.setflags(write=False)  # shared between calls: nobody may change them
    w_scen.setflags(write=False)
    return w_char, w_scen


def _bootstrap_weights(
    n_char: int, n_scen: int, n_boot: int, seed: int
) -> tuple[FloatArray, FloatArray]:
    """Multinomial replicate weights of characters and scenarios.

    A report calls :func:`cluster_bootstrap_ci` hundreds of times with the same design
    (20 x 60 cells, the same ``n_boot`` and seed), and drawing the weights is nearly all of
    its cost, so the draws are cached by (sizes, ``n_boot``, seed): the same seed gives the
    same draws, so results are bit-identical to drawing afresh. A seed that is not a plain
    integer (``None``, a generator) is never cached.
    """
    if isinstance(seed, (int, np.integer)):
        return _cached_weights(int(n_char), int(n_scen), int(n_boot), int(seed))
    return _draw_weights(n_char, n_scen, n_boot, seed)


def cluster_bootstrap_ci(
    values: ArrayLike,
    characters: ArrayLike,
    scenarios: ArrayLike,
    *,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """Mean of ``values`` with a two-way cluster (character x scenario) bootstrap interval.

    Each replicate draws the characters with replacement and, independently, the scenarios
    with replacement, and keeps every item whose character *and* scenario were drawn, weighted
    by the product of their multiplicities (Owen's "pigeonhole" bootstrap; Owen 2007, Ann. Appl.
    Stat.). This keeps the correlation among items sharing a character or a scenario, which
    plain item resampling destroys and so understates the uncertainty; the pigeonhole scheme is
    known to be mildly conservative, which is the safe side for a leaderboard. A one-way
    design is the special case where one label is constant.

    NaN values (unscored items) are excluded and counted in ``n_missing``. The interval is the
    percentile interval of the replicate means; replicates that happen to contain no item
    (possible only with very sparse cells) are skipped. With fewer than two items the interval
    is NaN.

    Vectorised: per-cell sums ``T[c, s]`` and counts ``N[c, s]`` are built once; a replicate's
    weighted mean is ``(w_c' T w_s) / (w_c' N w_s)`` with multinomial weight vectors, i.e. two
    small matrix products for all replicates at once.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"values must be 1-D, got shape {v.shape}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    _check_level(level)
    char_codes = _labels_to_codes(characters, v.size, "characters")
    scen_codes = _labels_to_codes(scenarios, v.size, "scenarios")
    keep = ~np.isnan(v)
    n_missing = int(v.size - keep.sum())
    v, char_codes, scen_codes = v[keep], char_codes[keep], scen_codes[keep]
    if v.size == 0:
        return Estimate(math.nan, math.nan, math.nan, 0, n_missing)
    mean = float(v.mean())
    if v.size < 2:
        return Estimate(mean, math.nan, math.nan, int(v.size), n_missing)
    totals, counts = _cell_tables(v, char_codes, scen_codes)
    n_char, n_scen = totals.shape
    w_char, w_scen = _bootstrap_weights(n_char, n_scen, n_boot, seed)
    numer = np.einsum("bs,bs->b", w_char @ totals, w_scen)
    denom = np.einsum("bs,bs->b", w_char @ counts, w_scen)
    ok = denom > 0
    lo, hi = _percentile_interval(numer[ok] / denom[ok], level)
    return Estimate(mean, lo, hi, int(v.size), n_missing)


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


def ranks_with_ties(
    estimates: Mapping[str, Estimate], higher_is_better: bool = True
) -> dict[str, RankInfo]:
    """Leaderboard ranks that only separate systems whose intervals do not overlap.

    ``rank`` = 1 + number of systems whose interval lies strictly on the better side (touching
    intervals overlap). A NaN bound counts as unbounded, so a system without an interval never
    separates from anything. Systems with a NaN mean get ``rank=None`` and come last in
    ``order``; ``order`` breaks ties in the point estimate by name, for stable output.
    """
    names: Sequence[str] = sorted(estimates)
    lo = np.array([_bound(estimates[k].lo, -math.inf) for k in names])
    hi = np.array([_bound(estimates[k].hi, math.inf) for k in names])
    if not higher_is_better:
        lo, hi = -hi, -lo
    means = np.array([estimates[k].mean for k in names], dtype=np.float64)
    scored = ~np.isnan(means)
    signed = means if higher_is_better else -means
    # better[i, j]: system j's interval lies entirely above system i's.
    better = (lo[None, :] > hi[:, None]) & scored[None, :]
    key = np.where(scored, -signed, 0.0)
    position = sorted(range(len(names)), key=lambda i: (not scored[i], key[i], names[i]))
    order = {names[i]: pos + 1 for pos, i in enumerate(position)}
    return {
        name: RankInfo(
            rank=int(1 + better[i].sum()) if scored[i] else None,
            order=order[name],
        )
        for i, name in enumerate(names)
    }


def _bound(value: float, default: float) -> float:
    return default if math.isnan(value) else float(value)
