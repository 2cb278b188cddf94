"""The ``pairwise-vs-fans`` job: every selected pair, both orders, on the resumable runner.

Split from :mod:`chatanime.judge.pairwise` (the judgment of one pair) the way
:mod:`chatanime.judge.job` is split from :mod:`chatanime.judge.pointwise`. Each judge model
is its own run (``kind='judge'``, name ``<model>:pairwise-vs-fans``) whose identity is what
decides its verdicts (judge, prompt / repair / rubric hashes, benchmark hash, sampling
parameters, opponent), not which systems this invocation covers; one unit per
(pair, order), so a rerun after a kill pays for nothing twice and a judge that never
answered is retried under a fresh unit id (:func:`chatanime.judge.judgments.unit_ids`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from chatanime.backends.base import GenerationParams
from chatanime.benchmark import Benchmark
from chatanime.corpus import Corpus
from chatanime.dialogue import Dialogue
from chatanime.judge.job import JudgeDryRun, params_identity, select_dialogues
from chatanime.judge.judgments import (
    JudgeRun,
    ModelFactory,
    all_complete,
    run_judge,
    unit_ids,
)
from chatanime.judge.pairwise import (
    MODE,
    OPPONENT,
    ORDERS,
    PairwiseJudge,
    PairwisePrompt,
    PairwiseUnit,
    pairwise_persister,
)
from chatanime.judge.rubric import Rubric
from chatanime.pricing import PriceTable
from chatanime.runner import RunOptions, RunSpec
from chatanime.store import Store

RUN_KIND = "judge"
OUTPUT_TOKENS = 250
"""Rough output tokens per call (rationale + verdicts) for dry-run estimates."""


@dataclass(frozen=True)
class PairwiseJob:
    """Which judges compare which systems with the fans; the selection is not in any run id."""

    judges: tuple[str, ...]
    benchmark: Benchmark
    language: str | None = None
    systems: tuple[str, ...] | None = None
    """Systems to compare with the fans (default: every system but the fans)."""
    characters: tuple[str, ...] | None = None
    scenarios: tuple[int, ...] | None = None
    limit: int | None = None
    """Only the first N pairs (each judged in both orders)."""
    include_anchors: bool = False
    repairs: int = 2
    params: GenerationParams = field(default_factory=lambda: GenerationParams(temperature=0.0))

    def prompt(self) -> PairwisePrompt:
        return PairwisePrompt.load(self.language or self.benchmark.language)

    def judge(self, model: str, prompt: PairwisePrompt | None = None) -> PairwiseJudge:
        return PairwiseJudge(
            model, prompt or self.prompt(), self.benchmark.name, self.params, self.repairs
        )


@dataclass(frozen=True)
class PairSelection:
    """(system dialogue, fans' dialogue) pairs; items without a fans' dialogue are counted."""

    pairs: tuple[tuple[Dialogue, Dialogue], ...]
    excluded_anchors: int
    without_fans: int

    @property
    def systems(self) -> list[str]:
        return list(dict.fromkeys(d.system for d, _ in self.pairs))


def select_pairs(job: PairwiseJob, corpus: Corpus, rubric: Rubric | None = None) -> PairSelection:
    """Every selected non-fan dialogue with the fans' dialogue of its character and scenario."""
    systems = job.systems or tuple(s for s in corpus.systems if s != OPPONENT)
    systems = tuple(s for s in systems if s != OPPONENT)
    chosen = select_dialogues(
        corpus,
        systems=systems,
        characters=job.characters,
        scenarios=job.scenarios,
        include_anchors=job.include_anchors,
        rubric=rubric,
    )
    pairs, without = [], 0
    for d in chosen.dialogues:
        fans = corpus.get(OPPONENT, d.character, d.scenario)
        if fans is None:
            without += 1
        else:
            pairs.append((d, fans))
    if job.limit is not None:
        pairs = pairs[: job.limit]
    return PairSelection(tuple(pairs), chosen.excluded_anchors, without)


def run_spec(
    judge: PairwiseJudge, benchmark: Benchmark, config: Mapping[str, Any] | None = None
) -> RunSpec:
    """One judge's pairwise run: identity = what decides its verdicts."""
    identity = {
        "judge": judge.model,
        "mode": MODE,
        "opponent": judge.opponent,
        **judge.prompt.identity(),
        "benchmark": {"name": benchmark.name, "sha256": benchmark.sha256},
        "params": params_identity(judge.params),
    }
    full = {"repairs": judge.repairs, "timeout_s": judge.params.timeout_s, **dict(config or {})}
    return RunSpec(RUN_KIND, f"{judge.model}:{MODE}", identity, full)


@dataclass
class PairwiseReport:
    """Every judge's pairwise run over one selection."""

    selection: PairSelection
    runs: list[JudgeRun]

    @property
    def complete(self) -> bool:
        return all_complete(self.runs)


def _units(
    store: Store, spec: RunSpec, judge: PairwiseJudge, selection: PairSelection, bench: Benchmark
) -> tuple[list[PairwiseUnit], list[str]]:
    keyed = [(d, f, o, judge.judgment_id(d, o)) for d, f in selection.pairs for o in ORDERS]
    ids = [jid for *_, jid in keyed]
    by_id = unit_ids(store, spec.id, ids)
    units = [
        PairwiseUnit(by_id[jid], judge, d, f, bench.card(d.character), o) for d, f, o, jid in keyed
    ]
    return units, ids


async def judge_pairwise_async(
    job: PairwiseJob,
    corpus: Corpus,
    store: Store,
    *,
    models: ModelFactory,
    options: RunOptions | None = None,
    prices: PriceTable | None = None,
    run_config: Mapping[str, Any] | None = None,
) -> PairwiseReport:
    """Compare (or finish comparing) the selection with the fans, one judge after another."""
    prompt = job.prompt()
    selection = select_pairs(job, corpus, prompt.rubric)
    config = {
        "selection": {"systems": selection.systems, "pairs": len(selection.pairs)},
        "anchors": {"included": job.include_anchors, "excluded": selection.excluded_anchors},
        **dict(run_config or {}),
    }
    runs = []
    for model in job.judges:
        judge = job.judge(model, prompt)
        spec = run_spec(judge, job.benchmark, config)
        units, ids = _units(store, spec, judge, selection, job.benchmark)
        run = await run_judge(
            store,
            spec,
            model,
            units,
            ids,
            models=models,
            options=options or RunOptions(),
            prices=prices,
            persist=pairwise_persister(spec.id),
            description="pairwise",
        )
        runs.append(run)
    return PairwiseReport(selection, runs)


def judge_pairwise(job: PairwiseJob, corpus: Corpus, store: Store, **kwargs: Any) -> PairwiseReport:
    """Synchronous :func:`judge_pairwise_async` (the CLI's entry point)."""
    return asyncio.run(judge_pairwise_async(job, corpus, store, **kwargs))


def pairwise_dry_run(job: PairwiseJob, corpus: Corpus, prices: PriceTable) -> JudgeDryRun:
    """Render every pairwise prompt (both orders) and estimate tokens and cost; calls nothing."""
    prompt = job.prompt()
    selection = select_pairs(job, corpus, prompt.rubric)
    estimates = []
    for model in job.judges:
        judge = job.judge(model, prompt)
        texts = [
            m.content
            for d, f in selection.pairs
            for o in ORDERS
            for m in judge.request(d, f, job.benchmark.card(d.character), o).messages
        ]
        estimates.append(prices.estimate(model, texts, OUTPUT_TOKENS))
    return JudgeDryRun(len(selection.pairs) * 2, selection.excluded_anchors, tuple(estimates))
