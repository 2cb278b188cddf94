"""Agreement coefficients against published worked examples and hand computations.

Reference values:
* Krippendorff's reliability data (4 coders x 12 units, missing values), as in Krippendorff
  (2011) "Computing Krippendorff's Alpha-Reliability" and irr::kripp.alpha's example: nominal
  .743, ordinal .815, interval .849, ratio .797. Full-precision values were cross-checked
  offline with the `krippendorff` PyPI package (0.691358 / 0.810845 for the Wikipedia example
  come from that package's own test-suite).
* Shrout & Fleiss (1979) Table 2 (6 targets x 4 judges): ICC(1,1)=.17, (2,1)=.29, (3,1)=.71,
  (1,4)=.44, (2,4)=.62, (3,4)=.91; six-digit values cross-checked offline with pingouin.
* Cohen's kappa: the Wikipedia yes/no example (kappa = 0.4) and a 5-point example whose
  kappas are the fractions 3/11, 41/69, 9/11 (cross-checked offline with scikit-learn).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from chatanime.metrics.agreement import (
    Correlations,
    bootstrap_agreement,
    correlations,
    icc,
    krippendorff_alpha,
    system_rank_correlation,
    weighted_kappa,
)

NAN = math.nan
KRIPPENDORFF_DATA = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
]
WIKIPEDIA_DATA = [
    [NAN, NAN, NAN, NAN, NAN, 3, 4, 1, 2, 1, 1, 3, 3, NAN, 3],
    [1, NAN, 2, 1, 3, 3, 4, 3, NAN, NAN, NAN, NAN, NAN, NAN, NAN],
    [NAN, NAN, 2, 1, 3, 4, 4, NAN, 2, 1, 1, 3, 3, NAN, 4],
]
SHROUT_FLEISS = np.array(
    [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]],
    dtype=float,
)


# --- Krippendorff's alpha ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "published", "precise"),
    [
        ("nominal", 0.743, 0.743421052631579),
        ("ordinal", 0.815, 0.8153875037548814),
        ("interval", 0.849, 0.8491071428571428),
        ("ratio", 0.797, 0.7974027747116121),
    ],
)
def test_alpha_on_krippendorffs_worked_example(
    level: str, published: float, precise: float
) -> None:
    alpha = krippendorff_alpha(KRIPPENDORFF_DATA, level)  # type: ignore[arg-type]
    assert round(alpha, 3) == published
    assert alpha == pytest.approx(precise, abs=1e-12)


@pytest.mark.parametrize(("level", "expected"), [("nominal", 0.691358), ("interval", 0.810845)])
def test_alpha_on_the_wikipedia_example(level: str, expected: float) -> None:
    assert round(krippendorff_alpha(WIKIPEDIA_DATA, level), 6) == expected  # type: ignore[arg-type]


def test_alpha_ignores_rater_and_unit_order_but_not_orientation() -> None:
    data = np.array(KRIPPENDORFF_DATA)
    rng = np.random.default_rng(0)
    shuffled = data[rng.permutation(4)][:, rng.permutation(12)]
    assert krippendorff_alpha(shuffled, "interval") == pytest.approx(0.8491071428571428)
    assert krippendorff_alpha(data.T, "interval") != pytest.approx(0.8491071428571428)


def test_alpha_edge_cases() -> None:
    perfect: list[list[float]] = [[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, NAN, 4]]
    assert krippendorff_alpha(perfect, "nominal") == 1.0
    assert krippendorff_alpha(perfect, "ordinal") == 1.0
    # one value everywhere: expected disagreement is 0, alpha = 0/0
    assert math.isnan(krippendorff_alpha([[3, 3, 3], [3, 3, 3]], "interval"))
    # no unit rated twice: nothing pairable
    assert math.isnan(krippendorff_alpha([[1, NAN], [NAN, 2]]))
    # systematic disagreement is worse than chance
    assert krippendorff_alpha([[1, 2, 1, 2], [2, 1, 2, 1]]) < 0
    assert krippendorff_alpha([[0, 1, 2], [0, 1, 2]], "ratio") == 1.0


def test_alpha_rejects_malformed_input() -> None:
    with pytest.raises(ValueError, match="2-D"):
        krippendorff_alpha([1, 2, 3])
    with pytest.raises(ValueError, match="unknown level"):
        krippendorff_alpha(KRIPPENDORFF_DATA, "circular")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-negative"):
        krippendorff_alpha([[-1, 2], [-1, 3]], "ratio")


# --- ICC --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "published", "precise"),
    [
        ("ICC(1,1)", 0.17, 0.165742),
        ("ICC(2,1)", 0.29, 0.289764),
        ("ICC(3,1)", 0.71, 0.714841),
        ("ICC(1,k)", 0.44, 0.442797),
        ("ICC(2,k)", 0.62, 0.620051),
        ("ICC(3,k)", 0.91, 0.909316),
    ],
)
def test_icc_on_shrout_fleiss_table_2(kind: str, published: float, precise: float) -> None:
    value = icc(SHROUT_FLEISS, kind)  # type: ignore[arg-type]
    assert round(value, 2) == published
    assert value == pytest.approx(precise, abs=1e-6)


def test_icc_drops_incomplete_units() -> None:
    padded = np.vstack([SHROUT_FLEISS, [1.0, NAN, 9.0, 9.0]])
    assert icc(padded, "ICC(2,1)") == pytest.approx(icc(SHROUT_FLEISS, "ICC(2,1)"))


def test_icc_edge_cases_and_errors() -> None:
    assert math.isnan(icc([[1.0, 2.0], [NAN, 3.0]]))  # one complete unit left
    assert math.isnan(icc(np.full((4, 3), 2.0)))  # no variance at all
    assert icc([[1, 1], [2, 2], [3, 3]], "ICC(2,1)") == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least 2 raters"):
        icc([[1.0], [2.0]])
    with pytest.raises(ValueError, match="unknown ICC kind"):
        icc(SHROUT_FLEISS, "ICC(4,1)")  # type: ignore[arg-type]


# --- weighted kappa ---------------------------------------------------------------------------

RATER_A = [1, 2, 3, 4, 5, 3, 2, 4, 5, 1, 3, 3, 2, 4]
RATER_B = [1, 3, 3, 5, 4, 3, 1, 4, 5, 2, 2, 4, 2, 3]


def test_unweighted_kappa_textbook_example() -> None:
    # 50 items: yes/yes 20, yes/no 5, no/yes 10, no/no 15 -> po = .7, pe = .5, kappa = .4
    a = [1] * 25 + [0] * 25
    b = [1] * 20 + [0] * 5 + [1] * 10 + [0] * 15
    assert weighted_kappa(a, b, categories=[0, 1], weights=None) == pytest.approx(0.4)


@pytest.mark.parametrize(
    ("weights", "expected"),
    [(None, 3 / 11), ("linear", 41 / 69), ("quadratic", 9 / 11)],
)
def test_weighted_kappa_on_five_point_ratings(weights: str | None, expected: float) -> None:
    value = weighted_kappa(RATER_A, RATER_B, weights=weights)  # type: ignore[arg-type]
    assert value == pytest.approx(expected, abs=1e-12)


def test_kappa_is_symmetric_and_perfect_for_identical_raters() -> None:
    assert weighted_kappa(RATER_B, RATER_A) == pytest.approx(weighted_kappa(RATER_A, RATER_B))
    assert weighted_kappa(RATER_A, RATER_A, weights="quadratic") == pytest.approx(1.0)


def test_kappa_missing_and_undefined_cases() -> None:
    a = [*RATER_A, NAN, 3.0]
    b = [*RATER_B, 2.0, NAN]
    assert weighted_kappa(a, b) == pytest.approx(41 / 69)
    assert math.isnan(weighted_kappa([3, 3, 3], [3, 3, 3]))
    assert math.isnan(weighted_kappa([NAN], [NAN]))


def test_kappa_rejects_malformed_input() -> None:
    with pytest.raises(ValueError, match="outside categories"):
        weighted_kappa([1, 6], [1, 2])
    with pytest.raises(ValueError, match="equal length"):
        weighted_kappa([1, 2], [1])
    with pytest.raises(ValueError, match="unknown weights"):
        weighted_kappa([1, 2], [1, 2], weights="cubic")  # type: ignore[arg-type]


# --- bootstrap_agreement ----------------------------------------------------------------------


def _noisy_ratings(n_units: int, noise: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, 6, n_units)
    return np.clip(truth + np.round(rng.normal(0, noise, (3, n_units))), 1, 5)


def test_bootstrap_agreement_brackets_the_point_estimate() -> None:
    data = _noisy_ratings(80, 0.6, 1)
    est = bootstrap_agreement(lambda m: krippendorff_alpha(m, "ordinal"), data, n_boot=300)
    assert est.mean == pytest.approx(krippendorff_alpha(data, "ordinal"))
    assert est.lo < est.mean < est.hi and est.n == 80
    noisier = bootstrap_agreement(krippendorff_alpha, _noisy_ratings(80, 2.0, 1), n_boot=300)
    assert noisier.hi < est.lo


def test_bootstrap_agreement_resamples_the_chosen_axis() -> None:
    data = _noisy_ratings(40, 0.8, 2).T  # units x raters, as icc wants
    est = bootstrap_agreement(icc, data, axis=0, n_boot=200, seed=3)
    assert est.n == 40 and est.lo < icc(data) < est.hi
    assert bootstrap_agreement(icc, data, axis=0, n_boot=200, seed=3) == est
    with pytest.raises(ValueError, match="axis"):
        bootstrap_agreement(icc, data, axis=2)


# --- correlations -----------------------------------------------------------------------------


def test_correlations_hand_example() -> None:
    # ranks differ by -1,1,-1,1,0: rho = 1 - 6*4/120 = .8; 8 concordant, 2 discordant: tau = .6
    res = correlations([1, 2, 3, 4, 5, NAN], [2, 1, 4, 3, 5, 1])
    assert isinstance(res, Correlations) and res.n == 5
    assert (res.spearman, res.pearson, res.kendall) == pytest.approx((0.8, 0.8, 0.6))


def test_correlations_undefined_cases() -> None:
    flat = correlations([3, 3, 3, 3], [1, 2, 3, 4])
    assert math.isnan(flat.spearman) and math.isnan(flat.pearson) and flat.n == 4
    assert math.isnan(correlations([1, 2], [2, 1]).kendall)


def test_system_rank_correlation_uses_shared_systems() -> None:
    human = {"a": 4.1, "b": 3.9, "c": 3.0, "d": 2.5}
    judge = {"a": 4.8, "b": 4.5, "c": 4.4, "d": 3.1, "new-model": 5.0}
    assert system_rank_correlation(judge, human) == pytest.approx((1.0, 1.0))
    reversed_judge = {k: -v for k, v in judge.items()}
    assert system_rank_correlation(reversed_judge, human) == pytest.approx((-1.0, -1.0))
    rho, tau = system_rank_correlation({"a": 1.0, "b": 2.0}, human)
    assert math.isnan(rho) and math.isnan(tau)
