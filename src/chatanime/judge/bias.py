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
from statistics import fmean
from typing import Any

from scipy import stats
from sqlalchemy import select

from chatanime.dialogue import Dialogue
from chatanime.judge.rubric import METRICS
from chatanime.store import Store
from chatanime.store.schema import judgments, scores

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


@dataclass
class _Rows:
    """One judge's stored judgments: statuses and (item, round) -> metric -> value."""

    statuses: dict[ItemKey, str]
    values: dict[tuple[ItemKey, int], dict[str, float]]

    def item_means(self) -> dict[ItemKey, float]:
        per_item: dict[ItemKey, list[float]] = defaultdict(list)
        for (item, _round), metrics in self.values.items():
            per_item[item].extend(metrics[m] for m in METRICS if m in metrics)
        return {item: fmean(v) for item, v in per_item.items() if v}


def _load(
    store: Store,
    benchmark: str,
    mode: str,
    judges: Sequence[str] | None,
    prompt_ref: str | None,
    items: Collection[ItemKey] | None,
) -> dict[str, _Rows]:
    j = judgments
    where = [j.c.benchmark == benchmark, j.c.mode == mode]
    if judges:
        where.append(j.c.judge_model.in_(list(judges)))
    if prompt_ref:
        where.append(j.c.prompt_ref == prompt_ref)
    keep = set(items) if items is not None else None
    rows: dict[str, _Rows] = {}
    cols = (j.c.judge_model, j.c.system, j.c.character, j.c.scenario)
    with store.engine.connect() as conn:
        for judge, system, character, scenario, status in conn.execute(
            select(*cols, j.c.status).where(*where)
        ):
            item = (system, character, int(scenario))
            if keep is None or item in keep:
                rows.setdefault(judge, _Rows({}, {})).statuses[item] = status
        joined = select(*cols, scores.c.round, scores.c.metric, scores.c.value).select_from(
            scores.join(j, scores.c.judgment_id == j.c.id)
        )
        for judge, system, character, scenario, rnd, metric, value in conn.execute(
            joined.where(*where, j.c.status == "scored")
        ):
            item = (system, character, int(scenario))
            if keep is None or item in keep:
                cell = rows[judge].values.setdefault((item, int(rnd)), {})
                cell[metric] = float(value)
    return rows


def spearman(xs: Sequence[float], ys: Sequence[float]) -> Correlation:
    n = len(xs)
    if n < 3 or len(set(xs)) < 2 or len(set(ys)) < 2:
        return Correlation(None, None, n)
    result = stats.spearmanr(xs, ys)
    rho, p = float(result.statistic), float(result.pvalue)
    return Correlation(None if math.isnan(rho) else rho, None if math.isnan(p) else p, n)


def length_correlations(rows: _Rows, lengths: Mapping[AnswerKey, int]) -> dict[str, Correlation]:
    out = {}
    for metric in (*METRICS, OVERALL):
        xs: list[float] = []
        ys: list[float] = []
        for (item, rnd), values in rows.values.items():
            length = lengths.get((*item, rnd))
            if length is None:
                continue
            if metric == OVERALL:
                present = [values[m] for m in METRICS if m in values]
                value = fmean(present) if present else None
            else:
                value = values.get(metric)
            if value is not None:
                xs.append(float(length))
                ys.append(value)
        out[metric] = spearman(xs, ys)
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
) -> BiasReport:
    """Bias checks per judge over the stored judgments (``items`` restricts the set).

    ``lengths`` comes from :func:`answer_lengths` over the judged dialogues;
    ``families`` overrides :func:`model_family` for names the table does not know.
    """
    rows = _load(store, benchmark, mode, judges, prompt_ref, items)
    order = list(judges) if judges else sorted(rows)
    out = []
    for judge in order:
        if judge not in rows:
            continue
        data = rows[judge]
        unscored = sum(status != "scored" for status in data.statuses.values())
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
) -> dict[tuple[str, str], float]:
    """(judge or ``ensemble``, system) -> mean item score (9 metrics x rounds per item).

    Each judge's scores are kept; the ensemble first averages the judges that scored an
    item, then the items, so a judge's unscored item does not drag the ensemble down.
    """
    rows = _load(store, benchmark, mode, judges, prompt_ref, items)
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
