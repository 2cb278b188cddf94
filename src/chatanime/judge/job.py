"""The ``judge`` job: judgments over a corpus on the resumable runner, stored as rows.

Each judge model is its own run (``kind='judge'``), whose identity is the judge, the
mode, the prompt / repair / rubric hashes (the rubric as shown: with or without its
anchor examples), the benchmark hash and the sampling parameters — not which systems or
how many items this invocation covers — so adding systems, raising ``--limit`` or adding
a second judge continues finished work instead of paying for it again. One unit per
judgment; its outcome (scored or unscored) is written to ``judgments`` / ``scores`` in
the transaction that marks the unit done.

Judgments whose judge never replied (``NO_REPLY``) are retried by the next invocation
under a fresh unit id derived from the stored failure, so a flaky provider leaves no
permanent holes while an invalid reply — which a retry would only replay — stays final.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chatanime.backends.base import GenerationParams
from chatanime.benchmark import Benchmark, builtin_benchmark_for_language
from chatanime.characters import CardText
from chatanime.corpus import Corpus
from chatanime.dialogue import Dialogue
from chatanime.errors import DataError
from chatanime.generation import load_dialogues
from chatanime.judge.judgments import JudgeRun, ModelFactory, all_complete, run_judge, unit_ids
from chatanime.judge.pointwise import (
    PointwiseJudge,
    PointwiseMode,
    judge_dialogue,
)
from chatanime.judge.prompt import JudgePrompt
from chatanime.judge.rubric import Rubric, exclude_anchor_items
from chatanime.pricing import CostEstimate, PriceTable
from chatanime.runner import CallContext, RunOptions, RunSpec
from chatanime.store import Store

RUN_KIND = "judge"
_OUTPUT_TOKENS = {"pointwise": 400, "pointwise-round": 260}
"""Rough output tokens per call (rationale + JSON) for dry-run estimates."""


@dataclass(frozen=True)
class JudgeJob:
    """Which judges score which dialogues, how; the selection is not part of any run id."""

    judges: tuple[str, ...]
    benchmark: Benchmark
    mode: PointwiseMode = "pointwise"
    language: str | None = None
    """Language of the prompt and rubric; default: the benchmark's."""
    systems: tuple[str, ...] | None = None
    characters: tuple[str, ...] | None = None
    scenarios: tuple[int, ...] | None = None
    limit: int | None = None
    include_anchors: bool = False
    """Judge the rubric's anchor dialogues too (normally excluded for every system)."""
    rubric_examples: bool = True
    """Show the judge the rubric's anchor examples (see :class:`JudgePrompt`); off saves
    most of each call's input tokens and makes the run a separate source. The anchor
    dialogues stay excluded even then (unless ``include_anchors``): the judge never saw
    them, but scoring them would make the two runs cover different items, and comparing
    a run without examples with the default run is the point of making one."""
    repairs: int = 2
    params: GenerationParams = field(default_factory=lambda: GenerationParams(temperature=0.0))

    @property
    def judge_language(self) -> str:
        return self.language or self.benchmark.language

    def prompt(self) -> JudgePrompt:
        return JudgePrompt.load(self.judge_language, rubric_examples=self.rubric_examples)

    def judge(self, model: str, prompt: JudgePrompt | None = None) -> PointwiseJudge:
        return PointwiseJudge(
            model=model,
            prompt=prompt or self.prompt(),
            benchmark=self.benchmark.name,
            mode=self.mode,
            params=self.params,
            repairs=self.repairs,
        )


# ---------------------------------------------------------------- selection


@dataclass(frozen=True)
class Selection:
    """The dialogues of one invocation and how many anchor dialogues were left out."""

    dialogues: tuple[Dialogue, ...]
    excluded_anchors: int

    @property
    def systems(self) -> list[str]:
        return list(dict.fromkeys(d.system for d in self.dialogues))


def with_stored_systems(corpus: Corpus, store: Store, systems: Sequence[str]) -> Corpus:
    """Add generated systems that are in the store but not (yet) exported to a file."""
    missing = [s for s in systems if s not in corpus.systems]
    extra = [d for s in missing for d in load_dialogues(store, s, corpus.benchmark.name)]
    return Corpus([*corpus.dialogues, *extra], corpus.benchmark) if extra else corpus


def anchor_scenarios(bench: Benchmark) -> frozenset[int]:
    """Scenario ids whose dialogues can be the rubric's anchor examples.

    Anchors are release dialogues keyed by (character, scenario id), so they only mean
    the same dialogue where the benchmark's scenario is the built-in one: same id and
    opening line as the built-in benchmark of its language. A user benchmark's scenario
    1 is another situation, and dropping its dialogues would lose items for nothing.
    """
    builtin = {
        s.id: s.question_r1 for s in builtin_benchmark_for_language(bench.language).scenarios
    }
    return frozenset(s.id for s in bench.scenarios if builtin.get(s.id) == s.question_r1)


def select_dialogues(
    corpus: Corpus,
    *,
    systems: Sequence[str] | None = None,
    characters: Sequence[str] | None = None,
    scenarios: Sequence[int] | None = None,
    limit: int | None = None,
    include_anchors: bool = False,
    rubric: Rubric | None = None,
) -> Selection:
    """Filter, drop anchor dialogues (whole dialogue, every system), order, then limit.

    Items are ordered by character, scenario, then system, so ``--limit`` takes the
    same dialogues for every system (a paired comparison stays paired).
    """
    bench = corpus.benchmark
    unknown = [s for s in systems or () if s not in corpus.systems]
    if unknown:
        known = ", ".join(corpus.systems)
        raise DataError(f"no dialogues for system(s) {', '.join(unknown)}; known: {known}")
    for slug in characters or ():
        bench.character(slug)  # an unknown slug is a DataError naming the known ones
    chosen = corpus.filter(systems=systems, characters=characters, scenarios=scenarios)
    kept = list(chosen.dialogues)
    if not include_anchors:
        scope = anchor_scenarios(bench)
        kept = [d for d in kept if d.scenario not in scope] + exclude_anchor_items(
            [d for d in kept if d.scenario in scope], rubric, whole_dialogue=True
        )
    excluded = len(chosen.dialogues) - len(kept)
    char_order = {c.slug: i for i, c in enumerate(bench.characters)}
    sys_order = {s: i for i, s in enumerate(corpus.systems)}
    kept.sort(key=lambda d: (char_order.get(d.character, 0), d.scenario, sys_order[d.system]))
    if limit is not None:
        kept = kept[:limit]
    return Selection(tuple(kept), excluded)


# ---------------------------------------------------------------- runs, units, rows


def params_identity(params: GenerationParams) -> dict[str, Any]:
    # The timeout changes no score, so it must not split a run.
    return params.model_dump(mode="json", exclude={"timeout_s"})


def run_spec(
    judge: PointwiseJudge, benchmark: Benchmark, config: Mapping[str, Any] | None = None
) -> RunSpec:
    """One judge's run: identity = what decides its scores; config = how it was run."""
    identity = {
        "judge": judge.model,
        "mode": judge.mode,
        **judge.prompt.identity(),
        "benchmark": {"name": benchmark.name, "sha256": benchmark.sha256},
        "params": params_identity(judge.params),
    }
    full_config = {
        "prompt_sha256": judge.prompt.sha256,
        "rubric_sha256": judge.prompt.rubric.sha256,
        "rubric_examples": judge.prompt.rubric_examples,
        "repairs": judge.repairs,
        "timeout_s": judge.params.timeout_s,
        **dict(config or {}),
    }
    return RunSpec(RUN_KIND, f"{judge.model}:{judge.mode}", identity, full_config)


@dataclass(frozen=True)
class PointwiseUnit:
    """One dialogue judged by one judge."""

    id: str
    judge: PointwiseJudge
    dialogue: Dialogue
    card: CardText

    async def run(self, ctx: CallContext) -> dict[str, Any]:
        outcome = await judge_dialogue(ctx, self.judge, self.dialogue, self.card)
        return outcome.model_dump(mode="json")


@dataclass
class JudgeReport:
    """Every judge's run over one selection."""

    selection: Selection
    runs: list[JudgeRun]

    @property
    def complete(self) -> bool:
        """Every selected item has a final judgment from every judge, nothing aborted."""
        return all_complete(self.runs)


async def judge_async(
    job: JudgeJob,
    corpus: Corpus,
    store: Store,
    *,
    models: ModelFactory,
    options: RunOptions | None = None,
    prices: PriceTable | None = None,
    run_config: Mapping[str, Any] | None = None,
) -> JudgeReport:
    """Judge (or finish judging) the job's selection with every judge, one after another."""
    prompt = job.prompt()
    selection = job_selection(job, corpus, prompt.rubric)
    config = {**selection_config(job, selection), **dict(run_config or {})}
    runs = []
    for model in job.judges:
        judge = job.judge(model, prompt)
        spec = run_spec(judge, job.benchmark, config)
        ids = [judge.judgment_id(d) for d in selection.dialogues]
        by_id = unit_ids(store, spec.id, ids)
        units = [
            PointwiseUnit(by_id[jid], judge, d, job.benchmark.card(d.character))
            for jid, d in zip(ids, selection.dialogues, strict=True)
        ]
        run = await run_judge(
            store,
            spec,
            model,
            units,
            ids,
            models=models,
            options=options or RunOptions(),
            prices=prices,
        )
        runs.append(run)
    return JudgeReport(selection, runs)


def judge(job: JudgeJob, corpus: Corpus, store: Store, **kwargs: Any) -> JudgeReport:
    """Synchronous :func:`judge_async` (the CLI's entry point)."""
    return asyncio.run(judge_async(job, corpus, store, **kwargs))


def job_selection(job: JudgeJob, corpus: Corpus, rubric: Rubric | None = None) -> Selection:
    return select_dialogues(
        corpus,
        systems=job.systems,
        characters=job.characters,
        scenarios=job.scenarios,
        limit=job.limit,
        include_anchors=job.include_anchors,
        rubric=rubric,
    )


def selection_config(job: JudgeJob, selection: Selection) -> dict[str, Any]:
    """What this invocation covered, recorded in the run's config (not its identity)."""
    return {
        "selection": {
            "systems": selection.systems,
            "characters": list(job.characters) if job.characters else None,
            "scenarios": list(job.scenarios) if job.scenarios else None,
            "limit": job.limit,
            "items": len(selection.dialogues),
        },
        "anchors": {"included": job.include_anchors, "excluded": selection.excluded_anchors},
    }


@dataclass(frozen=True)
class JudgeDryRun:
    """Calls and estimated cost per judge; repairs are not counted (a floor)."""

    items: int
    excluded_anchors: int
    estimates: tuple[CostEstimate, ...]


def dry_run(job: JudgeJob, corpus: Corpus, prices: PriceTable) -> JudgeDryRun:
    """Render every prompt of the selection and estimate tokens and cost; calls nothing."""
    prompt = job.prompt()
    selection = job_selection(job, corpus, prompt.rubric)
    estimates = []
    for model in job.judges:
        judge = job.judge(model, prompt)
        texts = [
            m.content
            for d in selection.dialogues
            for rounds in judge.round_groups
            for m in judge.request(d, job.benchmark.card(d.character), rounds).messages
        ]
        estimates.append(prices.estimate(model, texts, _OUTPUT_TOKENS[job.mode]))
    return JudgeDryRun(len(selection.dialogues), selection.excluded_anchors, tuple(estimates))
