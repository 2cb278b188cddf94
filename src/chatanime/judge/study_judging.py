"""Judging the items a rated study showed its annotators (pointwise, optionally pairwise).

The audit and calibration need the judge's scores of exactly the dialogues people rated,
so the study's snapshots are judged rather than the release: a study may hold dialogues
that were generated, collected or edited since. The runs are ordinary judge runs
(:mod:`chatanime.judge.job`, :mod:`chatanime.judge.pairwise_job`), resumable like any other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chatanime.backends.base import GenerationParams
from chatanime.benchmark import Benchmark, load_benchmark
from chatanime.corpus import Corpus
from chatanime.judge.job import JudgeJob, JudgeReport, judge_async
from chatanime.judge.judgments import ModelFactory
from chatanime.judge.pairwise import OPPONENT
from chatanime.judge.pairwise_job import PairwiseJob, PairwiseReport, judge_pairwise_async
from chatanime.judge.study_ratings import load_study
from chatanime.pricing import PriceTable
from chatanime.runner import RunOptions
from chatanime.store import Store


@dataclass
class StudyJudging:
    """The judge runs over a study's items; ``note`` says why pairwise was skipped."""

    pointwise: JudgeReport
    pairwise: PairwiseReport | None
    note: str | None = None

    @property
    def complete(self) -> bool:
        return self.pointwise.complete and (self.pairwise is None or self.pairwise.complete)


async def judge_study_async(
    store: Store,
    study: str,
    judges: Sequence[str],
    *,
    models: ModelFactory,
    options: RunOptions | None = None,
    prices: PriceTable | None = None,
    pairwise: bool = False,
    fans: Corpus | None = None,
    benchmark: Benchmark | None = None,
    language: str | None = None,
    params: GenerationParams | None = None,
) -> StudyJudging:
    """Judge (or finish judging) the dialogues a study showed its annotators.

    The study's snapshots are judged, so scores match exactly what people rated. With
    ``pairwise`` each non-fan item is also compared with the fans' dialogue of its
    character and scenario: from the study when it includes ``human``, else from ``fans``.
    Anchor dialogues of the rubric are left out, as in every judge run.
    """
    ratings = load_study(store, study)
    bench = benchmark or load_benchmark(ratings.benchmark)
    config = ratings.config
    scope: dict[str, Any] = {
        "systems": tuple(config["systems"]),
        "characters": tuple(config["characters"]),
        "scenarios": tuple(int(s) for s in config["scenarios"]),
        "language": language,
        "params": params or GenerationParams(temperature=0.0),
    }
    corpus = Corpus(ratings.dialogues.values(), bench)
    job = JudgeJob(judges=tuple(judges), benchmark=bench, **scope)
    run: dict[str, Any] = {"models": models, "options": options, "prices": prices}
    run["run_config"] = {"study": ratings.name}
    report = await judge_async(job, corpus, store, **run)
    if not pairwise:
        return StudyJudging(report, None)
    pairs = _with_fans(corpus, fans)
    if not any(d.system == OPPONENT for d in pairs.dialogues):
        return StudyJudging(report, None, "no fans' dialogues for the study's items")
    pjob = PairwiseJob(judges=tuple(judges), benchmark=bench, **scope)
    compared = await judge_pairwise_async(pjob, pairs, store, **run)
    return StudyJudging(report, compared)


def _with_fans(corpus: Corpus, fans: Corpus | None) -> Corpus:
    """The study's dialogues plus the fans' dialogues of its items it does not hold."""
    if fans is None:
        return corpus
    wanted = {(d.character, d.scenario) for d in corpus.dialogues}
    extra = [
        d
        for d in fans.dialogues
        if d.system == OPPONENT
        and (d.character, d.scenario) in wanted
        and corpus.get(OPPONENT, d.character, d.scenario) is None
    ]
    return Corpus([*corpus.dialogues, *extra], corpus.benchmark)


def judge_study(store: Store, study: str, judges: Sequence[str], **kwargs: Any) -> StudyJudging:
    """Synchronous :func:`judge_study_async` (the CLI's entry point)."""
    return asyncio.run(judge_study_async(store, study, judges, **kwargs))
