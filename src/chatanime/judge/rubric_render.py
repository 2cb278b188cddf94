"""The rubric as the compact markdown a judge prompt embeds.

Kept apart from the schema and the loader (:mod:`chatanime.judge.rubric`) because what a
judge is *shown* is a presentation choice with fairness consequences of its own:

* Examples are shown with their score, round and note but never their system: the judge
  is blind to systems, and provenance would leak a prior ("fans are good").
* Anchor examples, translations and the diversity rubric are each optional: the pointwise
  judge is sent this text on every call, and the examples are most of its length (see
  ``JudgePrompt.rubric_examples`` for judging without them to save input tokens).
"""

from __future__ import annotations

from collections.abc import Mapping

from chatanime.judge.rubric_schema import (
    ANCHOR_SCORES,
    DIMENSION_IDS,
    DIMENSION_METRICS,
    DIVERSITY,
    Metric,
    RubricFile,
)

_LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "ESRP 评分标准",
        "scale": "每项指标打 {min}–{max} 的整数分；锚点描述 1、3、5 分，2 和 4 介于其间。",
        "principles": "评分原则",
        "do_not": "不要奖励：",
        "do": "应当奖励：",
        "measures": "衡量",
        "score": "{score} 分",
        "examples": "示例",
        "round": "第 {round} 轮",
        "constructed": "构造反例",
        "translation": "译文",
        "sep": "：",
    },
    "en": {
        "title": "ESRP rubric",
        "scale": "Score each metric with an integer {min}-{max}; anchors describe 1, 3 and 5, "
        "2 and 4 lie between.",
        "principles": "Judging principles",
        "do_not": "Do not reward:",
        "do": "Do reward:",
        "measures": "Measures",
        "score": "{score}",
        "examples": "Examples",
        "round": "round {round}",
        "constructed": "constructed",
        "translation": "translation",
        "sep": ": ",
    },
}


def render_rubric(
    spec: RubricFile,
    ref: str,
    *,
    include_examples: bool = True,
    include_translations: bool = False,
    include_diversity: bool = False,
) -> str:
    """The rubric ``spec`` (titled with its ``ref``) as markdown, in the rubric's language."""
    lab = _LABELS[spec.language]
    metrics = {m.id: m for m in spec.metrics}
    dimensions = {d.id: d for d in spec.dimensions}
    lines = [f"# {lab['title']} ({ref})", lab["scale"].format(**spec.scale.model_dump())]
    lines += ["", f"## {lab['principles']}", lab["do_not"]]
    lines += [f"- {item}" for item in spec.guidance.do_not_reward]
    lines += [lab["do"]] + [f"- {item}" for item in spec.guidance.do_reward]
    for dim_id in DIMENSION_IDS:
        dim = dimensions[dim_id]
        lines += ["", f"## {dim.name} ({dim.id}){lab['sep']}{dim.description}"]
        for metric_id in DIMENSION_METRICS[dim_id]:
            lines += _render_metric(metrics[metric_id], lab, include_examples, include_translations)
    if include_diversity:
        div = spec.diversity
        lines += [
            "",
            f"## {div.name} ({DIVERSITY})",
            f"{lab['measures']}{lab['sep']}{div.measures}",
        ]
        lines += _render_anchors(div.anchors, lab)
    return "\n".join(lines)


def _render_metric(
    metric: Metric, lab: Mapping[str, str], with_examples: bool, translations: bool
) -> list[str]:
    lines = [
        "",
        f"### {metric.name} ({metric.id})",
        f"{lab['measures']}{lab['sep']}{metric.measures}",
    ]
    lines += _render_anchors(metric.anchors, lab)
    if not with_examples or not metric.examples:
        return lines
    lines.append(f"{lab['examples']}{lab['sep']}".rstrip())
    for ex in sorted(metric.examples, key=lambda e: -e.score):
        where = lab["constructed"] if ex.ref is None else lab["round"].format(round=ex.ref.round)
        lines.append(
            f"- [{lab['score'].format(score=ex.score)} | {where}] 「{ex.text}」 — {ex.note}"
        )
        if translations and ex.translation:
            lines.append(f"  ({lab['translation']}{lab['sep']}{ex.translation})")
    return lines


def _render_anchors(anchors: Mapping[int, str], lab: Mapping[str, str]) -> list[str]:
    return [f"- {lab['score'].format(score=s)}{lab['sep']}{anchors[s]}" for s in ANCHOR_SCORES]
