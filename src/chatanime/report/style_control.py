"""The style-controlled ranking: how much of a system's lead is answer length and punctuation.

Judges reward surface style (longer answers, exclamation marks, emoji), so beside the raw
leaderboard the report regresses each metric's item scores on the answers' style features
plus one indicator per system (:func:`chatanime.metrics.style.style_controlled`, in the spirit
of Arena-Hard's style control) and shows raw and controlled rankings side by side with the
features' coefficients.

Unit: the item (system x character x scenario), like the leaderboard. An item's score is the
mean over its rounds (``report.scores.item_values``) and its style is the mean of the two
answers' features, so score and style describe the same thing. Style features are computed once
per answer (:func:`answer_features`) and shared with the corpus overview.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from chatanime.corpus import HUMAN, Answer
from chatanime.metrics.style import (
    FEATURE_NAMES,
    Language,
    StyleControlResult,
    style_controlled,
)
from chatanime.report.aggregate import level_values
from chatanime.report.scores import METRICS, item_values

ITEM_KEYS = ["system", "character", "scenario"]
CONTROLLED_LEVELS: tuple[str, ...] = ("overall", *METRICS)


@dataclass(frozen=True)
class StyleControl:
    """Raw vs style-controlled standings of one score source, per level.

    ``results`` holds one regression per level that could be fitted; ``failures`` says why a
    level could not (e.g. a rank-deficient design), so nothing disappears silently.
    """

    source: str
    results: dict[str, StyleControlResult] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    def rank_shifts(self, level: str = "overall") -> dict[str, int]:
        """Controlled rank minus raw rank per system (negative: style control helps it)."""
        res = self.results.get(level)
        if res is None:
            return {}
        return {s.system: s.adjusted_rank - s.raw_rank for s in res.systems}


def answer_features(answers: Sequence[Answer], language: str = "zh") -> pd.DataFrame:
    """One row per answer: system, character, scenario, persona, round and the style features."""
    from chatanime.metrics.style import style_features

    lang: Language = "en" if language == "en" else "zh"
    rows = []
    for a in answers:
        feats = style_features(a.text, lang)
        rows.append((a.system, a.character, a.scenario, a.persona, a.round, *feats.values()))
    columns = [*ITEM_KEYS, "persona", "round", *FEATURE_NAMES]
    return pd.DataFrame(rows, columns=columns)


def item_features(per_answer: pd.DataFrame) -> pd.DataFrame:
    """Per item (system, character, scenario): the mean of its answers' style features."""
    grouped = per_answer.groupby(ITEM_KEYS, as_index=False)[list(FEATURE_NAMES)].mean()
    return grouped


def system_style(per_answer: pd.DataFrame) -> pd.DataFrame:
    """Mean style features per answer for each system (the overview's style table)."""
    result: pd.DataFrame = per_answer.groupby("system")[list(FEATURE_NAMES)].mean()
    return result


def style_control(
    scores: pd.DataFrame,
    source: str,
    features: pd.DataFrame,
    *,
    levels: Sequence[str] = CONTROLLED_LEVELS,
    reference: str = HUMAN,
) -> StyleControl:
    """Fit the style-control regression of ``source`` for every level in ``levels``.

    ``features`` is :func:`item_features`' table; items without features (a system missing
    from the corpus) are left out. The reference system for adjusted differences is
    ``reference`` when it has scores.
    """
    values = level_values(item_values(scores[scores.source == source]))
    merged = values.merge(features, on=ITEM_KEYS, how="inner")
    out = StyleControl(source)
    for level in levels:
        sub = merged[merged.level == level]
        if sub.empty:
            continue
        if sub.system.nunique() < 2:
            out.failures[level] = "fewer than two systems have scores"
            continue
        scored = sub[sub.value.notna()]
        ref = reference if reference in set(scored["system"].unique()) else None
        try:
            out.results[level] = style_controlled(
                sub["value"].to_numpy(),
                sub["system"].to_numpy(dtype=str).tolist(),
                {name: sub[name].to_numpy() for name in FEATURE_NAMES},
                reference_system=ref,
            )
        except ValueError as exc:
            out.failures[level] = str(exc)
    return out
