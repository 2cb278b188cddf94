"""Judge -> human score calibration by isotonic (monotone) regression.

An LLM judge can rank answers well and still use the 1-5 scale differently from fans (e.g.
never giving a 1, or inflating everything by one point). A monotone map keeps the judge's
ordering but moves its scores onto the human scale; it assumes nothing about the shape of the
distortion, which a linear fit would. :func:`cross_validated_calibration` reports how much the
map helps on items it was not fitted on, so an audit does not credit the calibrator with
memorising its own training data.
"""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict, model_validator
from scipy import stats as sps
from scipy.optimize import isotonic_regression

FloatArray = NDArray[np.float64]
SCALE_BOUNDS: tuple[float, float] = (1.0, 5.0)


class MonotoneCalibrator(BaseModel):
    """A fitted non-decreasing map from judge scores to the human scale.

    ``knots`` are the distinct judge scores seen in fitting (ascending), ``values`` the fitted
    human-scale values there. Between knots the map interpolates linearly; outside it stays at
    the end values; results are clipped to ``bounds``. A pydantic model so an audit can store
    the calibrator as JSON next to the judge's results.
    """

    model_config = ConfigDict(frozen=True)

    knots: tuple[float, ...]
    values: tuple[float, ...]
    bounds: tuple[float, float] = SCALE_BOUNDS
    n: int

    @model_validator(mode="after")
    def _consistent(self) -> MonotoneCalibrator:
        if not self.knots or len(self.knots) != len(self.values):
            raise ValueError("knots and values must be non-empty and of equal length")
        if any(b <= a for a, b in pairwise(self.knots)):
            raise ValueError("knots must be strictly increasing")
        if any(b < a for a, b in pairwise(self.values)):
            raise ValueError("values must be non-decreasing")
        return self

    def predict(self, x: ArrayLike) -> FloatArray:
        """Calibrated scores for judge scores ``x`` (NaN stays NaN)."""
        arr = np.asarray(x, dtype=np.float64)
        out = np.interp(arr, np.asarray(self.knots), np.asarray(self.values))
        out = np.clip(out, self.bounds[0], self.bounds[1])
        return np.asarray(np.where(np.isnan(arr), np.nan, out), dtype=np.float64)


def _complete_pairs(x: ArrayLike, y: ArrayLike) -> tuple[FloatArray, FloatArray]:
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    if xa.ndim != 1 or xa.shape != ya.shape:
        raise ValueError(f"inputs must be 1-D of equal length, got {xa.shape} and {ya.shape}")
    keep = ~(np.isnan(xa) | np.isnan(ya))
    return xa[keep], ya[keep]


def fit_monotone(
    judge_scores: ArrayLike,
    human_scores: ArrayLike,
    *,
    bounds: tuple[float, float] = SCALE_BOUNDS,
) -> MonotoneCalibrator:
    """Isotonic regression of human scores on judge scores (pairs with a NaN are dropped).

    Items with the same judge score are pooled first (their mean human score, weighted by
    count), then scipy's pool-adjacent-violators fits a non-decreasing sequence over the
    distinct judge scores (``scipy.optimize.isotonic_regression``, in every scipy the project
    supports, >= 1.12, so no hand-written fallback). Raises ValueError with fewer than 2
    complete pairs.
    """
    x, y = _complete_pairs(judge_scores, human_scores)
    if x.size < 2:
        raise ValueError(f"fit_monotone needs at least 2 complete pairs, got {x.size}")
    if bounds[0] >= bounds[1]:
        raise ValueError(f"bounds must be (low, high) with low < high, got {bounds}")
    knots, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse.reshape(-1), weights=y, minlength=knots.size)
    fitted = isotonic_regression(sums / counts, weights=counts.astype(np.float64)).x
    return MonotoneCalibrator(
        knots=tuple(float(k) for k in knots),
        values=tuple(float(v) for v in fitted),
        bounds=bounds,
        n=int(x.size),
    )


class CalibrationReport(BaseModel):
    """Judge vs human agreement before and after out-of-fold monotone calibration."""

    model_config = ConfigDict(frozen=True)

    mae_before: float
    mae_after: float
    spearman_before: float
    spearman_after: float
    pearson_before: float
    pearson_after: float
    n: int
    k: int


def _corr(kind: str, x: FloatArray, y: FloatArray) -> float:
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    fn = sps.spearmanr if kind == "spearman" else sps.pearsonr
    return float(fn(x, y).statistic)


def cross_validated_calibration(
    judge: ArrayLike,
    human: ArrayLike,
    *,
    k: int = 5,
    seed: int = 0,
    bounds: tuple[float, float] = SCALE_BOUNDS,
) -> CalibrationReport:
    """K-fold estimate of what monotone calibration buys on unseen items.

    "Before" compares raw judge scores with human scores; "after" compares each item's
    *out-of-fold* calibrated score (map fitted on the other k-1 folds) with its human score.
    Folds are a seeded random partition. Correlations are NaN when a side is constant (a
    calibrator can legitimately collapse to a constant). Raises ValueError when there are fewer
    complete pairs than ``2 * k`` (each training set needs at least 2 pairs, each fold 1).
    """
    if k < 2:
        raise ValueError(f"k must be >= 2, got {k}")
    x, y = _complete_pairs(judge, human)
    if x.size < 2 * k:
        raise ValueError(f"{k}-fold calibration needs at least {2 * k} pairs, got {x.size}")
    rng = np.random.default_rng(seed)
    folds = np.array_split(rng.permutation(x.size), k)
    calibrated = np.empty(x.size)
    for test in folds:
        train = np.ones(x.size, dtype=bool)
        train[test] = False
        calibrated[test] = fit_monotone(x[train], y[train], bounds=bounds).predict(x[test])
    return CalibrationReport(
        mae_before=float(np.mean(np.abs(x - y))),
        mae_after=float(np.mean(np.abs(calibrated - y))),
        spearman_before=_corr("spearman", x, y),
        spearman_after=_corr("spearman", calibrated, y),
        pearson_before=_corr("pearson", x, y),
        pearson_after=_corr("pearson", calibrated, y),
        n=int(x.size),
        k=k,
    )
