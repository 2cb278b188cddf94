"""Style control: separate "what the answer says" from "how it is dressed up".

Judges (human and LLM) reward surface style — longer answers, more exclamation marks, cute
emoji — independently of quality (Arena-Hard's "style control" found the same for chat
leaderboards). :func:`style_controlled` regresses a metric's item scores on standardised style
features plus one indicator per system, so each system's effect is its predicted score *at the
average style*; comparing the raw and controlled rankings shows how much of a lead is style.

Feature definitions (:func:`style_features`):

* ``length``: characters without whitespace for ``zh``; words for ``en``.
* ``sentences``: segments ended by 。！？!? (and ``.`` before a space/end in English) or a line
  break; a trailing unterminated segment counts. Ellipses (…, ...) are pauses, not ends.
* ``questions`` / ``exclamations``: *runs* of ？/? and ！/!, so "？？" is one question;
  punctuation inside a kaomoji does not count.
* ``emoji``: pictographic emoji (ZWJ sequences, skin tones and flags count once) plus kaomoji:
  bracketed faces such as (｡･ω･｡) or (＾▽＾) and bare ones such as ^_^, T_T, >_<, QAQ.
* ``tildes``: runs of ～/~ — a playful tone marker in Chinese chat, kept separate from emoji
  so the two can be told apart. Both widths count (the release's LLM files write ``~`` where
  the human file writes ``～``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as sps

FloatArray = NDArray[np.float64]
Language = Literal["zh", "en"]

FEATURE_NAMES: tuple[str, ...] = (
    "length",
    "sentences",
    "questions",
    "exclamations",
    "emoji",
    "tildes",
)

_EMOJI_BASE = "\U0001f300-\U0001faff\U0001f000-\U0001f2ff\u2600-\u27bf\u2b50\u2b55\u2b1b\u2b1c"
_EMOJI = re.compile(
    rf"(?:[\U0001f1e6-\U0001f1ff]{{2}}|[{_EMOJI_BASE}])"
    rf"(?:[\U0001f3fb-\U0001f3ff\ufe0f\u20e3]|\u200d[{_EMOJI_BASE}])*"
)
# Characters that make a bracketed run look like a face rather than a parenthetical remark.
_FACE_CHARS = "ω▽∇・･°´`＾^_＿◕‿≧≦><＜＞•ᴗ∀Ддε﹏⌒︶｡≖⊙◉◡○●′ﾟ∩ㅂ▔ㅠㅜ"
_KAOMOJI_BRACKETED = re.compile(
    r"[ヽ٩\\ノﾉ┐╰σ]?"
    r"[(（]"
    rf"(?=[^()（）]*[{_FACE_CHARS}])"
    r"[^()（）\sA-Za-z0-9\u4e00-\u9fff\u3040-\u30ff]{1,12}"
    r"[)）]"
    r"[ノﾉ۶و┌╯σ✧☆]*"
)
_KAOMOJI_BARE = re.compile(
    r"(?<![A-Za-z0-9])(?:"
    r"[\^＾][_＿oω▽.\-]?[\^＾]"
    r"|[Tㅠ][_＿.\^][Tㅠ]"
    r"|[>＞][_＿.ω﹏][<＜]"
    r"|[oO][_＿.][oO]"
    r"|[-=][_＿][-=]"
    r"|Q[AwWQ]Q"
    r"|[:;][-']?[)D(P]"
    r")(?![A-Za-z0-9])"
)
_TILDES = re.compile(r"[~～]+")
_QUESTIONS = re.compile(r"[?？]+")
_EXCLAMATIONS = re.compile(r"[!！]+")
_ZH_SENTENCE_END = re.compile(r"[。！？!?]+|\n+")
_EN_SENTENCE_END = re.compile(r"[!?]+|(?<!\.)\.(?!\.)(?=\s|$)|\n+")
_EN_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)*")


def _count_emoji(text: str) -> tuple[int, str]:
    """Count kaomoji and emoji; returns the count and the text with them removed."""
    count = 0
    for pattern in (_KAOMOJI_BRACKETED, _KAOMOJI_BARE, _EMOJI):
        text, found = pattern.subn(" ", text)
        count += found
    return count, text


def style_features(text: str, language: Language = "zh") -> dict[str, float]:
    """Surface-style features of one answer (see the module docstring for definitions)."""
    if language not in ("zh", "en"):
        raise ValueError(f"unsupported language {language!r}; use 'zh' or 'en'")
    emoji, plain = _count_emoji(text)
    if language == "zh":
        length = len(re.sub(r"\s+", "", text))
        ends = _ZH_SENTENCE_END
    else:
        length = len(_EN_WORD.findall(text))
        ends = _EN_SENTENCE_END
    sentences = sum(1 for part in ends.split(plain) if re.search(r"\w", part))
    return {
        "length": float(length),
        "sentences": float(sentences),
        "questions": float(len(_QUESTIONS.findall(plain))),
        "exclamations": float(len(_EXCLAMATIONS.findall(plain))),
        "emoji": float(emoji),
        "tildes": float(len(_TILDES.findall(plain))),
    }


def feature_table(texts: Sequence[str], language: Language = "zh") -> dict[str, FloatArray]:
    """Style features for many answers, as ``{feature: values}`` ready for
    :func:`style_controlled`."""
    rows = [style_features(t, language) for t in texts]
    return {name: np.array([r[name] for r in rows], dtype=np.float64) for name in FEATURE_NAMES}


@dataclass(frozen=True, slots=True)
class SystemEffect:
    """One system's raw and style-controlled standing on a metric.

    ``adjusted_mean`` is the predicted score at the average style (all standardised features
    0); ``lo``/``hi`` its OLS t-interval. ``vs_reference`` / ``vs_reference_se`` are the
    adjusted difference to the reference system (NaN without one). Ranks are 1 = best.
    """

    system: str
    n: int
    raw_mean: float
    adjusted_mean: float
    se: float
    lo: float
    hi: float
    raw_rank: int
    adjusted_rank: int
    vs_reference: float
    vs_reference_se: float


@dataclass(frozen=True, slots=True)
class FeatureEffect:
    """A style feature's coefficient: score change per standard deviation of the feature.

    ``per_unit`` rescales it to one raw unit (e.g. one more character), ``sd`` is the
    feature's standard deviation over the items used.
    """

    name: str
    coef: float
    se: float
    lo: float
    hi: float
    per_unit: float
    sd: float


@dataclass(frozen=True, slots=True)
class StyleControlResult:
    """Raw vs style-controlled system standings for one metric."""

    systems: tuple[SystemEffect, ...]
    features: tuple[FeatureEffect, ...]
    dropped_features: tuple[str, ...]
    reference_system: str | None
    n: int
    n_missing: int
    residual_sd: float
    level: float


def _design(
    systems: NDArray[np.str_], z: FloatArray, names: list[str]
) -> tuple[FloatArray, FloatArray]:
    indicators = (systems[:, None] == np.asarray(names)[None, :]).astype(np.float64)
    return np.hstack([indicators, z]), indicators


def _standardise(
    features: Mapping[str, ArrayLike], keep: NDArray[np.bool_], n: int
) -> tuple[list[str], FloatArray, FloatArray, tuple[str, ...]]:
    used: list[str] = []
    columns: list[FloatArray] = []
    sds: list[float] = []
    dropped: list[str] = []
    for name, raw in features.items():
        col = np.asarray(raw, dtype=np.float64)
        if col.shape != (n,):
            raise ValueError(f"feature {name!r} must have one value per score ({n})")
        if not np.all(np.isfinite(col)):
            raise ValueError(f"feature {name!r} has non-finite values")
        col = col[keep]
        sd = float(col.std())
        if sd == 0.0:
            dropped.append(name)  # constant: no information, and it would divide by zero
            continue
        used.append(name)
        columns.append((col - col.mean()) / sd)
        sds.append(sd)
    z = np.column_stack(columns) if columns else np.zeros((int(keep.sum()), 0))
    return used, z, np.asarray(sds, dtype=np.float64), tuple(dropped)


def _ols(x: FloatArray, y: FloatArray, level: float) -> tuple[FloatArray, FloatArray, float, float]:
    """Coefficients, their covariance, residual variance and the two-sided t critical value."""
    dof = y.size - x.shape[1]
    if dof < 1 or np.linalg.matrix_rank(x) < x.shape[1]:
        raise ValueError(
            "style and system effects cannot be separated: the design is rank-deficient or has "
            "no residual degrees of freedom (is a feature constant within every system?)"
        )
    coef = np.asarray(np.linalg.lstsq(x, y, rcond=None)[0], dtype=np.float64)
    residual = y - x @ coef
    sigma2 = float(residual @ residual) / dof
    cov = np.asarray(sigma2 * np.linalg.inv(x.T @ x), dtype=np.float64)
    return coef, cov, sigma2, float(sps.t.ppf((1.0 + level) / 2.0, dof))


def _order_ranks(values: FloatArray) -> NDArray[np.intp]:
    ranks = np.empty(values.size, dtype=np.intp)
    ranks[np.argsort(-values, kind="stable")] = np.arange(1, values.size + 1)
    return ranks


def style_controlled(
    scores: ArrayLike,
    systems: Sequence[str],
    features: Mapping[str, ArrayLike],
    *,
    reference_system: str | None = None,
    level: float = 0.95,
) -> StyleControlResult:
    """OLS of one metric's item scores on system indicators plus standardised style features.

    Coding: cell-means — one indicator per system and no intercept — so each system
    coefficient *is* the system's predicted score at the average style (features standardised
    over the items used, so the average style is z = 0). This is reference coding
    reparametrised; ``reference_system`` adds each system's adjusted difference to it with the
    correct SE (from the coefficient covariance). Call once per metric.

    SEs are classical OLS SEs (i.i.d. errors). Items sharing a character or scenario are
    correlated, so these are optimistic; use them to compare raw vs controlled standings, and
    :func:`chatanime.metrics.stats.cluster_bootstrap_ci` for headline intervals.

    Items with a NaN score are dropped (``n_missing``); constant features are dropped
    (``dropped_features``). Raises ValueError when the design is rank-deficient (e.g. a feature
    that is a function of the system alone, so style and system cannot be separated) or has no
    residual degrees of freedom.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be strictly between 0 and 1, got {level}")
    keep, y, sys_arr = _scored_items(scores, systems)
    names = sorted(set(sys_arr.tolist()))
    if reference_system is not None and reference_system not in names:
        raise ValueError(f"reference system {reference_system!r} has no scored items")
    used, z, sds, dropped = _standardise(features, keep, keep.size)
    x, indicators = _design(sys_arr, z, names)
    coef, cov, sigma2, crit = _ols(x, y, level)
    se = np.sqrt(np.diag(cov))
    k = len(names)
    effects = _system_effects(
        names, indicators, y, coef[:k], se[:k], cov[:k, :k], crit, reference_system
    )
    return StyleControlResult(
        systems=effects,
        features=_feature_effects(used, coef[k:], se[k:], sds, crit),
        dropped_features=dropped,
        reference_system=reference_system,
        n=int(y.size),
        n_missing=int(keep.size - y.size),
        residual_sd=math.sqrt(sigma2),
        level=level,
    )


def _scored_items(
    scores: ArrayLike, systems: Sequence[str]
) -> tuple[NDArray[np.bool_], FloatArray, NDArray[np.str_]]:
    """Which items are scored (not NaN), and the scored items' scores and systems; the mask
    also selects the matching rows of every feature."""
    y_all = np.asarray(scores, dtype=np.float64)
    sys_all = np.asarray(list(systems), dtype=str)
    if y_all.ndim != 1 or sys_all.shape != y_all.shape:
        raise ValueError("scores and systems must be 1-D of equal length")
    keep = ~np.isnan(y_all)
    return keep, y_all[keep], sys_all[keep]


def _feature_effects(
    used: list[str], coef: FloatArray, se: FloatArray, sds: FloatArray, crit: float
) -> tuple[FeatureEffect, ...]:
    """Each used feature's coefficient per standard deviation, its t-interval, and the same
    effect per raw unit (dividing by the feature's SD undoes the standardisation)."""
    return tuple(
        FeatureEffect(
            name=name,
            coef=float(coef[j]),
            se=float(se[j]),
            lo=float(coef[j] - crit * se[j]),
            hi=float(coef[j] + crit * se[j]),
            per_unit=float(coef[j] / sds[j]),
            sd=float(sds[j]),
        )
        for j, name in enumerate(used)
    )


def _system_effects(
    names: list[str],
    indicators: FloatArray,
    y: FloatArray,
    adjusted: FloatArray,
    se: FloatArray,
    cov: FloatArray,
    crit: float,
    reference: str | None,
) -> tuple[SystemEffect, ...]:
    """Each system's raw mean (from its indicator column) next to its adjusted one, so the
    two rankings can be compared, and its adjusted difference to the reference system."""
    counts = indicators.sum(axis=0)
    raw = (indicators.T @ y) / counts
    raw_rank, adj_rank = _order_ranks(raw), _order_ranks(adjusted)
    ref = names.index(reference) if reference is not None else None
    out = []
    for i, name in enumerate(names):
        if ref is None:
            diff = diff_se = math.nan
        else:
            diff = float(adjusted[i] - adjusted[ref])
            var = cov[i, i] + cov[ref, ref] - 2.0 * cov[i, ref]
            diff_se = math.sqrt(max(float(var), 0.0))
        out.append(
            SystemEffect(
                system=name,
                n=int(counts[i]),
                raw_mean=float(raw[i]),
                adjusted_mean=float(adjusted[i]),
                se=float(se[i]),
                lo=float(adjusted[i] - crit * se[i]),
                hi=float(adjusted[i] + crit * se[i]),
                raw_rank=int(raw_rank[i]),
                adjusted_rank=int(adj_rank[i]),
                vs_reference=diff,
                vs_reference_se=diff_se,
            )
        )
    return tuple(out)
