"""The ``generate`` job: run the ESRP protocol for a new system and export it.

A new system is one actor model (plus a user-simulator model) on a benchmark. It
becomes one run of the generic runner: one unit per (character, scenario), whose
finished dialogue is stored in ``dialogues`` in the same transaction that marks the
unit done. The export writes the release's JSON shape, so the corpus and every
later step treat the new system exactly like the 11 released ones.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select

from chatanime.backends.base import ChatModel, GenerationParams
from chatanime.benchmark import Benchmark
from chatanime.characters import Character
from chatanime.dataset import write_system_file
from chatanime.dialogue import Dialogue, TurnSources
from chatanime.errors import DataError
from chatanime.pricing import CostEstimate, PriceTable, estimate_tokens
from chatanime.protocol import (
    DialogueOutcome,
    EsrpProtocol,
    actor_system_prompt,
    round1_messages,
    round2_messages,
)
from chatanime.runner import (
    CallContext,
    RunOptions,
    RunSpec,
    RunSummary,
    insert_or_ignore,
    run_units,
)
from chatanime.scenarios import Scenario
from chatanime.simulator import UserSimulator
from chatanime.store import Store
from chatanime.store.schema import dialogues

RUN_KIND = "generate"


@dataclass(frozen=True)
class GenerationJob:
    """A new system: its name, models, protocol options, and the slice to run now.

    ``characters`` / ``scenarios`` / ``limit`` select which dialogues this
    invocation produces; they are not part of the run's identity, so a smoke run
    and the full run continue the same work.
    """

    name: str
    actor: str
    user_sim: str
    benchmark: Benchmark
    card: bool = False
    params: GenerationParams = field(default_factory=GenerationParams)
    simulator_params: GenerationParams | None = None
    retry_over_limit: int = 0
    user_sim_attempts: int = 3
    characters: tuple[str, ...] | None = None
    scenarios: tuple[int, ...] | None = None
    limit: int | None = None

    @property
    def protocol(self) -> EsrpProtocol:
        language = self.benchmark.language
        return EsrpProtocol(
            actor=self.actor,
            simulator=UserSimulator(self.user_sim, language, attempts=self.user_sim_attempts),
            benchmark=self.benchmark,
            card=self.card,
            params=self.params,
            simulator_params=self.simulator_params or self.params,
            retry_over_limit=self.retry_over_limit,
        )

    def selection(self) -> list[tuple[Character, Scenario]]:
        """The (character, scenario) pairs of this invocation, in benchmark order."""
        bench = self.benchmark
        chars = (
            [bench.character(s) for s in self.characters] if self.characters else bench.characters
        )
        scens = [bench.scenario(i) for i in self.scenarios] if self.scenarios else bench.scenarios
        pairs = [(c, s) for c in chars for s in scens]
        return pairs[: self.limit] if self.limit is not None else pairs


def _params_identity(params: GenerationParams) -> dict[str, Any]:
    # The timeout changes nothing in the answers, so it must not split a run.
    return params.model_dump(mode="json", exclude={"timeout_s"})


def run_spec(job: GenerationJob, run_config: Mapping[str, Any] | None = None) -> RunSpec:
    """The run's identity (what decides the dialogues) and recorded configuration."""
    protocol = job.protocol
    bench = job.benchmark
    identity: dict[str, Any] = {
        "system": job.name,
        "models": {"actor": job.actor, "user_sim": job.user_sim},
        "params": {
            "actor": _params_identity(protocol.params),
            "user_sim": _params_identity(protocol.simulator_params),
        },
        "prompts": {
            "actor": protocol.prompt.ref,
            "user_sim": protocol.simulator.prompt.ref,
            "user_sim_retry": protocol.simulator.retry_prompt.ref,
        },
        "benchmark": {"name": bench.name, "sha256": bench.sha256},
        "card": job.card,
    }
    if job.card:
        identity["card_sha256"] = {c.slug: c.sha256 for c in bench.characters}
    config: dict[str, Any] = {
        "prompt_sha256": {
            "actor": protocol.prompt.sha256,
            "user_sim": protocol.simulator.prompt.sha256,
            "user_sim_retry": protocol.simulator.retry_prompt.sha256,
        },
        "answer_limit": bench.answer_limit,
        "retry_over_limit": job.retry_over_limit,
        "user_sim_attempts": job.user_sim_attempts,
        "timeout_s": job.params.timeout_s,
        **dict(run_config or {}),
    }
    return RunSpec(kind=RUN_KIND, name=job.name, identity=identity, config=config)


@dataclass(frozen=True)
class GenerationUnit:
    """One (character, scenario) dialogue of a run."""

    run_id: str
    character: Character
    scenario: Scenario
    protocol: EsrpProtocol

    @property
    def id(self) -> str:
        return f"gen:{self.run_id}:{self.character.slug}:{self.scenario.id}"

    async def run(self, ctx: CallContext) -> dict[str, Any]:
        outcome = await self.protocol.run(ctx, self.character, self.scenario)
        return outcome.model_dump(mode="json")


def build_units(job: GenerationJob, spec: RunSpec) -> list[GenerationUnit]:
    protocol = job.protocol
    return [GenerationUnit(spec.id, c, s, protocol) for c, s in job.selection()]


def dialogue_persister(
    run_id: str, system: str, benchmark: str
) -> Callable[[Connection, str, Mapping[str, Any]], None]:
    """Store a finished unit's dialogue; a second insert of the same cell is ignored."""

    def persist(conn: Connection, _unit_id: str, result: Mapping[str, Any]) -> None:
        outcome = DialogueOutcome.model_validate(result)
        row = {
            "run_id": run_id,
            "system": system,
            "benchmark": benchmark,
            "character": outcome.character,
            "scenario": outcome.scenario,
            "question_r1": outcome.q1,
            "answer_r1": outcome.a1,
            "question_r2": outcome.q2,
            "answer_r2": outcome.a2,
            "sources_json": outcome.sources.model_dump_json(),
            "created_at": datetime.now(UTC).isoformat(),
        }
        keys = ["system", "benchmark", "character", "scenario"]
        insert_or_ignore(conn, dialogues, row, keys)

    return persist


def check_system_name(store: Store, spec: RunSpec, system: str, benchmark: str) -> None:
    """Refuse to mix two different runs' dialogues under one system name."""
    query = (
        select(dialogues.c.run_id, func.count())
        .where(dialogues.c.system == system, dialogues.c.benchmark == benchmark)
        .where(dialogues.c.run_id != spec.id)
        .group_by(dialogues.c.run_id)
    )
    with store.engine.connect() as conn:
        other = conn.execute(query).first()
    if other is not None:
        raise DataError(
            f"system {system!r} already has {other[1]} dialogues on benchmark {benchmark!r} "
            f"from another run ({other[0]}: different models, parameters or prompts); "
            "choose another --name"
        )


@dataclass
class GenerationReport:
    """The runner's summary plus what only the ESRP protocol knows."""

    summary: RunSummary
    selected: int
    over_limit: dict[int, int]
    """Round -> number of stored answers over the benchmark's limit (this selection)."""
    user_sim_retried: int
    """Dialogues whose user turn needed more than one simulator attempt."""
    mean_user_turn_length: float | None
    exported: Path | None = None


def _report(summary: RunSummary, selected: int) -> GenerationReport:
    over = {1: 0, 2: 0}
    retried = 0
    lengths: list[int] = []
    for result in summary.results.values():
        for round_ in result.get("over_limit_rounds", []):
            over[int(round_)] += 1
        retried += int(result.get("usersim_attempts", 1) > 1)
        if "q2" in result.get("lengths", {}):
            lengths.append(int(result["lengths"]["q2"]))
    mean = sum(lengths) / len(lengths) if lengths else None
    return GenerationReport(summary, selected, over, retried, mean)


async def generate_async(
    job: GenerationJob,
    store: Store,
    *,
    models: Callable[[str], ChatModel],
    options: RunOptions | None = None,
    prices: PriceTable | None = None,
    out_dir: Path | None = None,
    run_config: Mapping[str, Any] | None = None,
) -> GenerationReport:
    """Generate (or finish generating) the job's dialogues; export if ``out_dir``."""
    options = options or RunOptions(description=f"generate {job.name}")
    spec = run_spec(job, {**_options_config(options), **dict(run_config or {})})
    bench = job.benchmark.name
    check_system_name(store, spec, job.name, bench)
    cached = _validated_models(models, (job.actor, job.user_sim))
    units = build_units(job, spec)
    summary = await run_units(
        store,
        spec,
        units,
        models=cached,
        options=options,
        prices=prices,
        persist=dialogue_persister(spec.id, job.name, bench),
    )
    report = _report(summary, len(units))
    if out_dir is not None:
        report.exported = export_system(store, job.name, job.benchmark, out_dir)
    return report


def _options_config(options: RunOptions) -> dict[str, Any]:
    """How the run was executed, for ``runs.config_json`` (not part of its identity)."""
    return {
        "concurrency": options.concurrency,
        "rate_limits": {p: {"rpm": r.rpm, "tpm": r.tpm} for p, r in options.rate_limits.items()},
        "retry": {
            "max_attempts": options.retry.max_attempts,
            "base_delay": options.retry.base_delay,
        },
    }


def generate(job: GenerationJob, store: Store, **kwargs: Any) -> GenerationReport:
    """Synchronous :func:`generate_async` (the CLI's entry point)."""
    return asyncio.run(generate_async(job, store, **kwargs))


def _validated_models(
    factory: Callable[[str], ChatModel], names: Sequence[str]
) -> Callable[[str], ChatModel]:
    """Build every model up front, so a missing key stops the run before any call."""
    built = {name: factory(name) for name in dict.fromkeys(names)}

    def get(name: str) -> ChatModel:
        if name not in built:
            built[name] = factory(name)
        return built[name]

    return get


def load_dialogues(store: Store, system: str, benchmark: str) -> list[Dialogue]:
    """The stored dialogues of a generated system, in (character, scenario) order."""
    query = (
        select(dialogues)
        .where(dialogues.c.system == system, dialogues.c.benchmark == benchmark)
        .order_by(dialogues.c.character, dialogues.c.scenario)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        Dialogue(
            system=r.system,
            character=r.character,
            scenario=r.scenario,
            q1=r.question_r1,
            a1=r.answer_r1,
            q2=r.question_r2,
            a2=r.answer_r2,
            sources=TurnSources.model_validate(json.loads(r.sources_json)),
        )
        for r in rows
    ]


def export_system(store: Store, system: str, benchmark: Benchmark, out_dir: Path) -> Path:
    """Write ``out_dir/<system>.json`` in the release's shape (characters by release key)."""
    found = load_dialogues(store, system, benchmark.name)
    if not found:
        raise DataError(f"no stored dialogues for system {system!r} on {benchmark.name!r}")
    keys = {c.slug: c.key for c in benchmark.characters}
    return write_system_file(found, out_dir / f"{system}.json", keys)


@dataclass(frozen=True)
class DryRunPlan:
    """What a run would call and roughly cost (tokens estimated from characters)."""

    run_id: str
    units: int
    estimates: tuple[tuple[str, CostEstimate], ...]
    """(role, estimate) per role: actor round 1, user simulator, actor round 2."""
    prompts: tuple[str, ...] = ()
    """References of the prompts the calls would use."""

    @property
    def total_usd(self) -> float | None:
        costs = [e.usd for _, e in self.estimates]
        return None if any(c is None for c in costs) else sum(c for c in costs if c is not None)

    @property
    def unpriced(self) -> list[str]:
        return sorted({e.model for _, e in self.estimates if e.usd is None})


def dry_run(job: GenerationJob, prices: PriceTable) -> DryRunPlan:
    """Count the calls of every selected unit and estimate their cost; calls nothing.

    Answers that do not exist yet are stood in for by placeholders of the limit's
    length (actor) and of the target length (user turn); over-limit and simulator
    retries are not counted, so the estimate is a floor.
    """
    protocol = job.protocol
    bench = job.benchmark
    en = bench.language == "en"
    answer = ("word " * bench.answer_limit) if en else ("字" * bench.answer_limit)
    turn = ("word " * 60) if en else ("字" * 100)
    r1, sim, r2 = [], [], []
    for character, scenario in job.selection():
        system = actor_system_prompt(bench, character, card=job.card)
        r1.append(_joined(round1_messages(system, scenario.question_r1)))
        sim.append(_joined(protocol.simulator.messages(character, scenario, answer)))
        r2.append(_joined(round2_messages(system, scenario.question_r1, answer, turn)))
    out_answer, out_turn = estimate_tokens(answer), estimate_tokens(turn)
    estimates = (
        ("actor (round 1)", prices.estimate(job.actor, r1, out_answer)),
        ("user simulator", prices.estimate(job.user_sim, sim, out_turn)),
        ("actor (round 2)", prices.estimate(job.actor, r2, out_answer)),
    )
    refs = (protocol.prompt.ref, protocol.simulator.prompt.ref)
    return DryRunPlan(run_spec(job).id, len(r1), estimates, refs)


def _joined(messages: Sequence[Any]) -> str:
    return "\n".join(m.content for m in messages)
