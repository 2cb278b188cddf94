"""``chatanime generate``: a new system's dialogues through the ESRP protocol.

The generation library (runner, model clients, store) is imported when the command runs,
not when the CLI registers it (see ``cli/__init__.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from chatanime.cli.options import (
    BenchOpt,
    DryRunOpt,
    MaxTokensOpt,
    ModelUrlOpt,
    PricesOpt,
    ProgressOpt,
    RpmOpt,
    RunStoreOpt,
    TemperatureOpt,
    TimeoutOpt,
    TpmOpt,
    comma_list,
    rate_limits,
)
from chatanime.errors import DataError

if TYPE_CHECKING:
    from chatanime.generation import DryRunPlan, GenerationJob, GenerationReport
    from chatanime.pricing import PriceTable

console = Console(soft_wrap=True)


def parse_ids(text: str) -> tuple[int, ...]:
    """``"1-5,9"`` -> ``(1, 2, 3, 4, 5, 9)``; a bad range is a ``DataError``."""
    ids: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        try:
            first, last = int(lo), int(hi) if sep else int(lo)
        except ValueError:
            raise DataError(f"--scenarios: {part!r} is not an id or a range like 1-5") from None
        if last < first:
            raise DataError(f"--scenarios: empty range {part!r}")
        ids.extend(range(first, last + 1))
    if not ids:
        raise DataError("--scenarios: no ids given")
    return tuple(dict.fromkeys(ids))


def _print_plan(plan: DryRunPlan) -> None:
    table = Table(title=f"dry run: {plan.units} dialogues (run {plan.run_id})")
    for col in ("role", "model", "calls", "in tokens*", "out tokens*", "USD*"):
        table.add_column(col, justify="left" if col in ("role", "model") else "right")
    for role, est in plan.estimates:
        usd = "no price" if est.usd is None else f"{est.usd:.4f}"
        table.add_row(
            role, est.model, str(est.calls), str(est.input_tokens), str(est.output_tokens), usd
        )
    console.print(table)
    if plan.prompts:
        console.print("prompts: " + ", ".join(plan.prompts))
    total = plan.total_usd
    console.print(
        "estimated total: "
        + ("unknown" if total is None else f"${total:.4f}")
        + " (* estimated from text length; a floor: over-limit and simulator retries"
        " are not counted)"
    )
    for model in plan.unpriced:
        console.print(
            f"[yellow]{model} has no price; add it with --prices FILE (USD per million tokens)."
        )


def _print_report(report: GenerationReport) -> None:
    s = report.summary
    cost = f"${s.cost_usd:.4f}" + (
        f" (no price for {', '.join(sorted(s.unpriced_models))})" if s.unpriced_models else ""
    )
    console.print(
        f"run {s.run_id}: {report.selected} dialogues selected, {s.skipped} already done, "
        f"{s.done} generated now, {s.failed} failed"
    )
    console.print(
        f"calls: {s.calls} new, {s.replayed_calls} replayed from the store, {s.failed_calls} "
        f"failed for good, {s.retries} retries; tokens in/out {s.input_tokens}/{s.output_tokens}; "
        f"cost {cost}; run total ${s.run_cost_usd:.4f}; {s.elapsed_s:.1f} s"
    )
    mean = report.mean_user_turn_length
    console.print(
        f"answers over the limit: round 1 {report.over_limit[1]}, round 2 {report.over_limit[2]}; "
        f"user turns needing a simulator retry: {report.user_sim_retried}; mean user-turn length "
        + ("-" if mean is None else f"{mean:.1f}")
    )
    for unit_id, error in list(s.errors.items())[:5]:
        console.print(f"[red]failed[/] {unit_id}: {error}", soft_wrap=True, highlight=False)
    if s.aborted:
        console.print(f"[red]aborted:[/] {s.aborted}")
    if report.exported is not None:
        console.print(f"exported {report.exported}")


# This command's own options (the model-calling ones are shared, in cli/options.py).
# An option without a name is named after the parameter that uses it.
ActorOpt = Annotated[str, typer.Option("--model", help="The actor, provider/model.")]
UserSimOpt = Annotated[str, typer.Option("--user-sim", help="The user simulator model.")]
NameOpt = Annotated[str, typer.Option("--name", help="Name of the new system.")]
CardOpt = Annotated[bool, typer.Option("--card/--no-card", help="Add the card.")]
ConcurrencyOpt = Annotated[int, typer.Option(min=1, help="Dialogues in flight.")]
TopPOpt = Annotated[float | None, typer.Option("--top-p", help="Nucleus sampling.")]
SeedOpt = Annotated[int | None, typer.Option(help="Sampling seed.")]
LimitOpt = Annotated[int | None, typer.Option(min=1, help="Only the first N dialogues.")]
CharactersOpt = Annotated[str | None, typer.Option(help="Slugs, e.g. luffy,naruto.")]
ScenariosOpt = Annotated[str | None, typer.Option(help="Ids, e.g. 1-5,9.")]
RetryOverLimitOpt = Annotated[int, typer.Option(min=0, help="Re-ask long answers.")]
UserSimAttemptsOpt = Annotated[int, typer.Option(min=1, help="Simulator tries.")]
OutOpt = Annotated[Path | None, typer.Option(help="Write OUT/NAME.json (release shape).")]


@dataclass(frozen=True)
class GenerateCliOptions:
    """Everything ``chatanime generate`` was given, by parameter name, with its set-up steps.

    Built from typer's parsed values, so the command itself stays a list of option
    declarations and one call; each step below turns a few options into a library value.
    """

    model: str
    user_sim: str
    name: str
    benchmark: str
    card: bool
    concurrency: int
    rpm: float | None
    tpm: float | None
    temperature: float | None
    top_p: float | None
    max_tokens: int | None
    seed: int | None
    timeout: float
    limit: int | None
    characters: str | None
    scenarios: str | None
    retry_over_limit: int
    user_sim_attempts: int
    dry_run_: bool
    out: Path | None
    store: str | None
    base_url: str | None
    prices: Path | None
    progress: bool

    def job(self) -> GenerationJob:
        from chatanime.backends.base import GenerationParams
        from chatanime.benchmark import load_benchmark
        from chatanime.generation import GenerationJob

        return GenerationJob(
            name=self.name,
            actor=self.model,
            user_sim=self.user_sim,
            benchmark=load_benchmark(self.benchmark),
            card=self.card,
            params=GenerationParams(
                temperature=self.temperature,
                top_p=self.top_p,
                max_tokens=self.max_tokens,
                seed=self.seed,
                timeout_s=self.timeout,
            ),
            retry_over_limit=self.retry_over_limit,
            user_sim_attempts=self.user_sim_attempts,
            characters=comma_list(self.characters) if self.characters else None,
            scenarios=parse_ids(self.scenarios) if self.scenarios else None,
            limit=self.limit,
        )

    def run(self, job: GenerationJob, prices: PriceTable) -> GenerationReport:
        from chatanime.backends.registry import get_model
        from chatanime.generation import generate
        from chatanime.runner import RunOptions
        from chatanime.store import open_store

        options = RunOptions(
            concurrency=self.concurrency,
            rate_limits=rate_limits(self.rpm, self.tpm),
            progress=self.progress,
            description=f"generate {self.name}",
        )
        return generate(
            job,
            open_store(self.store),
            models=lambda n: get_model(n, base_url=self.base_url),
            options=options,
            prices=prices,
            out_dir=self.out,
        )


def _generate(opts: GenerateCliOptions) -> None:
    """Plan, or generate and report: the body of ``chatanime generate``."""
    from chatanime.generation import dry_run
    from chatanime.pricing import price_table

    job = opts.job()
    table = price_table(opts.prices)
    if opts.dry_run_:
        _print_plan(dry_run(job, table))
        return
    report = opts.run(job, table)
    _print_report(report)
    if report.summary.failed or report.summary.aborted:
        raise typer.Exit(1)


def generate_command(
    ctx: typer.Context,
    model: ActorOpt,
    user_sim: UserSimOpt,
    name: NameOpt,
    benchmark: BenchOpt = "chatanime",
    card: CardOpt = False,
    concurrency: ConcurrencyOpt = 16,
    rpm: RpmOpt = None,
    tpm: TpmOpt = None,
    temperature: TemperatureOpt = None,
    top_p: TopPOpt = None,
    max_tokens: MaxTokensOpt = None,
    seed: SeedOpt = None,
    timeout: TimeoutOpt = 60.0,
    limit: LimitOpt = None,
    characters: CharactersOpt = None,
    scenarios: ScenariosOpt = None,
    retry_over_limit: RetryOverLimitOpt = 0,
    user_sim_attempts: UserSimAttemptsOpt = 3,
    dry_run_: DryRunOpt = False,
    out: OutOpt = None,
    store: RunStoreOpt = None,
    base_url: ModelUrlOpt = None,
    prices: PricesOpt = None,
    progress: ProgressOpt = True,
) -> None:
    """Generate a new system's two-round dialogues (resumable: rerun to finish)."""
    _generate(GenerateCliOptions(**ctx.params))


def register(app: typer.Typer) -> None:
    """Add ``generate`` to the root app."""
    app.command("generate")(generate_command)
