"""One invocation of the judges as plain values, and the jobs and run arguments built from it.

``chatanime judge`` takes some thirty options shared by its modes (pointwise, per round,
diversity, pairwise vs the fans). Turning them into a benchmark, a corpus, a job, model
factories and runner options is library work, not command-line work, so it lives here:
the CLI only parses strings into a :class:`JudgeSettings` and hands it to a mode's
handler, and a script can build the same settings without typer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

from chatanime.backends.base import ChatModel, GenerationParams
from chatanime.backends.registry import get_model
from chatanime.benchmark import Benchmark, load_benchmark
from chatanime.corpus import Corpus, load_corpus
from chatanime.errors import DataError
from chatanime.judge.job import JudgeJob, with_stored_systems
from chatanime.judge.llm_diversity import DEFAULT_SIZE, DiversityJudge
from chatanime.judge.pairwise_job import PairwiseJob
from chatanime.pricing import PriceTable, price_table
from chatanime.runner import RateLimit, RunOptions
from chatanime.store import Store

POINTWISE = ("pointwise", "pointwise-round")


class RunArgs(TypedDict):
    """How a judge job runs (models, speed, prices, recorded config), not what it judges."""

    models: Callable[[str], ChatModel]
    options: RunOptions
    prices: PriceTable
    run_config: dict[str, object]


@dataclass(frozen=True)
class JudgeSettings:
    """Everything one judge invocation was given (what, how, where), already typed."""

    judges: tuple[str, ...]
    mode: str = "pointwise"
    systems: tuple[str, ...] | None = None
    characters: tuple[str, ...] | None = None
    scenarios: tuple[int, ...] | None = None
    limit: int | None = None
    language: str | None = None
    data: Path | None = None
    extra: tuple[Path, ...] = ()
    benchmark_name: str = "chatanime"
    store_url: str | None = None
    concurrency: int = 16
    rpm: float | None = None
    tpm: float | None = None
    dry_run: bool = False
    base_url: str | None = None
    prices_path: Path | None = None
    progress: bool = True
    params: GenerationParams = field(default_factory=lambda: GenerationParams(temperature=0.0))
    repairs: int = 2
    include_anchors: bool = False
    rubric_examples: bool = True
    """Pointwise modes: show the rubric's anchor examples (see :attr:`JudgeJob.rubric_examples`)."""
    diversity_size: int = DEFAULT_SIZE
    seed: int = 0
    """Seed of the diversity samples (the judge's sampling seed is in ``params``)."""

    def benchmark(self) -> Benchmark:
        return load_benchmark(self.benchmark_name)

    def corpus(self, store: Store | None = None) -> Corpus:
        """The release (and extra files) plus generated systems asked for but only stored."""
        corpus = load_corpus(self.data, extra=list(self.extra), benchmark=self.benchmark())
        if store is not None and self.systems:
            return with_stored_systems(corpus, store, self.systems)
        return corpus

    def models(self) -> Callable[[str], ChatModel]:
        return lambda name: get_model(name, base_url=self.base_url)

    def run_options(self) -> RunOptions:
        limits = {"*": RateLimit(self.rpm, self.tpm)} if self.rpm or self.tpm else {}
        return RunOptions(concurrency=self.concurrency, rate_limits=limits, progress=self.progress)

    def run_config(self) -> dict[str, object]:
        """Speed settings recorded with a run (never part of its identity)."""
        return {"concurrency": self.concurrency, "rpm": self.rpm, "tpm": self.tpm}

    def prices(self) -> PriceTable:
        return price_table(self.prices_path)

    def run_args(self) -> RunArgs:
        """The keyword arguments every judge job takes from these settings."""
        return RunArgs(
            models=self.models(),
            options=self.run_options(),
            prices=self.prices(),
            run_config=self.run_config(),
        )

    def job(self, benchmark: Benchmark, mode: str | None = None) -> JudgeJob:
        """The pointwise job (other modes reuse its selection with ``mode='pointwise'``)."""
        mode = mode or self.mode
        if mode not in POINTWISE:
            raise DataError(f"--mode {mode} is not a pointwise mode")
        return JudgeJob(
            judges=self.judges,
            benchmark=benchmark,
            mode="pointwise" if mode == "pointwise" else "pointwise-round",
            language=self.language,
            systems=self.systems,
            characters=self.characters,
            scenarios=self.scenarios,
            limit=self.limit,
            include_anchors=self.include_anchors,
            rubric_examples=self.rubric_examples,
            repairs=self.repairs,
            params=self.params,
        )

    def pairwise_job(self, benchmark: Benchmark) -> PairwiseJob:
        """The pairwise-vs-fans job (its prompt never shows the rubric's examples)."""
        return PairwiseJob(
            judges=self.judges,
            benchmark=benchmark,
            language=self.language,
            systems=self.systems,
            characters=self.characters,
            scenarios=self.scenarios,
            limit=self.limit,
            include_anchors=self.include_anchors,
            repairs=self.repairs,
            params=self.params,
        )

    def diversity_judges(self, benchmark: Benchmark) -> list[DiversityJudge]:
        """One answer-set diversity judge per model (its rubric part has no examples)."""
        return [
            DiversityJudge(
                model,
                benchmark.name,
                self.language or benchmark.language,
                size=self.diversity_size,
                seed=self.seed,
                params=self.params,
                repairs=self.repairs,
            )
            for model in self.judges
        ]
