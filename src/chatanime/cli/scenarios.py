"""``chatanime scenarios generate``: write a benchmark's scenarios with a model."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from chatanime.backends.base import GenerationParams
from chatanime.backends.registry import get_model
from chatanime.errors import DataError
from chatanime.generation import DryRunPlan
from chatanime.pricing import price_table
from chatanime.runner import RateLimit, RunOptions
from chatanime.scenario_checks import ScenarioRules
from chatanime.scenario_generation import (
    ScenarioJob,
    Target,
    dry_run,
    generate_scenarios,
    resolve_target,
    run_spec,
)
from chatanime.scenario_grid import GridBalance, build_grid
from chatanime.scenario_output import ScenarioReport, check_output, write_output
from chatanime.store import open_store

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


@scenarios_app.command("generate")
def generate_command(
    model: Annotated[str, typer.Option("--model", help="The writer model, provider/model.")],
    benchmark: Annotated[
        str | None, typer.Option(help="Take language and characters from this benchmark.")
    ] = None,
    language: Annotated[str | None, typer.Option(help="zh or en (default zh).")] = None,
    characters: Annotated[
        str | None, typer.Option(help="Slugs or card files, e.g. luffy,cards/hana.yaml.")
    ] = None,
    personas: Annotated[str | None, typer.Option(help="e.g. student,freelancer.")] = None,
    emotions: Annotated[str | None, typer.Option(help="e.g. joy,worry.")] = None,
    locations: Annotated[str | None, typer.Option(help="e.g. 图书馆,咖啡馆.")] = None,
    grid: Annotated[Path | None, typer.Option(help="Grid YAML (personas, emotions, ...).")] = None,
    per_cell: Annotated[int | None, typer.Option("--per-cell", min=1)] = None,
    attempts: Annotated[int, typer.Option(min=1, help="Tries per cell (re-asks).")] = 2,
    length: Annotated[
        str | None, typer.Option(help="Opening-line length MIN-MAX (chars zh, words en).")
    ] = None,
    dedupe_threshold: Annotated[
        float, typer.Option("--dedupe-threshold", min=0.01, max=1.0, help="n-gram Jaccard.")
    ] = 0.6,
    seed: Annotated[int | None, typer.Option()] = None,
    temperature: Annotated[float | None, typer.Option()] = None,
    max_tokens: Annotated[int | None, typer.Option("--max-tokens")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds per call.")] = 60.0,
    concurrency: Annotated[int, typer.Option(min=1, help="Cells in flight.")] = 8,
    rpm: Annotated[float | None, typer.Option(help="Requests/minute per provider.")] = None,
    tpm: Annotated[float | None, typer.Option(help="Tokens/minute per provider.")] = None,
    dry_run_: Annotated[bool, typer.Option("--dry-run", help="Plan and cost only.")] = False,
    out: Annotated[
        Path | None, typer.Option(help="FILE.yaml (scenarios) or DIR (a benchmark folder).")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Benchmark name (default: DIR).")] = None,
    description: Annotated[str, typer.Option(help="Benchmark description.")] = "",
    force: Annotated[bool, typer.Option(help="Replace an existing benchmark.yaml.")] = False,
    store: Annotated[str | None, typer.Option(help="Store URL or SQLite path.")] = None,
    base_url: Annotated[str | None, typer.Option("--base-url", help="Server URL.")] = None,
    prices: Annotated[Path | None, typer.Option(help="Price overrides (YAML).")] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress")] = True,
) -> None:
    """Generate scenarios over personas x emotions x locations (resumable: rerun to finish)."""
    target = resolve_target(benchmark, language, split_list(characters) or ())
    lang = target.language
    overrides = {
        "personas": split_list(personas),
        "emotions": split_list(emotions),
        "locations": split_list(locations),
        "per_cell": per_cell,
    }
    bounds = parse_range(length, "--length") if length else None
    rules = ScenarioRules.for_language(
        lang, **({"question_min": bounds[0], "question_max": bounds[1]} if bounds else {})
    )
    job = ScenarioJob(
        model=model,
        language=lang,
        grid=build_grid(lang, grid, **overrides),
        characters=target.characters,
        rules=rules,
        params=GenerationParams(
            temperature=temperature, max_tokens=max_tokens, seed=seed, timeout_s=timeout
        ),
        attempts=attempts,
        dedupe_threshold=dedupe_threshold,
    )
    if dry_run_:
        _print_plan(dry_run(job, price_table(prices)))
        return
    if out is not None:
        check_output(out, force=force)
    limits = {"*": RateLimit(rpm, tpm)} if rpm or tpm else {}
    options = RunOptions(
        concurrency=concurrency,
        rate_limits=limits,
        progress=progress,
        description=f"scenarios ({lang})",
    )
    report = generate_scenarios(
        job,
        open_store(store),
        models=lambda n: get_model(n, base_url=base_url),
        options=options,
        prices=price_table(prices),
        run_config={"concurrency": concurrency, "rpm": rpm, "tpm": tpm},
    )
    _print_report(report, lang)
    if out is not None:
        _write(out, report, job, target, name=name, description=description, force=force)
    if report.summary.failed or report.summary.aborted or not report.scenarios:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the ``scenarios`` command group to the root app."""
    app.add_typer(scenarios_app, name="scenarios")
