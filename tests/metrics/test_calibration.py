"""Monotone judge->human calibration: hand-solved isotonic fits and a planted distortion."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from chatanime.metrics.calibration import (
    MonotoneCalibrator,
    cross_validated_calibration,
    fit_monotone,
)


def test_isotonic_fit_pools_ties_then_violators() -> None:
    # judge 5 appears twice (human 3 and 5 -> mean 4); the sequence 1,1,2,4,4 is monotone.
    cal = fit_monotone([1, 2, 3, 4, 5, 5], [1, 1, 2, 4, 3, 5])
    assert cal.knots == (1.0, 2.0, 3.0, 4.0, 5.0)
    assert cal.values == pytest.approx((1.0, 1.0, 2.0, 4.0, 4.0))
    assert cal.n == 6
    # 3 then 1 violate monotonicity: pooled to 2, which then ties with the next value.
    assert fit_monotone([1, 2, 3], [3, 1, 2]).values == pytest.approx((2.0, 2.0, 2.0))


def test_pooling_respects_counts() -> None:
    # judge 1: three items at human 4; judge 2: one item at human 2 -> weighted pool (12+2)/4.
    cal = fit_monotone([1, 1, 1, 2], [4, 4, 4, 2])
    assert cal.values == pytest.approx((3.5, 3.5))


def test_predict_interpolates_clamps_and_clips() -> None:
    cal = MonotoneCalibrator(knots=(1.0, 3.0, 5.0), values=(2.0, 3.0, 6.0), n=3)
    np.testing.assert_allclose(cal.predict([2.0, 4.0]), [2.5, 4.5])
    np.testing.assert_allclose(cal.predict([0.0, 1.0]), [2.0, 2.0])  # flat below the range
    np.testing.assert_allclose(cal.predict([5.0, 9.0]), [5.0, 5.0])  # clipped to the scale
    out = cal.predict([math.nan, 3.0])
    assert math.isnan(out[0]) and out[1] == 3.0


def test_calibrator_validates_and_round_trips_as_json() -> None:
    cal = fit_monotone([1, 2, 3, 4], [2, 2, 3, 5])
    assert MonotoneCalibrator.model_validate_json(cal.model_dump_json()) == cal
    with pytest.raises(ValidationError, match="non-decreasing"):
        MonotoneCalibrator(knots=(1.0, 2.0), values=(3.0, 2.0), n=2)
    with pytest.raises(ValidationError, match="strictly increasing"):
        MonotoneCalibrator(knots=(2.0, 1.0), values=(1.0, 2.0), n=2)


def test_fit_monotone_input_errors() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        fit_monotone([1.0, math.nan], [2.0, 3.0])
    with pytest.raises(ValueError, match="equal length"):
        fit_monotone([1.0, 2.0], [2.0])


def _planted(n: int = 1500, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Humans use the whole scale; the judge inflates low scores (concave distortion)."""
    rng = np.random.default_rng(seed)
    human = rng.integers(1, 6, n).astype(float)
    distorted = 1 + 4 * ((human - 1) / 4) ** 0.4
    judge = np.clip(np.round(distorted + rng.normal(0, 0.4, n)), 1, 5)
    return judge, human


def test_cross_validation_shows_the_planted_distortion_is_corrected() -> None:
    judge, human = _planted()
    report = cross_validated_calibration(judge, human, k=5, seed=1)
    assert report.n == 1500 and report.k == 5
    assert report.mae_before == pytest.approx(np.mean(np.abs(judge - human)))
    assert report.mae_after < 0.8 * report.mae_before
    assert report.pearson_after > report.pearson_before


def test_calibration_cannot_improve_an_already_calibrated_judge() -> None:
    human = np.random.default_rng(2).integers(1, 6, 500).astype(float)
    report = cross_validated_calibration(human.copy(), human)
    assert report.mae_before == 0.0 and report.mae_after == pytest.approx(0.0, abs=1e-12)
    assert report.spearman_after == pytest.approx(1.0)


def test_cross_validation_is_seeded_and_drops_nan_pairs() -> None:
    judge, human = _planted(n=300)
    judge[:4] = np.nan
    first = cross_validated_calibration(judge, human, seed=3)
    assert first.n == 296
    assert cross_validated_calibration(judge, human, seed=3) == first


def test_cross_validation_input_errors() -> None:
    with pytest.raises(ValueError, match="k must be"):
        cross_validated_calibration([1, 2, 3, 4], [1, 2, 3, 4], k=1)
    with pytest.raises(ValueError, match="at least 10 pairs"):
        cross_validated_calibration([1, 2, 3, 4], [1, 2, 3, 4], k=5)
