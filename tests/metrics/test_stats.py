"""Statistics layer: cluster bootstrap and tied ranks — checked against hand-computed values,
analytic variances and independent reference computations. The paired tests and Holm are in
``test_significance.py``."""

from __future__ import annotations

import math

import numpy as np
import pytest

from chatanime.metrics.stats import (
    Estimate,
    cluster_bootstrap_ci,
    ranks_with_ties,
)

N_CHAR, N_SCEN = 20, 60


def _grid() -> tuple[np.ndarray, np.ndarray]:
    chars = np.repeat([f"char{i}" for i in range(N_CHAR)], N_SCEN)
    scens = np.tile(np.arange(1, N_SCEN + 1), N_CHAR)
    return chars, scens


# --- cluster_bootstrap_ci -------------------------------------------------------------------


def test_bootstrap_point_estimate_and_missing_counts() -> None:
    chars, scens = _grid()
    values = np.random.default_rng(1).integers(1, 6, chars.size).astype(float)
    values[[3, 70, 500]] = np.nan
    est = cluster_bootstrap_ci(values, chars, scens, n_boot=200)
    assert est.mean == pytest.approx(np.nanmean(values), abs=1e-12)
    assert (est.n, est.n_missing) == (chars.size - 3, 3)
    assert est.lo < est.mean < est.hi


def test_two_way_interval_matches_the_crossed_random_effects_variance() -> None:
    """Pure additive character + scenario effects: the mean's variance under the pigeonhole
    bootstrap is var(a)/C + var(b)/S (item noise is zero), so the 95% half-width must be
    ~1.96 times that standard error."""
    rng = np.random.default_rng(7)
    a, b = rng.normal(0, 1.0, N_CHAR), rng.normal(0, 2.0, N_SCEN)
    chars, scens = _grid()
    codes_c, codes_s = np.repeat(np.arange(N_CHAR), N_SCEN), np.tile(np.arange(N_SCEN), N_CHAR)
    values = a[codes_c] + b[codes_s]
    est = cluster_bootstrap_ci(values, chars, scens, n_boot=4000, seed=3)
    se = math.sqrt(a.var() / N_CHAR + b.var() / N_SCEN)
    assert (est.hi - est.lo) / 2 == pytest.approx(1.96 * se, rel=0.12)


def test_item_labels_reduce_to_the_iid_bootstrap_with_the_textbook_se() -> None:
    """Unique character per item and one scenario = plain item resampling: half-width ~ 1.96
    sd/sqrt(n). On clustered data this is much narrower than the two-way interval."""
    rng = np.random.default_rng(11)
    chars, scens = _grid()
    codes_c = np.repeat(np.arange(N_CHAR), N_SCEN)
    values = rng.normal(0, 1.0, N_CHAR)[codes_c] + rng.normal(0, 1.0, chars.size)
    iid = cluster_bootstrap_ci(values, np.arange(values.size), np.zeros(values.size), seed=5)
    expected = 1.96 * values.std() / math.sqrt(values.size)
    assert (iid.hi - iid.lo) / 2 == pytest.approx(expected, rel=0.1)
    clustered = cluster_bootstrap_ci(values, chars, scens, seed=5)
    assert clustered.hi - clustered.lo > 2.5 * (iid.hi - iid.lo)


def _explicit_pigeonhole(
    values: np.ndarray, chars: np.ndarray, scens: np.ndarray, n_boot: int, seed: int, level: float
) -> np.ndarray:
    """Reference: literally build each resampled data set as item copies (multiplicity
    = times its character was drawn x times its scenario was drawn)."""
    uc, ci = np.unique(chars, return_inverse=True)
    us, si = np.unique(scens, return_inverse=True)
    rng = np.random.default_rng(seed)
    wc = rng.multinomial(uc.size, np.full(uc.size, 1 / uc.size), size=n_boot)
    ws = rng.multinomial(us.size, np.full(us.size, 1 / us.size), size=n_boot)
    means = []
    for b in range(n_boot):
        copies = []
        for v, c, s in zip(values, ci, si, strict=True):
            copies.extend([v] * int(wc[b, c] * ws[b, s]))
        if copies:
            means.append(np.mean(copies))
    return np.asarray(np.quantile(means, [(1 - level) / 2, (1 + level) / 2]))


def test_vectorised_weights_equal_explicit_resampled_data_sets() -> None:
    rng = np.random.default_rng(2)
    chars = np.repeat(["a", "b", "c", "d"], 5)
    scens = np.tile([1, 2, 3, 4, 5], 4)
    keep = rng.random(chars.size) > 0.2  # an unbalanced, incomplete crossing
    values = rng.integers(1, 6, chars.size).astype(float)
    est = cluster_bootstrap_ci(values[keep], chars[keep], scens[keep], n_boot=300, seed=9)
    lo, hi = _explicit_pigeonhole(values[keep], chars[keep], scens[keep], 300, 9, 0.95)
    assert (est.lo, est.hi) == pytest.approx((lo, hi), abs=1e-12)


def test_bootstrap_is_seeded() -> None:
    chars, scens = _grid()
    values = np.random.default_rng(4).normal(size=chars.size)
    first = cluster_bootstrap_ci(values, chars, scens, n_boot=300, seed=1)
    assert cluster_bootstrap_ci(values, chars, scens, n_boot=300, seed=1) == first
    assert cluster_bootstrap_ci(values, chars, scens, n_boot=300, seed=2) != first


def test_bootstrap_edge_cases() -> None:
    nan = math.nan
    empty = cluster_bootstrap_ci([nan, nan], ["a", "b"], [1, 2])
    assert math.isnan(empty.mean) and (empty.n, empty.n_missing) == (0, 2)
    single = cluster_bootstrap_ci([4.0, nan], ["a", "b"], [1, 2])
    assert single.mean == 4.0 and math.isnan(single.lo) and math.isnan(single.hi)
    flat = cluster_bootstrap_ci([3.0] * 6, list("aabbcc"), [1, 2] * 3, n_boot=50)
    assert (flat.mean, flat.lo, flat.hi) == (3.0, 3.0, 3.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"characters": ["a"]}, "characters"),
        ({"scenarios": [1, 2, 3]}, "scenarios"),
        ({"level": 1.0}, "level"),
        ({"n_boot": 0}, "n_boot"),
    ],
)
def test_bootstrap_rejects_malformed_input(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"characters": ["a", "b"], "scenarios": [1, 2]} | kwargs
    with pytest.raises(ValueError, match=message):
        cluster_bootstrap_ci([1.0, 2.0], **args)  # type: ignore[arg-type]


# --- ranks_with_ties --------------------------------------------------------------------------


def _est(lo: float, hi: float) -> Estimate:
    return Estimate((lo + hi) / 2, lo, hi, 100)


def test_overlapping_intervals_share_ranks_but_order_is_strict() -> None:
    ranks = ranks_with_ties({"a": _est(0.8, 0.9), "b": _est(0.65, 0.82), "c": _est(0.6, 0.7)})
    # c overlaps b but lies entirely below a: one system is clearly better.
    assert {k: v.rank for k, v in ranks.items()} == {"a": 1, "b": 1, "c": 2}
    assert {k: v.order for k, v in ranks.items()} == {"a": 1, "b": 2, "c": 3}


def test_lower_is_better_flips_the_direction() -> None:
    ranks = ranks_with_ties(
        {"a": _est(0.8, 0.9), "b": _est(0.1, 0.2), "c": _est(0.15, 0.3)}, higher_is_better=False
    )
    assert {k: v.rank for k, v in ranks.items()} == {"b": 1, "c": 1, "a": 3}
    assert ranks["b"].order == 1 and ranks["a"].order == 3


def test_touching_intervals_overlap() -> None:
    ranks = ranks_with_ties({"a": _est(0.5, 0.6), "b": _est(0.4, 0.5)})
    assert ranks["a"].rank == ranks["b"].rank == 1


def test_missing_estimates_get_no_rank_and_come_last() -> None:
    nan = math.nan
    ranks = ranks_with_ties(
        {
            "none": Estimate(nan, nan, nan, 0),
            "point_only": Estimate(0.2, nan, nan, 1),
            "good": _est(0.8, 0.9),
            "bad": _est(0.05, 0.25),
        }
    )
    assert ranks["none"].rank is None and ranks["none"].order == 4
    # an interval-less system can neither be beaten nor beat anyone
    assert ranks["point_only"].rank == 1
    assert ranks["bad"].rank == 2
    assert [ranks[k].order for k in ("good", "bad", "point_only")] == [1, 3, 2]


def test_paired_tests_and_holm_stay_importable_from_stats() -> None:
    """Callers import the whole statistics layer from ``stats``; the paired tests moved to
    ``significance`` and must still be reachable (the same objects) from there."""
    import chatanime.metrics.stats as stats
    from chatanime.metrics import significance

    for name in ("PairedResult", "paired_compare", "rank_biserial", "holm", "PairedMethod"):
        assert name in stats.__all__
        assert getattr(stats, name) is getattr(significance, name), name
