"""What the annotator reads besides the dialogue: interface wording and the rubric snapshot.

The rubric is the judge's (``chatanime.judge.rubric``), so humans and the LLM judge score
against the same definitions and 1/3/5 anchors. Annotators see each metric's "measures" text
and anchors, but not the judge's guidance or anchor examples: the guidance was written to
correct an LLM's biases, and human ratings are the reference it is checked against. The
snapshot is copied into the study at creation, so a later rubric edit cannot change what an
existing study's annotators saw.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

from chatanime.errors import DataError
from chatanime.judge.rubric import ANCHOR_SCORES, DIVERSITY, METRICS, load_rubric

LANGUAGES = ("zh", "en")


@cache
def _wording_file(language: str) -> dict[str, Any]:
    if language not in LANGUAGES:
        raise DataError(f"unknown study language {language!r}; use one of {', '.join(LANGUAGES)}")
    path = resources.files("chatanime.annotate").joinpath(f"wording/{language}.yaml")
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def ui_text(language: str) -> dict[str, str]:
    """Interface strings of ``language``."""
    return dict(_wording_file(language)["ui"])


def _anchored(
    id_: str, dimension: str, name: str, measures: str, anchors: dict[int, str]
) -> dict[str, Any]:
    return {
        "id": id_,
        "dimension": dimension,
        "name": name,
        "description": measures,
        "anchors": {str(score): anchors[score] for score in ANCHOR_SCORES},
    }


def rubric_snapshot(language: str) -> dict[str, Any]:
    """The rubric as plain data for the study row.

    ``{"ref", "dimensions": {id: name}, "metrics": [...9 in architecture order],
    "diversity": {...}}``; each metric is ``{"id", "dimension", "name", "description",
    "anchors": {"1", "3", "5"}}``.
    """
    _wording_file(language)  # validates the language with the app's own message
    rubric = load_rubric(language)
    metrics = []
    for metric_id in METRICS:
        m = rubric.metric(metric_id)
        metrics.append(_anchored(m.id, m.dimension, m.name, m.measures, m.anchors))
    div = rubric.spec.diversity
    return {
        "ref": rubric.ref,
        "dimensions": {d.id: d.name for d in rubric.spec.dimensions},
        "metrics": metrics,
        "diversity": _anchored(DIVERSITY, DIVERSITY, div.name, div.measures, div.anchors),
    }
