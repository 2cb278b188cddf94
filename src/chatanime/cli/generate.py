"""``chatanime generate``: a new system's dialogues through the ESRP protocol."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from chatanime.backends.base import GenerationParams
from chatanime.backends.registry import get_model
from chatanime.benchmark import load_benchmark
from chatanime.errors import DataError
from chatanime.generation import (
    DryRunPlan,
    GenerationJob,
    GenerationReport,
    dry_run,
    generate,
)
from chatanime.pricing import price_table
from chatanime.runner import RateLimit, RunOptions
from chatanime.store import open_store

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


def generate_command(
    model: Annotated[str, typer.Option("--model", help="The actor, provider/model.")],
    user_sim: Annotated[str, typer.Option("--user-sim", help="The user simulator model.")],
    name: Annotated[str, typer.Option("--name", help="Name of the new system.")],
    benchmark: Annotated[str, typer.Option(help="Benchmark name or folder.")] = "chatanime",
    card: Annotated[bool, typer.Option("--card/--no-card", help="Add the card.")] = False,
    concurrency: Annotated[int, typer.Option(min=1, help="Dialogues in flight.")] = 16,
    rpm: Annotated[float | None, typer.Option(help="Requests/minute per provider.")] = None,
    tpm: Annotated[float | None, typer.Option(help="Tokens/minute per provider.")] = None,
    temperature: Annotated[float | None, typer.Option(help="Sampling temperature.")] = None,
    top_p: Annotated[float | None, typer.Option("--top-p", help="Nucleus sampling.")] = None,
    max_tokens: Annotated[int | None, typer.Option("--max-tokens", help="Per answer.")] = None,
    seed: Annotated[int | None, typer.Option(help="Sampling seed.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds per call.")] = 60.0,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N dialogues.")] = None,
    characters: Annotated[str | None, typer.Option(help="Slugs, e.g. luffy,naruto.")] = None,
    scenarios: Annotated[str | None, typer.Option(help="Ids, e.g. 1-5,9.")] = None,
    retry_over_limit: Annotated[int, typer.Option(min=0, help="Re-ask long answers.")] = 0,
    user_sim_attempts: Annotated[int, typer.Option(min=1, help="Simulator tries.")] = 3,
    dry_run_: Annotated[bool, typer.Option("--dry-run", help="Plan and cost only.")] = False,
    out: Annotated[Path | None, typer.Option(help="Write OUT/NAME.json (release shape).")] = None,
    store: Annotated[str | None, typer.Option(help="Store URL or SQLite path.")] = None,
    base_url: Annotated[str | None, typer.Option("--base-url", help="Server URL override.")] = None,
    prices: Annotated[Path | None, typer.Option(help="Price overrides (YAML).")] = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Progress bar.")
    ] = True,
) -> None:
    """Generate a new system's two-round dialogues (resumable: rerun to finish)."""
    job = GenerationJob(
        name=name,
        actor=model,
        user_sim=user_sim,
        benchmark=load_benchmark(benchmark),
        card=card,
        params=GenerationParams(
            temperature=temperature,
            top_p=top_p,
            max_tokens=max_tokens,
            seed=seed,
            timeout_s=timeout,
        ),
        retry_over_limit=retry_over_limit,
        user_sim_attempts=user_sim_attempts,
        characters=_slugs(characters),
        scenarios=parse_ids(scenarios) if scenarios else None,
        limit=limit,
    )
    table = price_table(prices)
    if dry_run_:
        _print_plan(dry_run(job, table))
        return
    options = RunOptions(
        concurrency=concurrency,
        rate_limits={"*": RateLimit(rpm, tpm)} if rpm or tpm else {},
        progress=progress,
        description=f"generate {name}",
    )
    report = generate(
        job,
        open_store(store),
        models=lambda n: get_model(n, base_url=base_url),
        options=options,
        prices=table,
        out_dir=out,
    )
    _print_report(report)
    if report.summary.failed or report.summary.aborted:
        raise typer.Exit(1)


def _slugs(text: str | None) -> tuple[str, ...] | None:
    return tuple(c.strip() for c in text.split(",") if c.strip()) if text else None


def register(app: typer.Typer) -> None:
    """Add ``generate`` to the root app."""
    app.command("generate")(generate_command)
