"""Paired tests and Holm — checked against hand-computed values and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from chatanime.metrics.significance import holm, paired_compare, rank_biserial

# --- paired_compare ---------------------------------------------------------------------------

# Hand-ranked: |d| zeros take ranks 1-4 (2.5 each), the four 1s ranks 5-8 (6.5), 2 -> 9, 3 -> 10.
# R+ = 3*6.5 + 9 + 10 + 4*2.5/2 = 43.5, R- = 6.5 + 5 = 11.5; rank-biserial = 32/55.
D_LIKERT = np.array([0, 0, 0, 1, 1, 2, -1, 0, 3, 1], dtype=float)


def test_wilcoxon_uses_zero_split_and_matches_hand_ranks() -> None:
    y = np.array([3, 4, 2, 3, 2, 1, 4, 5, 1, 3], dtype=float)
    res = paired_compare(y + D_LIKERT, y, method="wilcoxon")
    assert res.statistic == pytest.approx(11.5)
    assert res.effect_size == pytest.approx(32 / 55)
    assert res.mean_diff == pytest.approx(0.7)
    ref = sps.wilcoxon(D_LIKERT, zero_method="zsplit")
    assert res.p_value == pytest.approx(float(ref.pvalue), rel=1e-12)
    assert (res.n, res.method, res.n_dropped) == (10, "wilcoxon", 0)


def test_rank_biserial_sign_and_zero_handling() -> None:
    assert rank_biserial([1.0, 2.0, 3.0]) == pytest.approx(1.0)
    assert rank_biserial([-1.0, -2.0]) == pytest.approx(-1.0)
    # one positive difference among nine ties: a small effect, not a perfect one
    assert rank_biserial([0.0] * 9 + [1.0]) == pytest.approx(10 / 55)
    assert math.isnan(rank_biserial([]))


def test_exact_sign_flip_p_value_by_enumeration() -> None:
    # d = 1,2,3,4: only the all-plus and all-minus patterns reach |sum| = 10 -> 2/16.
    res = paired_compare([2.0, 3.0, 4.0, 5.0], [1.0, 1.0, 1.0, 1.0], method="permutation")
    assert res.p_value == pytest.approx(2 / 16)
    assert res.statistic == pytest.approx(2.5)
    # d = 1,1,-1: sums are +-1 (6 patterns) or +-3 (2 patterns) -> every pattern is as extreme.
    res = paired_compare([1.0, 1.0, 0.0], [0.0, 0.0, 1.0], method="permutation")
    assert res.p_value == pytest.approx(1.0)


def test_monte_carlo_sign_flip_agrees_with_its_normal_limit() -> None:
    d = np.random.default_rng(3).normal(0.15, 1.0, 300)
    res = paired_compare(d, np.zeros_like(d), method="permutation", n_perm=20_000, seed=1)
    z = d.sum() / math.sqrt((d**2).sum())
    assert res.p_value == pytest.approx(2 * sps.norm.sf(abs(z)), abs=0.01)


def test_monte_carlo_p_value_is_never_zero() -> None:
    d = np.full(40, 2.0) + np.linspace(0, 1, 40)
    res = paired_compare(d, np.zeros(40), method="permutation", n_perm=500)
    assert res.p_value == pytest.approx(1 / 501)


@pytest.mark.parametrize("method", ["wilcoxon", "permutation"])
def test_all_ties_give_p_one(method: str) -> None:
    x = np.array([3.0, 4.0, 5.0] * 10)
    res = paired_compare(x, x.copy(), method=method)  # type: ignore[arg-type]
    assert (res.p_value, res.effect_size, res.mean_diff) == (1.0, 0.0, 0.0)


def test_pairs_with_nan_are_dropped_and_counted() -> None:
    x = [1.0, 2.0, math.nan, 4.0, 5.0]
    y = [0.0, 1.0, 3.0, math.nan, 3.0]
    res = paired_compare(x, y, method="permutation")
    assert (res.n, res.n_dropped) == (3, 2)
    assert res.mean_diff == pytest.approx(4 / 3)


def test_paired_compare_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        paired_compare([1.0, math.nan], [1.0, 2.0])
    with pytest.raises(ValueError, match="equal length"):
        paired_compare([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="unknown method"):
        paired_compare([1.0, 2.0], [2.0, 1.0], method="t-test")  # type: ignore[arg-type]


# --- holm -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "adjusted"),
    [
        # sorted 0.005,0.01,0.03,0.04 x 4,3,2,1 = .02,.03,.06,.04 -> running max .02,.03,.06,.06
        ([0.01, 0.04, 0.03, 0.005], [0.03, 0.06, 0.06, 0.02]),
        ([0.01, 0.02, 0.03, 0.04, 0.05], [0.05, 0.08, 0.09, 0.09, 0.09]),
        ([0.5, 0.6, 0.7], [1.0, 1.0, 1.0]),
        ([0.01, math.nan, 0.04], [0.02, math.nan, 0.04]),
        ([], []),
    ],
)
def test_holm_known_values(raw: list[float], adjusted: list[float]) -> None:
    np.testing.assert_allclose(holm(raw), adjusted, rtol=1e-12, equal_nan=True)


def test_holm_is_monotone_in_the_raw_p_values() -> None:
    p = np.random.default_rng(0).random(50) ** 3
    adj = holm(p)
    order = np.argsort(p)
    assert np.all(np.diff(adj[order]) >= 0)
    assert np.all(adj >= p) and np.all(adj <= 1)


def test_holm_rejects_invalid_p_values() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm([0.2, 1.5])
