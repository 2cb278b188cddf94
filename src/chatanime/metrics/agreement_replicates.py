"""Agreement coefficients of a rating study whose bootstrap replicates are scored all at once.

Why this module exists: a rated report bootstraps three coefficients for every metric of every
study (2,000 replicates each). Recomputing a coefficient on each resampled matrix costs
0.1-0.5 ms, nearly all of it numpy call overhead, and made the agreement section the slowest
part of a rated report. Resampling units only changes how often each unit counts, so each
coefficient below is written from per-unit sufficient statistics weighted by the replicate's
multiplicities, and all replicates become a few matrix products (see
:class:`chatanime.metrics.agreement.BatchedStatistic`, which
:func:`~chatanime.metrics.agreement.bootstrap_agreement` recognises).

Every statistic takes a raters x units matrix with NaN for missing ratings. Calling it gives the
point estimate by the plain definition (the same code path a per-replicate loop would run);
``replicates`` gives the bootstrap values. Equality with recomputing per replicate, pinned by
tests/metrics/test_agreement_replicates.py:

* :class:`PooledKappa`: bit-identical. Confusion counts are whole numbers (exact in any order)
  and the remaining arithmetic runs in the reference's order.
* :class:`AlphaStatistic` and :class:`OneWayIcc`: the same terms summed in another order, so
  equal to rounding (~1e-15; the tests demand 1e-12) on Likert-type data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations
from typing import ClassVar

import numpy as np

from chatanime.metrics.agreement import (
    AlphaLevel,
    FloatArray,
    IntArray,
    KappaWeights,
    category_index,
    icc,
    kappa_categories,
    kappa_weight_matrix,
    krippendorff_alpha,
    weighted_kappa,
)
from chatanime.metrics.agreement import (
    _delta as alpha_delta,
)
from chatanime.metrics.agreement import (
    _value_counts as value_counts,
)

__all__ = ["AlphaStatistic", "OneWayIcc", "PooledKappa", "rating_slots"]

LIKERT_5 = (1.0, 2.0, 3.0, 4.0, 5.0)


def _nan_where(invalid: np.ndarray, numer: FloatArray, denom: FloatArray) -> FloatArray:
    """numer / denom with NaN wherever ``invalid`` (no warnings for the 0/0 it masks)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = numer / denom
    return np.asarray(np.where(invalid, np.nan, out), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class AlphaStatistic:
    """Krippendorff's alpha at ``level`` (:func:`~chatanime.metrics.agreement.krippendorff_alpha`).

    A replicate's coincidence matrix is the multiplicity-weighted sum of the pairable units'
    own coincidence matrices, so all replicates are one (replicates x units) @ (units x K^2)
    product. Values absent from a replicate only add zero terms.
    """

    level: AlphaLevel = "ordinal"
    units_axis: ClassVar[int] = 1

    def __call__(self, matrix: FloatArray) -> float:
        return krippendorff_alpha(matrix, self.level)

    def replicates(self, matrix: FloatArray, multiplicity: IntArray) -> FloatArray:
        data = np.asarray(matrix, dtype=np.float64)
        values, counts = value_counts(data)
        per_unit = counts.sum(axis=1)
        pairable = per_unit >= 2
        n_rep, k = multiplicity.shape[0], values.size
        if k == 0 or not np.any(pairable):
            return np.full(n_rep, np.nan)
        c, m = counts[pairable], per_unit[pairable]
        own = (c[:, :, None] * c[:, None, :] - c[:, :, None] * np.eye(k)) / (m - 1.0)[:, None, None]
        weights = multiplicity[:, pairable].astype(np.float64)
        coincidences = (weights @ own.reshape(-1, k * k)).reshape(n_rep, k, k)
        marginals = coincidences.sum(axis=2)
        n = marginals.sum(axis=1)
        if self.level == "ordinal":
            # alpha_delta's ordinal formula, for every replicate's marginals at once.
            cum = np.cumsum(marginals, axis=1)
            halves = (marginals[:, :, None] - marginals[:, None, :]) / 2.0
            delta = (cum[:, None, :] - cum[:, :, None] + halves) ** 2
        else:
            delta = np.broadcast_to(alpha_delta(values, np.zeros(k), self.level), (n_rep, k, k))
        flat = (n_rep, k * k)
        expected = (marginals[:, :, None] * marginals[:, None, :] * delta).reshape(flat).sum(1)
        observed = (coincidences * delta).reshape(flat).sum(axis=1)
        return 1.0 - _nan_where(expected == 0.0, (n - 1.0) * observed, expected)


@dataclass(frozen=True, slots=True)
class PooledKappa:
    """Weighted Cohen's kappa of every rater pair on their shared units, pooled by unit count.

    Pairs sharing fewer than two units, or whose kappa is undefined, are left out; NaN when no
    pair is left. A replicate's confusion matrix for a pair is its multiplicities summed per
    (category, category) cell: one (replicates x shared units) @ (shared units x K^2) product.
    """

    weights: KappaWeights = "quadratic"
    categories: tuple[float, ...] = LIKERT_5
    units_axis: ClassVar[int] = 1

    def __call__(self, matrix: FloatArray) -> float:
        data = np.asarray(matrix, dtype=np.float64)
        total, weight = 0.0, 0
        for i, j in combinations(range(data.shape[0]), 2):
            shared = ~np.isnan(data[i]) & ~np.isnan(data[j])
            n = int(shared.sum())
            if n < 2:
                continue
            k = weighted_kappa(data[i, shared], data[j, shared], self.categories, self.weights)
            if math.isfinite(k):
                total += k * n
                weight += n
        return total / weight if weight else math.nan

    def replicates(self, matrix: FloatArray, multiplicity: IntArray) -> FloatArray:
        data = np.asarray(matrix, dtype=np.float64)
        cats = kappa_categories(self.categories)
        w = kappa_weight_matrix(cats.size, self.weights)
        total = np.zeros(multiplicity.shape[0])
        weight = np.zeros(multiplicity.shape[0], dtype=np.int64)
        for i, j in combinations(range(data.shape[0]), 2):
            shared = ~np.isnan(data[i]) & ~np.isnan(data[j])
            if not np.any(shared):
                continue
            kappa, n = self._pair(data[i, shared], data[j, shared], multiplicity[:, shared], w)
            # Adding 0.0 leaves a sum unchanged, so this is the reference's "skip the pair".
            valid = np.isfinite(kappa) & (n >= 2)
            total += np.where(valid, kappa * n, 0.0)
            weight += np.where(valid, n, 0)
        return _nan_where(weight == 0, total, weight.astype(np.float64))

    def _pair(
        self, a: FloatArray, b: FloatArray, multiplicity: IntArray, w: FloatArray
    ) -> tuple[FloatArray, IntArray]:
        """Each replicate's kappa for one pair (NaN if undefined) and its number of units."""
        cats = kappa_categories(self.categories)
        k = cats.size
        cell = category_index(a, cats) * k + category_index(b, cats)
        onehot = np.zeros((cell.size, k * k))
        onehot[np.arange(cell.size), cell] = 1.0
        observed = (multiplicity.astype(np.float64) @ onehot).reshape(-1, k, k)
        n = multiplicity.sum(axis=1)
        rows, cols = observed.sum(axis=2), observed.sum(axis=1)
        # The reference's np.outer(rows, cols) / n, element by element.
        with np.errstate(divide="ignore", invalid="ignore"):
            expected = rows[:, :, None] * cols[:, None, :] / n[:, None, None]
        flat = (observed.shape[0], k * k)
        chance = (w * expected).reshape(flat).sum(axis=1)
        disagreement = (w * observed).reshape(flat).sum(axis=1)
        undefined = (n == 0) | (chance == 0.0)
        return 1.0 - _nan_where(undefined, disagreement, chance), n


def rating_slots(matrix: FloatArray) -> FloatArray:
    """raters x units -> units x slots: each unit's ratings packed left (NaN-padded).

    A stable sort of "missing" per unit keeps the raters' order; at least two slots.
    """
    units = np.asarray(matrix, dtype=np.float64).T
    missing = np.isnan(units)
    width = int(max((~missing).sum(axis=1).max(initial=0), 2))
    order = np.argsort(missing, axis=1, kind="stable")
    packed = np.take_along_axis(units, order, axis=1)[:, :width]
    out = np.full((units.shape[0], width), np.nan)
    out[:, : packed.shape[1]] = packed
    return out


@dataclass(frozen=True, slots=True)
class OneWayIcc:
    """ICC(1,1) for a design where each unit is rated by a different subset of raters.

    Units are packed into rating slots (:func:`rating_slots`); the design's overlap k is the
    most common number of ratings among units rated at least twice (ties: the smaller), and the
    one-way ICC is taken over the first k slots of every unit with at least k ratings. Per
    replicate, k is recomputed from the replicate's units, as the plain definition does.
    """

    units_axis: ClassVar[int] = 1

    def __call__(self, matrix: FloatArray) -> float:
        slots = rating_slots(matrix)
        counts = (~np.isnan(slots)).sum(axis=1)
        pairable = counts >= 2
        if pairable.sum() < 2:
            return math.nan
        k = int(np.bincount(counts[pairable]).argmax())
        return icc(slots[counts >= k][:, :k], "ICC(1,1)")

    def replicates(self, matrix: FloatArray, multiplicity: IntArray) -> FloatArray:
        slots = rating_slots(matrix)
        counts = (~np.isnan(slots)).sum(axis=1)
        out = np.full(multiplicity.shape[0], np.nan)
        if counts.size == 0 or counts.max() < 2:
            return out
        # Per replicate: how many drawn units have each number of ratings (0 and 1 don't count).
        by_count = np.stack(
            [multiplicity[:, counts == c].sum(axis=1) for c in range(int(counts.max()) + 1)],
            axis=1,
        )
        by_count[:, :2] = 0
        overlap = by_count.argmax(axis=1)  # first maximum: the smaller count on ties
        defined = by_count.sum(axis=1) >= 2
        for k in np.unique(overlap[defined]):
            chosen = defined & (overlap == k)
            rows = counts >= k
            out[chosen] = _icc_1_1(slots[rows][:, :k], multiplicity[chosen][:, rows])
        return out


def _icc_1_1(data: FloatArray, multiplicity: IntArray) -> FloatArray:
    """ICC(1,1) of complete units x k ``data`` for each replicate's unit multiplicities.

    The same centred sums of squares as :func:`chatanime.metrics.agreement.icc`, with every
    unit's terms counted as often as it was drawn.
    """
    k = data.shape[1]
    weights = multiplicity.astype(np.float64)
    n = weights.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        grand = (weights @ data.sum(axis=1)) / (n * k)
    spread = ((data[None, :, :] - grand[:, None, None]) ** 2).sum(axis=2)
    ss_total = (weights * spread).sum(axis=1)
    ss_rows = k * (weights * (data.mean(axis=1)[None, :] - grand[:, None]) ** 2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        msr = ss_rows / (n - 1.0)
        msw = (ss_total - ss_rows) / (n * (k - 1))
    denom = msr + (k - 1) * msw
    return _nan_where((n < 2) | (denom == 0.0), msr - msw, denom)
