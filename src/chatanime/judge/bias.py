"""Bias checks that travel with judge scores: length, self-preference, unscored share.

An LLM judge that rewards length would rank the fans' short answers last for the
wrong reason, one that prefers its own family would crown its own vendor, and a judge
that fails to answer on a tenth of the items changes the denominator. None of these is
visible in a mean score, so :func:`bias_report` computes them from the stored rows and
returns a typed result that the CLI prints and the report renders:

- length: Spearman correlation of each metric (and of the 9-metric mean) with the
  answer's length, over every scored (item, round);
- self-preference: the judge's mean score for systems of its own model family minus
  its mean for the others, and that gap net of the same gap under the other judges;
- the share of this judge's judgments that are unscored.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from statistics import fmean
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from chatanime.dialogue import Dialogue
from chatanime.judge.rubric import METRICS
from chatanime.report.scores import StoredJudgments, read_judgments
from chatanime.store import Store

OVERALL = "overall"
ItemKey = tuple[str, str, int]  # system, character, scenario
AnswerKey = tuple[str, str, int, int]  # system, character, scenario, round

FAMILY_PREFIXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("gpt", ("gpt", "chatgpt", "o1", "o3", "o4")),
    ("claude", ("claude",)),
    ("deepseek", ("deepseek",)),
    ("qwen", ("qwen", "qwq")),
    ("glm", ("glm", "chatglm")),
    ("doubao", ("doubao",)),
    ("gemini", ("gemini",)),
    ("minimax", ("minimax", "abab")),
    ("xingchen", ("xingchen",)),
    ("kimi", ("kimi", "moonshot")),
    ("llama", ("llama",)),
    ("mistral", ("mistral",)),
)
"""Model family by name prefix; matched against every ``/``-separated part of a name."""

PROVIDER_FAMILIES: Mapping[str, str] = {
    "openai": "gpt",
    "anthropic": "claude",
    "deepseek": "deepseek",
    "zhipu": "glm",
    "dashscope": "qwen",
    "volcengine": "doubao",
    "google": "gemini",
    "minimax": "minimax",
    "moonshot": "kimi",
}
"""Fallback when the model part names no family (``openai/my-finetune`` -> gpt)."""


def model_family(name: str, overrides: Mapping[str, str] | None = None) -> str | None:
    """The vendor family of a judge model or a system name; ``None`` for humans/unknown."""
    if overrides and name in overrides:
        return overrides[name]
    parts = [p for p in name.lower().split("/") if p]
    for family, prefixes in FAMILY_PREFIXES:
        if any(part.startswith(prefix) for part in parts for prefix in prefixes):
            return family
    if len(parts) > 1:
        return PROVIDER_FAMILIES.get(parts[0])
    return None


def answer_length(text: str, language: str) -> int:
    """Characters without spaces (Chinese, as the study counts) or words (English)."""
    return len(text.split()) if language == "en" else len("".join(text.split()))


def answer_lengths(dialogues: Iterable[Dialogue], language: str) -> dict[AnswerKey, int]:
    """(system, character, scenario, round) -> answer length."""
    return {
        (d.system, d.character, d.scenario, r): answer_length(d.answer(r), language)
        for d in dialogues
        for r in (1, 2)
    }


@dataclass(frozen=True)
class Correlation:
    """Spearman's rho (``None`` when undefined: fewer than 3 pairs or a constant side)."""

    rho: float | None
    p_value: float | None
    n: int


@dataclass(frozen=True)
class SelfPreference:
    """Scores a judge gives to its own family's systems versus everyone else's."""

    family: str
    own_systems: tuple[str, ...]
    own_mean: float
    others_mean: float
    n_own: int
    n_others: int
    p_value: float | None
    """Mann-Whitney U, own vs other items (item = mean of its 9 metrics x rounds)."""
    other_judges_gap: float | None
    """The same own-minus-others gap under the other judges (``None`` without them)."""

    @property
    def gap(self) -> float:
        return self.own_mean - self.others_mean

    @property
    def net_gap(self) -> float | None:
        """``gap`` beyond what other judges see: the self-preference proper."""
        return None if self.other_judges_gap is None else self.gap - self.other_judges_gap


@dataclass(frozen=True)
class JudgeBias:
    judge: str
    family: str | None
    judgments: int
    unscored: int
    length: Mapping[str, Correlation]
    """Metric (and ``overall``) -> correlation with answer length."""
    self_preference: SelfPreference | None

    @property
    def unscored_share(self) -> float:
        return self.unscored / self.judgments if self.judgments else 0.0


@dataclass(frozen=True)
class BiasReport:
    benchmark: str
    mode: str
    judges: tuple[JudgeBias, ...]

    def to_records(self) -> list[dict[str, Any]]:
        """Flat rows (judge, check, metric, value, n) for tables and JSON export."""
        rows: list[dict[str, Any]] = []
        for jb in self.judges:
            rows.append(_record(jb.judge, "unscored_share", "", jb.unscored_share, jb.judgments))
            for metric, corr in jb.length.items():
                rows.append(_record(jb.judge, "length_rho", metric, corr.rho, corr.n))
            sp = jb.self_preference
            if sp is not None:
                rows.append(_record(jb.judge, "self_gap", sp.family, sp.gap, sp.n_own))
                rows.append(_record(jb.judge, "self_net_gap", sp.family, sp.net_gap, sp.n_own))
        return rows


def _record(judge: str, check: str, metric: str, value: float | None, n: int) -> dict[str, Any]:
    return {"judge": judge, "check": check, "metric": metric, "value": value, "n": n}


ITEM_COLUMNS = ["system", "character", "scenario"]


@dataclass
class _Rows:
    """One judge's stored judgments as columns.

    ``statuses``: system, character, scenario, status (one row per item, the last stored
    judgment wins); ``values``: system, character, scenario, round, metric, value of its
    scored judgments (the 9 metrics, one row per key, the last stored wins).
    """

    statuses: pd.DataFrame
    values: pd.DataFrame

    @cached_property
    def _means(self) -> dict[ItemKey, float]:
        means = self.values.groupby(ITEM_COLUMNS, sort=False)["value"].mean()
        keys: list[tuple[str, str, int]] = means.index.tolist()
        return {
            (str(s), str(c), int(n)): float(v)
            for (s, c, n), v in zip(keys, means.tolist(), strict=True)
        }

    def item_means(self) -> dict[ItemKey, float]:
        """Item -> mean of its 9 metrics over both rounds (items with a score)."""
        return self._means


def _in_items(frame: pd.DataFrame, items: Collection[ItemKey]) -> pd.Series:
    if not items or frame.empty:
        return pd.Series(False, index=frame.index)
    keys = pd.MultiIndex.from_frame(frame[ITEM_COLUMNS].astype({"scenario": "int64"}))
    return pd.Series(keys.isin(list(items)), index=frame.index)


def _load(
    store: Store,
    benchmark: str,
    mode: str,
    judges: Sequence[str] | None,
    prompt_ref: str | None,
    items: Collection[ItemKey] | None,
    stored: StoredJudgments | None = None,
    rubric_ref: str | None = None,
) -> dict[str, _Rows]:
    """Per judge, its ``mode`` judgments (``stored``: rows the caller already read)."""
    if stored is None:
        stored = read_judgments(store, benchmark=benchmark, judges=judges, modes=(mode,))
    found = stored.judgments
    keep = found["mode"] == mode
    if judges:
        keep &= found["judge_model"].isin(list(judges))
    if prompt_ref:
        keep &= found["prompt_ref"] == prompt_ref
    if rubric_ref:
        keep &= found["rubric_ref"] == rubric_ref
    found = found[keep]
    if items is not None:
        found = found[_in_items(found, items)]
    key = ["judge_model", *ITEM_COLUMNS]
    statuses = found.drop_duplicates(key, keep="last")
    scored = found.loc[found["status"] == "scored", ["id", *key]]
    values = stored.scores[stored.scores["metric"].isin(METRICS)]
    values = values.merge(scored, on="id", how="inner", sort=False)
    values = values.drop_duplicates([*key, "round", "metric"], keep="last")
    by_judge = dict(tuple(values.groupby("judge_model", sort=False)))
    empty = values.iloc[0:0]
    return {
        str(judge): _Rows(
            group[[*ITEM_COLUMNS, "status"]],
            by_judge.get(judge, empty)[[*ITEM_COLUMNS, "round", "metric", "value"]],
        )
        for judge, group in statuses.groupby("judge_model", sort=False)
    }


def spearman(xs: ArrayLike, ys: ArrayLike) -> Correlation:
    x, y = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
    n = int(x.size)
    if n < 3 or np.unique(x).size < 2 or np.unique(y).size < 2:
        return Correlation(None, None, n)
    result = stats.spearmanr(x, y)
    rho, p = float(result.statistic), float(result.pvalue)
    return Correlation(None if math.isnan(rho) else rho, None if math.isnan(p) else p, n)


def _length_frame(lengths: Mapping[AnswerKey, int]) -> pd.DataFrame:
    frame = pd.DataFrame(list(lengths), columns=[*ITEM_COLUMNS, "round"])
    frame["length"] = np.fromiter(lengths.values(), dtype=np.float64, count=len(lengths))
    return frame.astype({"scenario": "int64", "round": "int64"})


def length_correlations(rows: _Rows, lengths: Mapping[AnswerKey, int]) -> dict[str, Correlation]:
    """Spearman of each metric (and of the per-answer metric mean) with the answer length."""
    if rows.values.empty or not lengths:
        return {metric: spearman([], []) for metric in (*METRICS, OVERALL)}
    wide = rows.values.pivot(
        index=[*ITEM_COLUMNS, "round"], columns="metric", values="value"
    ).reindex(columns=list(METRICS))
    wide = wide.reset_index().astype({"scenario": "int64", "round": "int64"})
    joined = wide.merge(_length_frame(lengths), on=[*ITEM_COLUMNS, "round"], how="inner")
    x = joined["length"].to_numpy(dtype=np.float64)
    out = {}
    for metric in METRICS:
        y = joined[metric].to_numpy(dtype=np.float64)
        ok = ~np.isnan(y)
        out[metric] = spearman(x[ok], y[ok])
    overall = joined[list(METRICS)].mean(axis=1, skipna=True).to_numpy(dtype=np.float64)
    ok = ~np.isnan(overall)
    out[OVERALL] = spearman(x[ok], overall[ok])
    return out


def _own_others_gap(means: Mapping[ItemKey, float], own: Collection[str]) -> float | None:
    own_v = [v for item, v in means.items() if item[0] in own]
    other_v = [v for item, v in means.items() if item[0] not in own]
    return fmean(own_v) - fmean(other_v) if own_v and other_v else None


def self_preference(
    judge: str,
    rows: Mapping[str, _Rows],
    families: Mapping[str, str] | None,
) -> SelfPreference | None:
    """``None`` if the judge has no family, or no system of (or outside) its family."""
    family = model_family(judge, families)
    means = rows[judge].item_means()
    own = tuple(sorted({s for s, _, _ in means if model_family(s, families) == family}))
    if family is None or not own:
        return None
    own_v = [v for item, v in means.items() if item[0] in own]
    other_v = [v for item, v in means.items() if item[0] not in own]
    if not other_v:
        return None
    pooled: dict[ItemKey, list[float]] = defaultdict(list)
    for other, other_rows in rows.items():
        if other != judge:
            for item, value in other_rows.item_means().items():
                pooled[item].append(value)
    others_gap = _own_others_gap({k: fmean(v) for k, v in pooled.items()}, own)
    p_value = None
    if len(own_v) >= 2 and len(other_v) >= 2:
        p_value = float(stats.mannwhitneyu(own_v, other_v).pvalue)
    return SelfPreference(
        family, own, fmean(own_v), fmean(other_v), len(own_v), len(other_v), p_value, others_gap
    )


def bias_report(
    store: Store,
    *,
    lengths: Mapping[AnswerKey, int],
    benchmark: str = "chatanime",
    mode: str = "pointwise",
    judges: Sequence[str] | None = None,
    prompt_ref: str | None = None,
    items: Collection[ItemKey] | None = None,
    families: Mapping[str, str] | None = None,
    stored: StoredJudgments | None = None,
    rubric_ref: str | None = None,
) -> BiasReport:
    """Bias checks per judge over the stored judgments (``items`` restricts the set).

    ``prompt_ref`` / ``rubric_ref`` keep one prompt and rubric version (the rubric as
    shown, e.g. without examples); ``lengths`` comes from :func:`answer_lengths` over the
    judged dialogues;
    ``families`` overrides :func:`model_family` for names the table does not know;
    ``stored`` reuses rows already read with
    :func:`chatanime.report.scores.read_judgments` (the report reads them once).
    """
    rows = _load(store, benchmark, mode, judges, prompt_ref, items, stored, rubric_ref)
    order = list(judges) if judges else sorted(rows)
    out = []
    for judge in order:
        if judge not in rows:
            continue
        data = rows[judge]
        unscored = int((data.statuses["status"] != "scored").sum())
        out.append(
            JudgeBias(
                judge=judge,
                family=model_family(judge, families),
                judgments=len(data.statuses),
                unscored=unscored,
                length=length_correlations(data, lengths),
                self_preference=self_preference(judge, rows, families),
            )
        )
    return BiasReport(benchmark, mode, tuple(out))


ENSEMBLE = "ensemble"


def mean_scores(
    store: Store,
    *,
    benchmark: str = "chatanime",
    mode: str = "pointwise",
    judges: Sequence[str] | None = None,
    prompt_ref: str | None = None,
    items: Collection[ItemKey] | None = None,
    rubric_ref: str | None = None,
) -> dict[tuple[str, str], float]:
    """(judge or ``ensemble``, system) -> mean item score (9 metrics x rounds per item).

    Each judge's scores are kept; the ensemble first averages the judges that scored an
    item, then the items, so a judge's unscored item does not drag the ensemble down.
    """
    rows = _load(store, benchmark, mode, judges, prompt_ref, items, rubric_ref=rubric_ref)
    out: dict[tuple[str, str], float] = {}
    pooled: dict[ItemKey, list[float]] = defaultdict(list)
    for judge, data in rows.items():
        per_system: dict[str, list[float]] = defaultdict(list)
        for item, value in data.item_means().items():
            per_system[item[0]].append(value)
            pooled[item].append(value)
        out.update({(judge, system): fmean(v) for system, v in per_system.items()})
    if len(rows) > 1:
        ensemble: dict[str, list[float]] = defaultdict(list)
        for item, values in pooled.items():
            ensemble[item[0]].append(fmean(values))
        out.update({(ENSEMBLE, system): fmean(v) for system, v in ensemble.items()})
    return out
