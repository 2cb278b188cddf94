"""Batched bootstrap replicates equal recomputing each coefficient on each resampled matrix.

The references below are written the straightforward way (a Python loop over replicates, rater
pairs and units, calling the plain coefficients of chatanime.metrics.agreement), so a change in
the batched algebra cannot hide behind shared code. Pooled kappa must match bit for bit;
alpha and the one-way ICC sum the same terms in another order and must match to 1e-12.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import combinations

import numpy as np
import pytest

from chatanime.metrics import agreement
from chatanime.metrics.agreement import (
    BatchedStatistic,
    bootstrap_agreement,
    icc,
    krippendorff_alpha,
    resample_multiplicity,
    weighted_kappa,
)
from chatanime.metrics.agreement_replicates import (
    AlphaStatistic,
    OneWayIcc,
    PooledKappa,
    rating_slots,
)

NAN = math.nan
Matrix = np.ndarray
TOLERANCE = 1e-12


def _ratings(seed: int) -> Matrix:
    """raters x units Likert ratings: many ties, a random share missing, some empty units."""
    rng = np.random.default_rng(seed)
    raters, units = int(rng.integers(2, 7)), int(rng.integers(4, 50))
    truth = rng.integers(1, 6, units)
    data = np.clip(truth + rng.integers(-1, 2, (raters, units)), 1, 5).astype(float)
    data[rng.random((raters, units)) < rng.uniform(0.0, 0.6)] = NAN
    return np.asarray(data, dtype=np.float64)


def _overlap_design(seed: int, units: int = 30) -> Matrix:
    """4 raters, every unit rated by a different pair (the annotation study's design)."""
    rng = np.random.default_rng(seed)
    data = np.full((4, units), NAN)
    for j in range(units):
        who = rng.choice(4, size=2, replace=False)
        data[who, j] = rng.integers(1, 6, 2)
    return data


CASES = [_ratings(seed) for seed in range(8)] + [_overlap_design(seed) for seed in range(3)]


# --- straightforward references ----------------------------------------------------------------


def _reference_pooled_kappa(matrix: Matrix) -> float:
    total, weight = 0.0, 0
    for i, j in combinations(range(matrix.shape[0]), 2):
        shared = [u for u in range(matrix.shape[1]) if not np.isnan(matrix[[i, j], u]).any()]
        if len(shared) < 2:
            continue
        k = weighted_kappa(matrix[i, shared], matrix[j, shared], weights="quadratic")
        if math.isfinite(k):
            total += k * len(shared)
            weight += len(shared)
    return total / weight if weight else NAN


def _reference_icc_oneway(matrix: Matrix) -> float:
    rows = [[v for v in matrix[:, u] if not math.isnan(v)] for u in range(matrix.shape[1])]
    counts = [len(r) for r in rows if len(r) >= 2]
    if len(counts) < 2:
        return NAN
    overlap = min(c for c in set(counts) if counts.count(c) == max(map(counts.count, counts)))
    table = np.array([r[:overlap] for r in rows if len(r) >= overlap], dtype=float)
    return icc(table, "ICC(1,1)")


def _reference_alpha(level: str) -> Callable[[Matrix], float]:
    return lambda m: krippendorff_alpha(m, level)  # type: ignore[arg-type]


STATISTICS: list[tuple[str, BatchedStatistic, Callable[[Matrix], float], bool]] = [
    ("pooled kappa", PooledKappa(), _reference_pooled_kappa, True),
    ("one-way ICC", OneWayIcc(), _reference_icc_oneway, False),
    *[
        (f"alpha {level}", AlphaStatistic(level), _reference_alpha(level), False)
        for level in ("ordinal", "nominal", "interval", "ratio")
    ],
]
IDS = [name for name, *_ in STATISTICS]


def _reference_bootstrap(
    fn: Callable[[Matrix], float], data: Matrix, n_boot: int, seed: int
) -> tuple[float, np.ndarray, float, float]:
    """The per-replicate loop: same draws as bootstrap_agreement (same generator calls)."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, data.shape[1], size=(n_boot, data.shape[1]))
    replicates = np.array([fn(data[:, idx]) for idx in draws])
    finite = replicates[np.isfinite(replicates)]
    lo, hi = np.quantile(finite, [0.025, 0.975]) if finite.size else (NAN, NAN)
    return fn(data), replicates, float(lo), float(hi)


def _assert_same(batched: np.ndarray, reference: np.ndarray, exact: bool) -> None:
    assert np.array_equal(np.isnan(batched), np.isnan(reference))
    if exact:
        assert np.array_equal(batched, reference, equal_nan=True)
    else:
        np.testing.assert_allclose(batched, reference, rtol=0, atol=TOLERANCE, equal_nan=True)


# --- equality with the references ------------------------------------------------------------


@pytest.mark.parametrize(("name", "stat", "reference", "exact"), STATISTICS, ids=IDS)
def test_point_estimate_is_the_plain_coefficient(
    name: str, stat: BatchedStatistic, reference: Callable[[Matrix], float], exact: bool
) -> None:
    for data in CASES:
        assert np.array_equal([stat(data)], [reference(data)], equal_nan=True), name


@pytest.mark.parametrize(("name", "stat", "reference", "exact"), STATISTICS, ids=IDS)
@pytest.mark.parametrize("case", range(len(CASES)))
def test_replicates_equal_recomputing_each_resample(
    name: str, stat: BatchedStatistic, reference: Callable[[Matrix], float], exact: bool, case: int
) -> None:
    data = CASES[case]
    draws = np.random.default_rng(case).integers(0, data.shape[1], size=(60, data.shape[1]))
    batched = stat.replicates(data, resample_multiplicity(draws, data.shape[1]))
    _assert_same(batched, np.array([reference(data[:, idx]) for idx in draws]), exact)


@pytest.mark.parametrize(("name", "stat", "reference", "exact"), STATISTICS, ids=IDS)
@pytest.mark.parametrize("seed", [0, 7, 123])
def test_bootstrap_interval_equals_the_per_replicate_loop(
    name: str, stat: BatchedStatistic, reference: Callable[[Matrix], float], exact: bool, seed: int
) -> None:
    data = CASES[seed % len(CASES)]
    point, replicates, lo, hi = _reference_bootstrap(reference, data, 150, seed)
    assert np.isfinite(replicates).any()  # the case exercises the interval, not just NaN
    est = bootstrap_agreement(stat, data, n_boot=150, seed=seed)
    assert np.array_equal([est.mean], [point], equal_nan=True)
    _assert_same(np.array([est.lo, est.hi]), np.array([lo, hi]), exact)
    assert est.n == data.shape[1]


def test_batches_are_stitched_in_replicate_order(monkeypatch: pytest.MonkeyPatch) -> None:
    data = CASES[2]
    whole = bootstrap_agreement(PooledKappa(), data, n_boot=97, seed=4)
    monkeypatch.setattr(agreement, "_BATCH_CELLS", 1)  # one replicate per batch
    assert bootstrap_agreement(PooledKappa(), data, n_boot=97, seed=4) == whole
    _, _, lo, hi = _reference_bootstrap(_reference_pooled_kappa, data, 97, 4)
    assert (whole.lo, whole.hi) == (lo, hi)


def test_undefined_data_gives_nan_not_errors() -> None:
    empty = np.full((3, 5), NAN)
    single = np.array([[1.0, NAN, 3.0, NAN], [NAN, 2.0, NAN, 4.0]])  # nothing rated twice
    flat = np.full((2, 6), 3.0)  # no variance: every coefficient is 0/0
    one_pair = np.array([[1.0, 2.0, NAN, 4.0], [1.0, NAN, 3.0, NAN]])  # one shared unit
    for data in (empty, single, flat, one_pair):
        for _, stat, reference, _ in STATISTICS:
            est = bootstrap_agreement(stat, data, n_boot=40, seed=1)
            point, replicates, lo, hi = _reference_bootstrap(reference, data, 40, 1)
            assert np.array_equal([est.mean, est.lo, est.hi], [point, lo, hi], equal_nan=True)
            assert not np.isfinite(replicates).any()


def test_kappa_categories_and_weights_are_honoured() -> None:
    rng = np.random.default_rng(5)
    data = rng.integers(0, 3, (3, 25)).astype(float)
    data[rng.random(data.shape) < 0.2] = NAN
    stat = PooledKappa(weights="linear", categories=(2.0, 0.0, 1.0))  # unsorted on purpose
    draws = rng.integers(0, 25, size=(40, 25))
    batched = stat.replicates(data, resample_multiplicity(draws, 25))
    for b, idx in enumerate(draws):
        m = data[:, idx]
        pairs = []
        for i, j in combinations(range(3), 2):
            keep = ~np.isnan(m[i]) & ~np.isnan(m[j])
            if keep.sum() >= 2:
                k = weighted_kappa(m[i, keep], m[j, keep], (2.0, 0.0, 1.0), "linear")
                pairs.append((k, int(keep.sum())))
        ok = [(k, n) for k, n in pairs if math.isfinite(k)]
        total = 0.0
        for k, n in ok:
            total += k * n
        expected = total / sum(n for _, n in ok) if ok else NAN
        assert np.array_equal([batched[b]], [expected], equal_nan=True)
    with pytest.raises(ValueError, match="outside categories"):
        PooledKappa().replicates(data, resample_multiplicity(draws, 25))  # 0 is not Likert


def test_a_statistic_on_another_axis_falls_back_to_the_loop() -> None:
    data = CASES[1]
    # AlphaStatistic's units are columns; resampling rows (axis=0) must take the plain loop.
    est = bootstrap_agreement(AlphaStatistic("interval"), data, axis=0, n_boot=30, seed=2)
    rng = np.random.default_rng(2)
    draws = rng.integers(0, data.shape[0], size=(30, data.shape[0]))
    loop = np.array([krippendorff_alpha(data[idx], "interval") for idx in draws])
    finite = loop[np.isfinite(loop)]
    lo, hi = np.quantile(finite, [0.025, 0.975]) if finite.size else (NAN, NAN)
    assert np.array_equal([est.lo, est.hi], [lo, hi], equal_nan=True)


def test_resample_multiplicity_counts_draws_per_row() -> None:
    draws = np.array([[0, 0, 2], [1, 2, 1], [2, 2, 2]])
    expected = [[2, 0, 1], [0, 2, 1], [0, 0, 3]]
    assert resample_multiplicity(draws, 3).tolist() == expected


def test_rating_slots_pack_each_units_ratings_in_rater_order() -> None:
    data = np.array([[1.0, NAN, 3.0], [NAN, NAN, 4.0], [2.0, 5.0, 1.0]])
    slots = rating_slots(data)
    assert np.array_equal(
        slots, [[1.0, 2.0, NAN], [5.0, NAN, NAN], [3.0, 4.0, 1.0]], equal_nan=True
    )
    assert rating_slots(np.full((1, 2), NAN)).shape == (2, 2)  # always at least two slots


# --- the plain kappa, reworked for speed, still counts the same confusion matrix -------------


def _reference_kappa(a: np.ndarray, b: np.ndarray, cats: list[float], weights: str | None) -> float:
    keep = ~(np.isnan(a) | np.isnan(b))
    ia = [cats.index(v) for v in a[keep]]
    ib = [cats.index(v) for v in b[keep]]
    if not ia:
        return NAN
    k = len(cats)
    observed = np.zeros((k, k))
    np.add.at(observed, (ia, ib), 1.0)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / len(ia)
    distance = np.abs(np.arange(k)[:, None] - np.arange(k)[None, :]) / (k - 1)
    w = {None: (distance > 0).astype(float), "linear": distance, "quadratic": distance**2}
    chance = float((w[weights] * expected).sum())
    if chance == 0.0:
        return NAN
    return 1.0 - float((w[weights] * observed).sum()) / chance


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_weighted_kappa_is_bit_identical_to_the_plain_confusion_matrix(
    weights: str | None,
) -> None:
    rng = np.random.default_rng(11)
    for cats in ([1.0, 2.0, 3.0, 4.0, 5.0], [3.0, 1.0, 2.0], [0.0, 1.0]):
        for _ in range(20):
            n = int(rng.integers(0, 30))
            a = rng.choice(cats, n)
            b = rng.choice(cats, n)
            a[rng.random(n) < 0.2] = NAN
            got = weighted_kappa(a, b, cats, weights)  # type: ignore[arg-type]
            assert np.array_equal([got], [_reference_kappa(a, b, cats, weights)], equal_nan=True)
