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

from chatanime.judge.prompt import NO_EXAMPLES
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


POINTWISE_MODES = ("pointwise", "pointwise-round")
JUDGMENT_COLUMNS = (
    "id",
    "judge_model",
    "mode",
    "prompt_ref",
    "rubric_ref",
    "system",
    "character",
    "scenario",
    "status",
)
SCORE_COLUMNS = ("id", "round", "metric", "value")


@dataclass(frozen=True)
class StoredJudgments:
    """Pointwise judgments and their scores, read once and kept as columns.

    Half a million score rows as Python objects cost seconds; as two frames (judgments,
    and scores keyed by judgment ``id``) they cost a fraction of that, and every section
    that needs the judge's rows (leaderboards, bias checks, calibration) reads this one copy.
    """

    judgments: pd.DataFrame  # JUDGMENT_COLUMNS, one row per judgment
    scores: pd.DataFrame  # SCORE_COLUMNS, the scores of those judgments (store order)

    @classmethod
    def empty(cls) -> StoredJudgments:
        return cls(
            pd.DataFrame(columns=list(JUDGMENT_COLUMNS)), pd.DataFrame(columns=SCORE_COLUMNS)
        )

    def scored(self) -> pd.DataFrame:
        """Scores of scored judgments joined with their judgment's columns."""
        scored = self.judgments[self.judgments["status"] == "scored"]
        merged: pd.DataFrame = self.scores.merge(scored, on="id", how="inner", sort=False)
        return merged


def read_judgments(
    store: Store,
    *,
    benchmark: str = "chatanime",
    judges: Sequence[str] | None = None,
    modes: Sequence[str] = POINTWISE_MODES,
) -> StoredJudgments:
    """The ``modes`` judgments of ``benchmark`` (optionally of ``judges``) with their scores.

    Two column-wise reads (``pandas.read_sql``) instead of one joined query: the join would
    repeat the judgment's strings on each of its ~18 score rows, which is what makes
    row-wise reading slow.
    """
    j, s = t.judgments, t.scores
    where = [j.c.benchmark == benchmark, j.c.mode.in_(list(modes))]
    if judges:
        where.append(j.c.judge_model.in_(list(judges)))
    found = select(*(j.c[c] for c in JUDGMENT_COLUMNS)).where(*where)
    values = (
        select(s.c.judgment_id.label("id"), s.c.round, s.c.metric, s.c.value)
        .select_from(s.join(j, s.c.judgment_id == j.c.id))
        .where(*where)
    )
    with store.engine.connect() as conn:
        judgments = pd.read_sql(found, conn)
        scores = pd.read_sql(values, conn)
    judgments = judgments.astype({"scenario": "int64"})
    scores = scores.astype({"round": "int64", "value": "float64"})
    return StoredJudgments(judgments, scores)


def judge_scores(
    store: Store,
    *,
    benchmark: str = "chatanime",
    judges: Sequence[str] | None = None,
    stored: StoredJudgments | None = None,
) -> pd.DataFrame:
    """Pointwise judge scores from the store, one source per judge model.

    An unscored judgment contributes NaN for every metric, so it is counted as
    unscored for that item instead of vanishing from the denominator. ``stored`` reuses
    rows already read by :func:`read_judgments`.
    """
    if stored is None:
        stored = read_judgments(store, benchmark=benchmark, judges=judges)
    return score_table(stored)


def score_table(stored: StoredJudgments) -> pd.DataFrame:
    """The long score table of pointwise judgments (see :func:`judge_scores`), vectorised."""
    config = ["judge_model", "mode", "prompt_ref", "rubric_ref"]
    judgments = stored.judgments[stored.judgments["mode"].isin(POINTWISE_MODES)]
    configs = judgments[config].drop_duplicates()
    labels = source_labels({tuple(r) for r in configs.itertuples(index=False, name=None)})
    configs = configs.assign(
        source=[labels[tuple(r)] for r in configs.itertuples(index=False, name=None)]
    )
    keyed = judgments.merge(configs, on=config, how="left", sort=False)
    item = ["source", "system", "character", "scenario"]
    scored = keyed.loc[keyed["status"] == "scored", ["id", *item]]
    values = stored.scores[stored.scores["metric"].isin(METRICS)]
    rows = values.merge(scored, on="id", how="inner", sort=False)
    parts = [rows[list(COLUMNS)]]
    unscored = keyed.loc[keyed["status"] != "scored", item]
    if not unscored.empty:
        missing = unscored.loc[unscored.index.repeat(len(METRICS))].assign(
            round=0, metric=list(METRICS) * len(unscored), value=math.nan
        )
        parts.append(missing[list(COLUMNS)])
    table = pd.concat(parts, ignore_index=True)
    return table.astype({"scenario": "int64", "round": "int64", "value": "float64"})


def source_labels(
    configs: set[tuple[str, str, str, str]],
) -> dict[tuple[str, str, str, str], str]:
    """A source label per (judge, mode, prompt ref, rubric ref).

    Scores from a different mode, a different prompt/rubric version, or a run without the
    rubric's anchor examples (rubric ref ``...:no-examples``) of the same judge are
    different sources: ``judge:M`` when the judge has one configuration, else
    ``judge:M [per-round]``, ``judge:M [no examples]`` and/or ``judge:M @prompt+rubric``.
    A no-examples run never takes the plain label, so the judge's default run keeps it
    (and its place in the ensemble).
    """
    per_judge: dict[tuple[str, str, bool], int] = {}
    for model, mode, _p, rubric in configs:
        key = (model, mode, _without_examples(rubric))
        per_judge[key] = per_judge.get(key, 0) + 1
    labels = {}
    for model, mode, prompt, rubric in configs:
        bare = _without_examples(rubric)
        label = f"judge:{model}"
        if mode == "pointwise-round":
            label += " [per-round]"
        if bare:
            label += " [no examples]"
        if per_judge[(model, mode, bare)] > 1:
            label += f" @{prompt.split('#')[0]}#{prompt.split('#')[-1][:6]}+{rubric.split('@')[-1]}"
        labels[(model, mode, prompt, rubric)] = label
    return labels


def _without_examples(rubric_ref: str) -> bool:
    return rubric_ref.endswith(f":{NO_EXAMPLES}")


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
