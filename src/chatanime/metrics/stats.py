"""Uncertainty for leaderboard numbers: cluster bootstrap, paired tests, Holm, tied ranks.

Why these choices:

* A ChatAnime score is an average over items that are *crossed* by character (20) and scenario
  (60). Items that share a character (or a scenario) are correlated — a character the model
  knows badly drags down all 60 of its items — so the 1,200 items are far fewer than 1,200
  independent observations. Resampling items i.i.d. ignores that and gives intervals that are
  too narrow; :func:`cluster_bootstrap_ci` resamples characters and scenarios instead.
* Systems are compared on *matched* items with paired tests, and many comparisons are adjusted
  with Holm; those live in :mod:`chatanime.metrics.significance` and are re-exported here
  (``paired_compare``, ``PairedResult``, ``rank_biserial``, ``holm``), so callers keep one
  import for the statistics layer.
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

import numpy as np
from numpy.typing import ArrayLike, NDArray

from chatanime.metrics.significance import (
    EXACT_SIGN_FLIP_MAX_N,
    WILCOXON_PERMUTATION_MAX_N,
    PairedMethod,
    PairedResult,
    holm,
    paired_compare,
    rank_biserial,
)

__all__ = [
    "EXACT_SIGN_FLIP_MAX_N",
    "WILCOXON_PERMUTATION_MAX_N",
    "Estimate",
    "FloatArray",
    "PairedMethod",
    "PairedResult",
    "RankInfo",
    "cluster_bootstrap_ci",
    "holm",
    "paired_compare",
    "rank_biserial",
    "ranks_with_ties",
]

FloatArray = NDArray[np.float64]


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
    v, char_codes, scen_codes, n_missing = _scored_items(v, characters, scenarios)
    if v.size == 0:
        return Estimate(math.nan, math.nan, math.nan, 0, n_missing)
    mean = float(v.mean())
    if v.size < 2:
        return Estimate(mean, math.nan, math.nan, int(v.size), n_missing)
    totals, counts = _cell_tables(v, char_codes, scen_codes)
    lo, hi = _percentile_interval(_replicate_means(totals, counts, n_boot, seed), level)
    return Estimate(mean, lo, hi, int(v.size), n_missing)


def _scored_items(
    v: FloatArray, characters: ArrayLike, scenarios: ArrayLike
) -> tuple[FloatArray, NDArray[np.intp], NDArray[np.intp], int]:
    """The scored items with their character and scenario codes, and the number of NaN
    (unscored) items left out. Labels are checked against all items, so a label array of the
    wrong length is an error even where the values are NaN."""
    char_codes = _labels_to_codes(characters, v.size, "characters")
    scen_codes = _labels_to_codes(scenarios, v.size, "scenarios")
    keep = ~np.isnan(v)
    n_missing = int(v.size - keep.sum())
    return v[keep], char_codes[keep], scen_codes[keep], n_missing


def _replicate_means(totals: FloatArray, counts: FloatArray, n_boot: int, seed: int) -> FloatArray:
    """The pigeonhole replicates' weighted means, ``(w_c' T w_s) / (w_c' N w_s)`` for all
    replicates at once; a replicate that drew no item has no mean and is left out."""
    n_char, n_scen = totals.shape
    w_char, w_scen = _bootstrap_weights(n_char, n_scen, n_boot, seed)
    numer: FloatArray = np.einsum("bs,bs->b", w_char @ totals, w_scen)
    denom: FloatArray = np.einsum("bs,bs->b", w_char @ counts, w_scen)
    ok = denom > 0
    return numer[ok] / denom[ok]


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
