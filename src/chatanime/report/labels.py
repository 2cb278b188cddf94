"""Display names of the leaderboard's levels (metrics, dimensions, overall), in two languages.

Names come from the packaged rubric (the same words the judge and annotators read), so the
report and the rubric cannot drift apart; ids stay the contract everywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

from chatanime.report.scores import DIMENSIONS, METRICS

SHORT: dict[str, str] = {
    "fluency": "Fluency",
    "coherency": "Coherency",
    "consistency": "Consistency",
    "character_knowledge": "Char. knowledge",
    "speech_style": "Speech style",
    "behavioral_habit": "Behaviour",
    "emotional_value": "Emotional value",
    "experience_sharing": "Experience",
    "demand_matching": "Demand match",
    "basic": "Basic",
    "roleplay": "Role-play",
    "emotional": "Emotional",
    "overall": "Overall",
    "diversity": "Diversity",
}
_ZH_FALLBACK = {"overall": "总分"}


@dataclass(frozen=True)
class Labels:
    """``short[level]`` (English, compact), ``native[level]`` (rubric language name)."""

    short: dict[str, str]
    native: dict[str, str]
    dimension_of: dict[str, str]

    def both(self, level: str) -> str:
        """``Fluency · 流畅度`` (just the short name when both are the same)."""
        short, native = self.short.get(level, level), self.native.get(level, "")
        return short if not native or native == short else f"{short} · {native}"


def level_labels(language: str = "zh") -> Labels:
    """Labels for every level; the native names are the rubric's (``zh`` rubric for ``zh``)."""
    native: dict[str, str] = dict(_ZH_FALLBACK) if language == "zh" else {}
    try:
        from chatanime.judge.rubric import load_rubric

        rubric = load_rubric("zh" if language == "zh" else "en")
        for m in METRICS:
            native[m] = rubric.metric(m).name
        for d in DIMENSIONS:
            native[d] = rubric.dimension(d).name
        native["diversity"] = rubric.spec.diversity.name
    except Exception:  # labels are cosmetic: a broken rubric must not break the report
        pass
    dimension_of = {m: d for d, ms in DIMENSIONS.items() for m in ms}
    return Labels(dict(SHORT), native, dimension_of)
