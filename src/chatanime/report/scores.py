"""Score sources in one long table, each row labelled with where it came from.

The report never mixes sources silently: a judge's scores, the ensemble of
judges, and human annotation ratings are separate ``source`` values of one
long-form table, and every aggregate is computed within a source.

Columns: ``source`` (e.g. ``judge:openai/gpt-4.1``, ``judge:ensemble``,
``human:pilot``), ``system``, ``character``, ``scenario``, ``round`` (0 = the
whole dialogue), ``metric``, ``value`` (NaN for an unscored item, which is
counted, never imputed).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import select

from chatanime.store import Store
from chatanime.store import schema as t

COLUMNS = ("source", "system", "character", "scenario", "round", "metric", "value")
METRICS = (
    "fluency",
    "coherency",
    "consistency",
    "character_knowledge",
    "speech_style",
    "behavioral_habit",
    "emotional_value",
    "experience_sharing",
    "demand_matching",
)
DIMENSIONS: dict[str, tuple[str, ...]] = {
    "basic": METRICS[0:3],
    "roleplay": METRICS[3:6],
    "emotional": METRICS[6:9],
}
ENSEMBLE = "judge:ensemble"


@dataclass(frozen=True)
class ScoreRow:
    """One score (or one unscored marker with ``value`` NaN)."""

    source: str
    system: str
    character: str
    scenario: int
    round: int
    metric: str
    value: float


def frame(rows: Iterable[ScoreRow]) -> pd.DataFrame:
    """Rows to the long table (typed, with the canonical column order)."""
    df = pd.DataFrame([r.__dict__ for r in rows], columns=list(COLUMNS))
    return df.astype({"scenario": "int64", "round": "int64", "value": "float64"})


def judge_scores(
    store: Store, *, benchmark: str = "chatanime", judges: Sequence[str] | None = None
) -> pd.DataFrame:
    """Pointwise judge scores from the store, one source per judge model.

    An unscored judgment contributes NaN for every metric, so it is counted as
    unscored for that item instead of vanishing from the denominator.
    """
    j = t.judgments
    query = select(
        j.c.id,
        j.c.judge_model,
        j.c.mode,
        j.c.prompt_ref,
        j.c.rubric_ref,
        j.c.system,
        j.c.character,
        j.c.scenario,
        j.c.status,
    ).where(j.c.benchmark == benchmark, j.c.mode.in_(("pointwise", "pointwise-round")))
    if judges:
        query = query.where(j.c.judge_model.in_(list(judges)))
    with store.engine.connect() as conn:
        found = conn.execute(query).all()
        values: dict[str, list[tuple[int, str, float]]] = {}
        for jid, rnd, metric, value in conn.execute(
            select(t.scores.c.judgment_id, t.scores.c.round, t.scores.c.metric, t.scores.c.value)
        ):
            values.setdefault(jid, []).append((int(rnd), str(metric), float(value)))
    labels = source_labels({(r.judge_model, r.mode, r.prompt_ref, r.rubric_ref) for r in found})
    judgments = [
        (
            r.id,
            labels[(r.judge_model, r.mode, r.prompt_ref, r.rubric_ref)],
            r.system,
            r.character,
            r.scenario,
            r.status,
        )
        for r in found
    ]
    rows: list[ScoreRow] = []
    for jid, source, system, character, scenario, status in judgments:
        if status == "scored":
            rows.extend(
                ScoreRow(source, system, character, int(scenario), rnd, metric, value)
                for rnd, metric, value in values.get(jid, [])
                if metric in METRICS
            )
        else:
            rows.extend(
                ScoreRow(source, system, character, int(scenario), 0, m, math.nan) for m in METRICS
            )
    return frame(rows)


def source_labels(
    configs: set[tuple[str, str, str, str]],
) -> dict[tuple[str, str, str, str], str]:
    """A source label per (judge, mode, prompt ref, rubric ref).

    Scores from a different mode or a different prompt/rubric version of the
    same judge are different sources: ``judge:M`` when the judge has one
    configuration, else ``judge:M [per-round]`` and/or ``judge:M @prompt+rubric``.
    """
    per_judge: dict[tuple[str, str], int] = {}
    for model, mode, _p, _r in configs:
        per_judge[(model, mode)] = per_judge.get((model, mode), 0) + 1
    labels = {}
    for model, mode, prompt, rubric in configs:
        label = f"judge:{model}"
        if mode == "pointwise-round":
            label += " [per-round]"
        if per_judge[(model, mode)] > 1:
            label += f" @{prompt.split('#')[0]}#{prompt.split('#')[-1][:6]}+{rubric.split('@')[-1]}"
        labels[(model, mode, prompt, rubric)] = label
    return labels


def with_ensemble(scores: pd.DataFrame) -> pd.DataFrame:
    """Add ``judge:ensemble``: per item and metric, the mean over judges that scored it.

    Only added when at least two judges are present; an item unscored by every
    judge stays NaN in the ensemble too.
    """
    # only plain "judge:<model>" sources: per-round runs and older prompt versions of a
    # judge would count the same judge twice
    judges = [
        s
        for s in scores["source"].unique()
        if s.startswith("judge:") and s != ENSEMBLE and " " not in s
    ]
    if len(judges) < 2:
        return scores
    per_judge = item_values(scores[scores.source.isin(judges)])
    ens = (
        per_judge.groupby(["system", "character", "scenario", "metric"], as_index=False)["value"]
        .mean()
        .assign(source=ENSEMBLE, round=0)
    )
    combined: pd.DataFrame = pd.concat([scores, ens[list(COLUMNS)]], ignore_index=True)
    return combined


def item_values(scores: pd.DataFrame) -> pd.DataFrame:
    """One value per (source, system, character, scenario, metric): the mean over rounds.

    The study rates each round; the leaderboard's unit is the dialogue (item),
    so the two rounds are averaged (an item with any unscored round is NaN).
    """
    keys = ["source", "system", "character", "scenario", "metric"]
    agg = (
        scores.assign(missing=scores["value"].isna())
        .groupby(keys, as_index=False, sort=False)
        .agg(value=("value", "mean"), missing=("missing", "any"))
    )
    agg.loc[agg["missing"], "value"] = math.nan
    result: pd.DataFrame = agg.drop(columns="missing")
    return result
