"""The ``scenarios generate`` job: write a benchmark's scenarios with a model.

The ChatAnime study generated its 60 scenarios with an LLM from user personas and
emotions. This job does the same over a grid of personas x emotions x locations
(``per_cell`` scenarios per cell), as one run of the generic runner: one unit per
(persona, emotion, location, variant), so a rerun after a crash pays for nothing
twice and a larger grid reuses the cells already written. Each unit asks the
writer model for JSON, checks it (:mod:`chatanime.scenario_checks`) and re-asks
with the problems listed; a cell that never passes is a recorded value, not a
crash. Near-duplicates are removed across the whole grid afterwards, since no
single unit can see them (:mod:`chatanime.scenario_output` assembles and writes).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from chatanime.backends.base import ChatMessage, ChatModel, GenerationParams
from chatanime.benchmark import Language, builtin_benchmark_for_language, load_benchmark
from chatanime.characters import Character, get_character, load_card_file
from chatanime.errors import DataError
from chatanime.generation import DryRunPlan
from chatanime.pricing import PriceTable, estimate_tokens
from chatanime.prompts import PromptTemplate, load_prompt
from chatanime.runner import CallContext, RunOptions, RunSpec, RunSummary, run_units, stable_hash
from chatanime.scenario_checks import (
    Candidate,
    ScenarioProblem,
    ScenarioRules,
    check_scenario,
    forbidden_names,
    parse_candidate,
)
from chatanime.scenario_grid import GridCell, ScenarioGrid, build_grid
from chatanime.scenario_output import CellResult, ScenarioReport, assemble_report
from chatanime.store import Store

RUN_KIND = "scenarios"
WRITER_PROMPT = "scenario-writer"
_PREVIOUS_CHARS = 600
"""How much of a rejected answer the re-ask quotes back."""


@dataclass(frozen=True)
class ScenarioJob:
    """What to generate: the writer model, the language, the grid and the checks.

    ``characters`` are the benchmark's characters, whose names a scenario may not
    contain. The grid is not part of the run's identity (a larger grid continues
    the same run); the checks are, because they decide which calls are made.
    """

    model: str
    language: Language
    grid: ScenarioGrid
    characters: tuple[Character, ...] = ()
    rules: ScenarioRules | None = None
    params: GenerationParams = field(default_factory=GenerationParams)
    attempts: int = 2
    dedupe_threshold: float = 0.6

    @property
    def effective_rules(self) -> ScenarioRules:
        return self.rules or ScenarioRules.for_language(self.language)

    @property
    def prompt(self) -> PromptTemplate:
        return load_prompt(WRITER_PROMPT, self.language)

    @cached_property
    def names(self) -> tuple[str, ...]:
        """Cached: every answer of the run is checked against them."""
        return forbidden_names(self.characters)


def run_spec(job: ScenarioJob, run_config: dict[str, Any] | None = None) -> RunSpec:
    """The run's identity (what decides the calls) and its recorded configuration."""
    identity = {
        "model": job.model,
        "language": job.language,
        "params": job.params.model_dump(mode="json", exclude={"timeout_s"}),
        "prompt": job.prompt.ref,
        "rules": job.effective_rules.model_dump(mode="json"),
        "names_sha256": stable_hash(list(job.names), 40),
        "attempts": job.attempts,
    }
    config = {
        "prompt_sha256": job.prompt.sha256,
        "characters": [c.slug for c in job.characters],
        "grid": job.grid.model_dump(mode="json"),
        "dedupe_threshold": job.dedupe_threshold,
        "timeout_s": job.params.timeout_s,
        **dict(run_config or {}),
    }
    return RunSpec(kind=RUN_KIND, name=job.model, identity=identity, config=config)


class RejectedAttempt(BaseModel):
    """One answer that failed parsing or the checks, kept so the report can say why."""

    problems: tuple[ScenarioProblem, ...]
    reasons: tuple[str, ...]
    text: str


class CellOutcome(BaseModel):
    """A unit's result: the accepted scenario (or ``None``) and every rejected attempt."""

    cell: GridCell
    scenario: Candidate | None
    rejected: tuple[RejectedAttempt, ...] = ()


@dataclass(frozen=True)
class ScenarioWriter:
    """The writer model with its prompt and checks: asks, checks, re-asks."""

    job: ScenarioJob

    def messages(
        self, cell: GridCell, rejected: RejectedAttempt | None = None
    ) -> list[ChatMessage]:
        rules, language = self.job.effective_rules, self.job.language
        text = self.job.prompt.render(
            persona=cell.persona.label(language),
            emotion=cell.emotion.label(language),
            location=cell.location,
            variant=cell.variant,
            question_min=rules.question_min,
            question_max=rules.question_max,
            event_min=rules.event_min,
            event_max=rules.event_max,
            problems="; ".join(rejected.reasons) if rejected else "",
            previous=rejected.text[:_PREVIOUS_CHARS] if rejected else "",
        )
        return [ChatMessage(role="user", content=text)]

    def params(self, cell: GridCell) -> GenerationParams:
        """The job's parameters; a given seed is spread per cell so cells differ reproducibly."""
        seed = self.job.params.seed
        if seed is None:
            return self.job.params
        offset = int(stable_hash(cell.key, 8), 16)
        return self.job.params.model_copy(update={"seed": (seed + offset) % 2**31})

    def judge(self, text: str) -> RejectedAttempt | Candidate:
        """The candidate in ``text`` if it passes every check, else the rejection."""
        parsed = parse_candidate(text)
        if isinstance(parsed, str):
            return RejectedAttempt(
                problems=(ScenarioProblem.UNPARSEABLE,), reasons=(parsed,), text=text
            )
        verdict = check_scenario(parsed, rules=self.job.effective_rules, names=self.job.names)
        if verdict.ok:
            return Candidate(
                daily_event=parsed.daily_event.strip(), question_r1=parsed.question_r1.strip()
            )
        return RejectedAttempt(problems=verdict.problems, reasons=verdict.reasons, text=text)

    async def write(self, ctx: CallContext, cell: GridCell) -> CellOutcome:
        """Up to ``attempts`` calls, each a step of its own (``write#1``, ``write#2``...)."""
        rejected: list[RejectedAttempt] = []
        for attempt in range(1, self.job.attempts + 1):
            response = await ctx.call(
                step=f"write#{attempt}",
                role="scenario-writer",
                model=self.job.model,
                messages=self.messages(cell, rejected[-1] if rejected else None),
                params=self.params(cell),
                prompt_ref=self.job.prompt.ref,
            )
            verdict = self.judge(response.text)
            if isinstance(verdict, Candidate):
                return CellOutcome(cell=cell, scenario=verdict, rejected=tuple(rejected))
            rejected.append(verdict)
        return CellOutcome(cell=cell, scenario=None, rejected=tuple(rejected))


@dataclass(frozen=True)
class ScenarioUnit:
    """One grid cell of a run."""

    run_id: str
    cell: GridCell
    writer: ScenarioWriter

    @property
    def id(self) -> str:
        return f"scen:{self.run_id}:{self.cell.key}"

    async def run(self, ctx: CallContext) -> dict[str, Any]:
        outcome = await self.writer.write(ctx, self.cell)
        return outcome.model_dump(mode="json")


def build_units(job: ScenarioJob, spec: RunSpec) -> list[ScenarioUnit]:
    writer = ScenarioWriter(job)
    return [ScenarioUnit(spec.id, cell, writer) for cell in job.grid.cells()]


def _check_job(job: ScenarioJob) -> None:
    if job.attempts < 1:
        raise DataError("attempts must be at least 1")
    rules = job.effective_rules
    if rules.language != job.language:
        raise DataError(f"the rules are for {rules.language!r} but the job is {job.language!r}")
    for what, low, high in (
        ("opening line", rules.question_min, rules.question_max),
        ("daily event", rules.event_min, rules.event_max),
    ):
        if low > high:
            raise DataError(f"the {what} length range {low}-{high} is empty")


async def generate_scenarios_async(
    job: ScenarioJob,
    store: Store,
    *,
    models: Callable[[str], ChatModel],
    options: RunOptions | None = None,
    prices: PriceTable | None = None,
    run_config: dict[str, Any] | None = None,
) -> ScenarioReport:
    """Write (or finish writing) the grid's scenarios; checks, dedupes and reports balance."""
    _check_job(job)
    options = options or RunOptions(description=f"scenarios {job.language}")
    spec = run_spec(job, run_config)
    # Build the model now: a missing key or unknown provider stops before any call.
    built = {job.model: models(job.model)}
    units = build_units(job, spec)
    summary: RunSummary = await run_units(
        store,
        spec,
        units,
        models=lambda name: built[name] if name in built else models(name),
        options=options,
        prices=prices,
    )
    results = [_cell_result(u.cell, summary.results.get(u.id)) for u in units]
    return assemble_report(
        summary, job.grid, results, language=job.language, threshold=job.dedupe_threshold
    )


def _cell_result(cell: GridCell, result: dict[str, Any] | None) -> CellResult:
    if result is None:
        return CellResult(cell, None, None)
    outcome = CellOutcome.model_validate(result)
    return CellResult(cell, outcome.scenario, outcome.rejected)


def generate_scenarios(job: ScenarioJob, store: Store, **kwargs: Any) -> ScenarioReport:
    """Synchronous :func:`generate_scenarios_async` (the CLI's entry point)."""
    return asyncio.run(generate_scenarios_async(job, store, **kwargs))


def dry_run(job: ScenarioJob, prices: PriceTable) -> DryRunPlan:
    """The first call of every cell and its estimated cost; calls nothing.

    The answer is stood in for by a JSON object at the length limits, and re-asks
    are not counted, so the estimate is a floor.
    """
    _check_job(job)
    writer = ScenarioWriter(job)
    rules = job.effective_rules
    unit = "word " if job.language == "en" else "字"
    answer = json.dumps(
        {"daily_event": unit * rules.event_max, "question_r1": unit * rules.question_max},
        ensure_ascii=False,
    )
    prompts = [writer.messages(cell)[0].content for cell in job.grid.cells()]
    estimate = prices.estimate(job.model, prompts, estimate_tokens(answer))
    return DryRunPlan(run_spec(job).id, len(prompts), (("scenario writer", estimate),))


@dataclass(frozen=True)
class Target:
    """The benchmark the scenarios are for: its language, characters and answer limit."""

    language: Language
    characters: tuple[Character, ...]
    answer_limit: int | None = None


def _character(spec: str) -> Character:
    if spec.endswith((".yaml", ".yml")) or "/" in spec:
        return load_card_file(Path(spec))
    return get_character(spec)


def resolve_target(
    benchmark: str | None = None,
    language: str | None = None,
    characters: Sequence[str] = (),
) -> Target:
    """Language and characters from ``--benchmark``, ``--language`` and ``--characters``.

    Explicit characters (slugs or card files) win over the benchmark's; with
    neither, the built-in benchmark of the language supplies the 20 characters,
    whose names then stay out of the scenarios.
    """
    bench = load_benchmark(benchmark) if benchmark else None
    if bench is not None and language is not None and language != bench.language:
        raise DataError(
            f"--language {language} contradicts benchmark {bench.name!r} ({bench.language})"
        )
    given = bench.language if bench is not None else (language or "zh")
    if given not in ("zh", "en"):
        raise DataError(f"unknown language {given!r}; use zh or en")
    lang: Language = "en" if given == "en" else "zh"
    if characters:
        chars = tuple(_character(s) for s in characters)
        for char in chars:
            char.card(lang)  # a card without this language's block fails now, before paying
    elif bench is not None:
        chars = bench.characters
    else:
        chars = builtin_benchmark_for_language(lang).characters
    limit = bench.answer_limit if bench is not None else None
    return Target(language=lang, characters=chars, answer_limit=limit)


def job_for_target(
    model: str,
    target: Target,
    *,
    grid_file: Path | None = None,
    grid_overrides: Mapping[str, Any] | None = None,
    question_length: tuple[int, int] | None = None,
    params: GenerationParams | None = None,
    attempts: int = 2,
    dedupe_threshold: float = 0.6,
) -> ScenarioJob:
    """The job for ``target`` from plain values (what ``scenarios generate`` is given).

    The checks are the target language's, with ``question_length`` (MIN, MAX) replacing
    the opening-line bounds; the grid is :func:`~chatanime.scenario_grid.build_grid`'s
    (default, then ``grid_file``, then the ``grid_overrides`` that are not ``None``).
    """
    bounds = (
        {"question_min": question_length[0], "question_max": question_length[1]}
        if question_length
        else {}
    )
    rules = ScenarioRules.for_language(target.language, **bounds)
    return ScenarioJob(
        model=model,
        language=target.language,
        grid=build_grid(target.language, grid_file, **dict(grid_overrides or {})),
        characters=target.characters,
        rules=rules,
        params=params or GenerationParams(),
        attempts=attempts,
        dedupe_threshold=dedupe_threshold,
    )
