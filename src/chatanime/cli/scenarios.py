"""``chatanime scenarios generate``: write a benchmark's scenarios with a model.

The scenario library (runner, model clients, store) is imported when the command runs,
not when the CLI registers it (see ``cli/__init__.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from chatanime.cli.options import (
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
    rate_limits,
)
from chatanime.errors import DataError

if TYPE_CHECKING:
    from chatanime.generation import DryRunPlan
    from chatanime.scenario_generation import ScenarioJob, Target
    from chatanime.scenario_grid import GridBalance
    from chatanime.scenario_output import ScenarioReport

console = Console(soft_wrap=True)

scenarios_app = typer.Typer(
    name="scenarios",
    help="Scenarios of your own benchmark: generate them with a model.",
    no_args_is_help=True,
)


def split_list(text: str | None) -> tuple[str, ...] | None:
    """``"a, b，c、d"`` -> ``("a", "b", "c", "d")`` (ASCII and Chinese commas)."""
    if text is None:
        return None
    items = tuple(p.strip() for p in re.split(r"[,，、]", text) if p.strip())
    return items or None


def parse_range(text: str, option: str) -> tuple[int, int]:
    """``"20-160"`` -> ``(20, 160)``; anything else is a ``DataError``."""
    found = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", text)
    if not found or int(found.group(1)) > int(found.group(2)):
        raise DataError(f"{option}: expected a range like 20-160, got {text!r}")
    return int(found.group(1)), int(found.group(2))


def _balance_table(balance: GridBalance, language: str) -> Table:
    table = Table(title=f"grid balance (scenarios kept / wanted {balance.target} per cell)")
    table.add_column("persona", no_wrap=True)
    for emotion in balance.emotions:
        table.add_column(emotion.label(language), justify="right")
    table.add_column("total", justify="right")
    for persona in balance.personas:
        cells = []
        for emotion in balance.emotions:
            n = balance.count(persona, emotion)
            style = "red" if n == 0 else "yellow" if n < balance.target else "green"
            cells.append(f"[{style}]{n}[/]")
        row_total = sum(balance.count(persona, e) for e in balance.emotions)
        table.add_row(persona.label(language), *cells, str(row_total))
    return table


def _print_report(report: ScenarioReport, language: str) -> None:
    s = report.summary
    cost = f"${s.cost_usd:.4f}" + (
        f" (no price for {', '.join(sorted(s.unpriced_models))})" if s.unpriced_models else ""
    )
    console.print(
        f"run {s.run_id}: {s.total} cells, {s.skipped} already done, {s.done} written now, "
        f"{s.failed} failed; calls {s.calls} new, {s.replayed_calls} replayed, "
        f"{s.retries} retries; tokens in/out {s.input_tokens}/{s.output_tokens}; cost {cost}; "
        f"run total ${s.run_cost_usd:.4f}; {s.elapsed_s:.1f} s"
    )
    console.print(_balance_table(report.balance, language))
    console.print(
        f"{len(report.scenarios)} scenarios kept; {len(report.unfilled)} cells rejected on every "
        f"attempt; {len(report.near_duplicates)} near-duplicates removed; "
        f"{report.unfinished} cells unfinished"
    )
    if report.rejections:
        reasons = Table(title="rejections (per attempt)")
        reasons.add_column("reason")
        reasons.add_column("count", justify="right")
        for problem, count in report.rejections.items():
            reasons.add_row(str(problem), str(count))
        console.print(reasons)
    for dup in report.near_duplicates[:5]:
        console.print(
            f"[yellow]near-duplicate[/] ({dup.similarity:.2f}) {dup.question_r1[:50]!r} "
            f"~ {dup.of_question[:50]!r}",
            highlight=False,
        )
    under = report.balance.underfilled()
    if under:
        console.print(
            f"[yellow]{len(under)} of {len(report.balance.counts)} persona x emotion cells "
            "are under-filled[/] (rerun with a larger --per-cell or --attempts to add more)"
        )
    empty = report.balance.empty()
    if empty:
        names = ", ".join(f"{p}/{e}" for p, e in empty)
        console.print(f"[red]empty cells:[/] {names}", highlight=False)
    for unit_id, error in list(s.errors.items())[:5]:
        console.print(f"[red]failed[/] {unit_id}: {error}", highlight=False)
    if s.aborted:
        console.print(f"[red]aborted:[/] {s.aborted}")


def _print_plan(plan: DryRunPlan) -> None:
    (_, est), *_ = plan.estimates
    usd = "unknown (no price; add it with --prices FILE)" if est.usd is None else f"${est.usd:.4f}"
    console.print(
        f"dry run (run {plan.run_id}): {plan.units} cells, {est.calls} calls to {est.model}, "
        f"~{est.input_tokens} input and ~{est.output_tokens} output tokens, "
        f"estimated {usd} (a floor: re-asks are not counted)"
    )


def _write(
    out: Path,
    report: ScenarioReport,
    job: ScenarioJob,
    target: Target,
    *,
    name: str | None,
    description: str,
    force: bool,
) -> None:
    if not report.scenarios:
        console.print("[red]no scenario passed the checks; nothing written[/]")
        return
    from chatanime.scenario_generation import run_spec
    from chatanime.scenario_output import write_output

    header = (
        f"Generated by `chatanime scenarios generate` with {job.model} "
        f"(prompt {job.prompt.ref}, run {run_spec(job).id}).\n"
        "Edit freely; `chatanime benchmarks validate` checks the result."
    )
    written = write_output(
        out,
        report.scenarios,
        language=job.language,
        characters=target.characters,
        name=name,
        description=description,
        answer_limit=target.answer_limit,
        header=header,
        force=force,
    )
    console.print(f"wrote {written}")


# This command's own options (the model-calling ones are shared, in cli/options.py).
# An option without a name is named after the parameter that uses it.
ModelOpt = Annotated[str, typer.Option("--model", help="The writer model, provider/model.")]
FromBenchOpt = Annotated[
    str | None, typer.Option(help="Take language and characters from this benchmark.")
]
LanguageOpt = Annotated[str | None, typer.Option(help="zh or en (default zh).")]
CharactersOpt = Annotated[
    str | None, typer.Option(help="Slugs or card files, e.g. luffy,cards/hana.yaml.")
]
PersonasOpt = Annotated[str | None, typer.Option(help="e.g. student,freelancer.")]
EmotionsOpt = Annotated[str | None, typer.Option(help="e.g. joy,worry.")]
LocationsOpt = Annotated[str | None, typer.Option(help="e.g. 图书馆,咖啡馆.")]
GridOpt = Annotated[Path | None, typer.Option(help="Grid YAML (personas, emotions, ...).")]
PerCellOpt = Annotated[int | None, typer.Option("--per-cell", min=1)]
AttemptsOpt = Annotated[int, typer.Option(min=1, help="Tries per cell (re-asks).")]
LengthOpt = Annotated[
    str | None, typer.Option(help="Opening-line length MIN-MAX (chars zh, words en).")
]
DedupeOpt = Annotated[
    float, typer.Option("--dedupe-threshold", min=0.01, max=1.0, help="n-gram Jaccard.")
]
SeedOpt = Annotated[int | None, typer.Option()]
ConcurrencyOpt = Annotated[int, typer.Option(min=1, help="Cells in flight.")]
OutOpt = Annotated[
    Path | None, typer.Option(help="FILE.yaml (scenarios) or DIR (a benchmark folder).")
]
NameOpt = Annotated[str | None, typer.Option(help="Benchmark name (default: DIR).")]
DescriptionOpt = Annotated[str, typer.Option(help="Benchmark description.")]
ForceOpt = Annotated[bool, typer.Option(help="Replace an existing benchmark.yaml.")]


@dataclass(frozen=True)
class ScenarioCliOptions:
    """Everything ``scenarios generate`` was given, by parameter name, with its set-up steps.

    Built from typer's parsed values, so the command itself stays a list of option
    declarations and one call; each step below turns a few options into a library value.
    """

    model: str
    benchmark: str | None
    language: str | None
    characters: str | None
    personas: str | None
    emotions: str | None
    locations: str | None
    grid: Path | None
    per_cell: int | None
    attempts: int
    length: str | None
    dedupe_threshold: float
    seed: int | None
    temperature: float | None
    max_tokens: int | None
    timeout: float
    concurrency: int
    rpm: float | None
    tpm: float | None
    dry_run_: bool
    out: Path | None
    name: str | None
    description: str
    force: bool
    store: str | None
    base_url: str | None
    prices: Path | None
    progress: bool

    def target(self) -> Target:
        from chatanime.scenario_generation import resolve_target

        return resolve_target(self.benchmark, self.language, split_list(self.characters) or ())

    def job(self, target: Target) -> ScenarioJob:
        from chatanime.backends.base import GenerationParams
        from chatanime.scenario_generation import job_for_target

        overrides = {
            "personas": split_list(self.personas),
            "emotions": split_list(self.emotions),
            "locations": split_list(self.locations),
            "per_cell": self.per_cell,
        }
        return job_for_target(
            self.model,
            target,
            question_length=parse_range(self.length, "--length") if self.length else None,
            grid_file=self.grid,
            grid_overrides=overrides,
            params=GenerationParams(
                temperature=self.temperature,
                max_tokens=self.max_tokens,
                seed=self.seed,
                timeout_s=self.timeout,
            ),
            attempts=self.attempts,
            dedupe_threshold=self.dedupe_threshold,
        )

    def run(self, job: ScenarioJob) -> ScenarioReport:
        from chatanime.backends.registry import get_model
        from chatanime.pricing import price_table
        from chatanime.runner import RunOptions
        from chatanime.scenario_generation import generate_scenarios
        from chatanime.store import open_store

        options = RunOptions(
            concurrency=self.concurrency,
            rate_limits=rate_limits(self.rpm, self.tpm),
            progress=self.progress,
            description=f"scenarios ({job.language})",
        )
        return generate_scenarios(
            job,
            open_store(self.store),
            models=lambda n: get_model(n, base_url=self.base_url),
            options=options,
            prices=price_table(self.prices),
            run_config={"concurrency": self.concurrency, "rpm": self.rpm, "tpm": self.tpm},
        )


def _generate(opts: ScenarioCliOptions) -> None:
    """Plan, or generate, report and write: the body of ``scenarios generate``."""
    from chatanime.pricing import price_table
    from chatanime.scenario_generation import dry_run
    from chatanime.scenario_output import check_output

    target = opts.target()
    job = opts.job(target)
    if opts.dry_run_:
        _print_plan(dry_run(job, price_table(opts.prices)))
        return
    if opts.out is not None:
        check_output(opts.out, force=opts.force)
    report = opts.run(job)
    _print_report(report, target.language)
    if opts.out is not None:
        _write(
            opts.out,
            report,
            job,
            target,
            name=opts.name,
            description=opts.description,
            force=opts.force,
        )
    if report.summary.failed or report.summary.aborted or not report.scenarios:
        raise typer.Exit(1)


@scenarios_app.command("generate")
def generate_command(
    ctx: typer.Context,
    model: ModelOpt,
    benchmark: FromBenchOpt = None,
    language: LanguageOpt = None,
    characters: CharactersOpt = None,
    personas: PersonasOpt = None,
    emotions: EmotionsOpt = None,
    locations: LocationsOpt = None,
    grid: GridOpt = None,
    per_cell: PerCellOpt = None,
    attempts: AttemptsOpt = 2,
    length: LengthOpt = None,
    dedupe_threshold: DedupeOpt = 0.6,
    seed: SeedOpt = None,
    temperature: TemperatureOpt = None,
    max_tokens: MaxTokensOpt = None,
    timeout: TimeoutOpt = 60.0,
    concurrency: ConcurrencyOpt = 8,
    rpm: RpmOpt = None,
    tpm: TpmOpt = None,
    dry_run_: DryRunOpt = False,
    out: OutOpt = None,
    name: NameOpt = None,
    description: DescriptionOpt = "",
    force: ForceOpt = False,
    store: RunStoreOpt = None,
    base_url: ModelUrlOpt = None,
    prices: PricesOpt = None,
    progress: ProgressOpt = True,
) -> None:
    """Generate scenarios over personas x emotions x locations (resumable: rerun to finish)."""
    _generate(ScenarioCliOptions(**ctx.params))


def register(app: typer.Typer) -> None:
    """Add the ``scenarios`` command group to the root app."""
    app.add_typer(scenarios_app, name="scenarios")
