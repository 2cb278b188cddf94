"""The tables ``chatanime judge`` prints: run counts, means, bias checks, dry-run costs.

Apart from :mod:`chatanime.cli.judge` (options and modes) because every judge command
prints the same run table (pointwise, diversity, pairwise, the audit's judging step), and
they should read the same whichever module runs them. Imported when the CLI registers
``chatanime judge``, so the judge library (scipy, the store) loads only when a table is
printed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from chatanime.judge.bias import BiasReport, JudgeBias
    from chatanime.judge.job import JudgeDryRun
    from chatanime.judge.judgments import JudgeRun

console = Console()


def usd(value: float, unpriced: set[str]) -> str:
    return f"${value:.4f}" + (" (+unpriced)" if unpriced else "")


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """A rich table: first column left-aligned and unwrapped, the rest right-aligned."""
    table = Table(title=title)
    for i, col in enumerate(columns):
        table.add_column(col, justify="left" if i == 0 else "right", no_wrap=i == 0)
    for row in rows:
        table.add_row(*row)
    console.print(table)


def _run_row(run: JudgeRun) -> tuple[str, ...]:
    c, s = run.counts, run.summary
    counts = (c.selected, c.scored, c.unscored, c.no_reply, s.calls)
    return (run.judge, *map(str, counts), usd(s.cost_usd, s.unpriced_models))


def print_runs(runs: list[JudgeRun], unit: str = "items") -> None:
    columns = ("judge", unit, "scored", "unscored", "no reply", "calls", "cost")
    print_table(f"judges ({unit})", columns, map(_run_row, runs))
    for run in runs:
        c, s = run.counts, run.summary
        console.print(
            f"{run.judge}: {run.repaired} needed a repair request, {s.replayed_calls} calls "
            f"replayed from the store, {c.missing} not judged",
            highlight=False,
        )
        errors = [r.get("error") for r in s.results.values() if r.get("error")]
        for error in [*errors, *s.errors.values()][:3]:
            console.print(f"[yellow]  {error}[/]", soft_wrap=True, highlight=False)
        if s.aborted:
            console.print(f"[red]  aborted:[/] {s.aborted}")


def print_means(means: dict[tuple[str, str], float], systems: list[str]) -> None:
    sources = list(dict.fromkeys(src for src, _ in means))
    rows = ((system, *(fmt(means.get((src, system))) for src in sources)) for system in systems)
    print_table("mean score per item (9 metrics x rounds)", ("system", *sources), rows)


def _bias_row(jb: JudgeBias) -> tuple[str, ...]:
    from chatanime.judge.bias import OVERALL

    rhos = {m: c.rho for m, c in jb.length.items() if m != OVERALL and c.rho is not None}
    worst = max(rhos, key=lambda m: abs(rhos[m]), default=None)
    sp = jb.self_preference
    return (
        jb.judge,
        f"{jb.unscored}/{jb.judgments} ({jb.unscored_share:.0%})",
        fmt(jb.length[OVERALL].rho),
        "-" if worst is None else f"{worst} {rhos[worst]:+.2f}",
        "n/a" if sp is None else f"{sp.family}: {sp.gap:+.2f} (net {fmt(sp.net_gap)})",
    )


def print_bias(report: BiasReport) -> None:
    """The bias checks, then each metric's correlation with answer length per judge."""
    from chatanime.judge.bias import OVERALL
    from chatanime.judge.rubric import METRICS

    columns = ("judge", "unscored", "length rho", "max |rho| metric", "self-preference")
    print_table(f"bias checks ({report.mode})", columns, map(_bias_row, report.judges))
    print_table(
        "length correlation (Spearman rho)",
        ("metric", *(jb.judge for jb in report.judges)),
        ((m, *(fmt(jb.length[m].rho) for jb in report.judges)) for m in (*METRICS, OVERALL)),
    )


def print_dry_run(plan: JudgeDryRun) -> None:
    rows = (
        (e.model, *map(str, (e.calls, e.input_tokens, e.output_tokens)), fmt(e.usd, 4))
        for e in plan.estimates
    )
    columns = ("judge", "calls", "input tokens (est.)", "output tokens (est.)", "USD")
    title = f"dry run: {plan.items} items ({plan.excluded_anchors} anchors excluded)"
    print_table(title, columns, rows)
    console.print("a floor: repair requests for invalid replies are not counted")
