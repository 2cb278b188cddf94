"""A rated study as the judge audit and calibration read it: ratings, items, item scores.

Calibration (:mod:`chatanime.judge.calibrate`) and the audit (:mod:`chatanime.judge.audit`)
both compare a judge with the people who rated a study of the annotation app; this module
is what they share: the study's configuration, every rating, the dialogues it showed (as
snapshotted, i.e. what annotators saw), and the judge's and the people's item scores.

Item scores follow :func:`chatanime.annotate.analysis.judge_item_scores` (round 0 if
present, else the mean of rounds 1 and 2, averaged over repeated judgments); the human
score of an item is the mean over its annotators, who rate the whole dialogue.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select

from chatanime.annotate import ensure_schema
from chatanime.annotate.analysis import HumanScores, human_item_scores, judge_item_scores
from chatanime.annotate.ratings import RatingRecord, rating_records
from chatanime.annotate.study import DIALOGUE, find_study
from chatanime.annotate.tables import items as study_items
from chatanime.dialogue import Dialogue
from chatanime.judge.rubric import METRICS
from chatanime.store import Store
from chatanime.store.schema import judgments

ItemKey = tuple[str, str, int]  # system, character, scenario


@dataclass(frozen=True)
class StudyRatings:
    """One study: its configuration, every rating, and the dialogues it showed."""

    name: str
    study_id: str
    config: Mapping[str, Any]
    records: tuple[RatingRecord, ...]
    dialogues: Mapping[ItemKey, Dialogue]
    """The study's dialogue items as snapshotted at creation (what annotators saw)."""

    @property
    def benchmark(self) -> str:
        return str(self.config.get("benchmark", "chatanime"))

    @property
    def language(self) -> str:
        return str(self.config.get("language", "zh"))

    def humans(self, metric: str) -> HumanScores:
        """Item -> annotator -> rating of ``metric`` (dialogue items only)."""
        return human_item_scores(self.records, metric)

    def human_means(self, metric: str) -> dict[ItemKey, float]:
        return {k: float(np.mean(list(v.values()))) for k, v in self.humans(metric).items()}


def load_study(store: Store, study: str) -> StudyRatings:
    """A study by id or name (``DataError`` naming the known ones otherwise)."""
    ensure_schema(store)
    with store.engine.connect() as conn:
        row = find_study(conn, study)
        snapshots = conn.execute(
            select(
                study_items.c.system,
                study_items.c.character,
                study_items.c.scenario,
                study_items.c.payload_json,
            ).where(study_items.c.study_id == row.id, study_items.c.kind == DIALOGUE)
        ).all()
    dialogues = {}
    for system, character, scenario, payload in snapshots:
        turns = json.loads(payload)
        dialogues[(system, character, int(scenario))] = Dialogue(
            system=system, character=character, scenario=int(scenario), **turns
        )
    records = tuple(rating_records(store, row.id))
    return StudyRatings(row.name, row.id, json.loads(row.config_json), records, dialogues)


def all_judge_item_scores(
    store: Store, judge: str, benchmark: str
) -> dict[str, dict[ItemKey, float]]:
    """Metric -> item -> the judge's pointwise item score, for every item it scored."""
    query = select(judgments.c.system, judgments.c.character).where(
        judgments.c.judge_model == judge, judgments.c.benchmark == benchmark
    )
    with store.engine.connect() as conn:
        pairs = conn.execute(query.distinct()).all()
    scope: dict[str, object] = {
        "benchmark": benchmark,
        "systems": sorted({p.system for p in pairs}),
        "characters": sorted({p.character for p in pairs}),
    }
    return judge_item_scores(store.engine, scope, judge).get(judge, {})


def overall_scores(per_metric: Mapping[str, Mapping[ItemKey, float]]) -> dict[ItemKey, float]:
    """Items scored on all 9 metrics -> the mean of the 9."""
    common = set.intersection(*(set(per_metric.get(m, {})) for m in METRICS))
    return {k: float(np.mean([per_metric[m][k] for m in METRICS])) for k in common}


def overall_humans(ratings: StudyRatings) -> HumanScores:
    """Item -> annotator -> the annotator's mean over the 9 metrics (all 9 rated)."""
    per: dict[tuple[ItemKey, str], list[float]] = defaultdict(list)
    for metric in METRICS:
        for item, by_person in ratings.humans(metric).items():
            for person, value in by_person.items():
                per[(item, person)].append(value)
    out: HumanScores = defaultdict(dict)
    for (item, person), values in per.items():
        if len(values) == len(METRICS):
            out[item][person] = float(np.mean(values))
    return dict(out)
