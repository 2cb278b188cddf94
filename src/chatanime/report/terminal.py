"""The report in the terminal (rich): the summary every ``chatanime report`` prints.

``summary=True`` (what the CLI prints next to the HTML file) shows the notes, each source's
overall and dimension scores with intervals and tied ranks, and the diversity headline;
``summary=False`` adds the per-metric comparisons against the fans and the corpus overview.
"""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from chatanime.corpus import HUMAN
from chatanime.report.build import Report, SourceBoard
from chatanime.report.charts import fmt
from chatanime.report.scores import DIMENSIONS, METRICS
from chatanime.report.views import (
    before_after,
    board_rows,
    calibration_rows,
    comparison_matrix,
    comparison_text,
    diversity_rows,
    estimate_text,
    headline_metrics,
    rank_text,
    style_rows,
)

LEVELS_SHOWN = ("overall", *DIMENSIONS)


def _system(name: str) -> Text:
    return Text(name, style="bold red" if name == "human" else "")


def board_table(report: Report, sb: SourceBoard) -> Table:
    """Overall and dimensions with 95% intervals, tied ranks and the test against the fans.

    Without the fans in the board there is nothing to test against, so no "Δ vs fans" column.
    """
    style = {s.system: s for s in style_rows(sb)}
    fans = HUMAN in sb.board.systems
    t = Table(title=f"{sb.source}", title_justify="left", header_style="bold")
    t.add_column("rank", justify="right")
    t.add_column("system")
    for lvl in LEVELS_SHOWN:
        t.add_column(f"{report.labels.short[lvl]} [95% CI]", justify="right")
    t.add_column("items (unscored)", justify="right")
    if fans:
        t.add_column("Δ vs fans", justify="right")
    if style:
        t.add_column("style-ctrl rank", justify="right")
    for r in board_rows(sb.board):
        row: list[RenderableType] = [
            r.rank_text,
            _system(r.system),
            *(estimate_text(r.cells.get(lvl)) for lvl in LEVELS_SHOWN),
            f"{r.n} ({r.n_missing})",
        ]
        if fans:
            row.append(comparison_text(r.vs_baseline))
        if style:
            s = style.get(r.system)
            row.append(f"{rank_text(s.raw_rank)}→{rank_text(s.adjusted_rank)}" if s else "—")
        t.add_row(*row)
    return t


def comparisons_table(report: Report, sb: SourceBoard) -> Table | None:
    rows = comparison_matrix(sb.board)
    if not rows:
        return None
    t = Table(title=f"{sb.source}: system − fans per metric (Holm)", title_justify="left")
    t.add_column("system")
    for m in METRICS:
        t.add_column(report.labels.short[m], justify="right")
    for c in rows:
        t.add_row(c.system, *(comparison_text(c.cells.get(m)) for m in METRICS))
    return t


def calibration_tables(report: Report) -> list[Table]:
    """Per judge x study: rated pairs and cross-validated agreement before -> after."""
    out = []
    for c in report.calibrations:
        rows = calibration_rows(c)
        if not rows:
            continue
        t = Table(
            title=f"{c.source}: calibration on study {c.study} (cross-validated, before → after)",
            title_justify="left",
            header_style="bold",
        )
        t.add_column("metric")
        for col in ("rated", "MAE", "Spearman", "Pearson", "applied"):
            t.add_column(col, justify="right")
        for r in rows:
            t.add_row(
                report.labels.short.get(r.metric, r.metric),
                str(r.n_pairs),
                before_after(r.mae),
                before_after(r.spearman),
                before_after(r.pearson),
                str(r.n_applied) if r.calibrated else "—",
            )
        out.append(t)
    return out


def diversity_table(report: Report) -> RenderableType:
    table = report.diversity
    if table is None:
        return Text("automatic diversity: not available (see the notes)", style="yellow")
    _, rows, first, best = diversity_rows(table, "character")
    shown = headline_metrics(table)
    labels = {m.id: m.label for m in table.metrics}
    title = "automatic:diversity (per character)"
    if first:
        title += f" — fans most diverse on {sum(first.values())} of {len(first)} metrics"
    t = Table(title=title, title_justify="left", header_style="bold")
    t.add_column("system")
    for m in shown:
        t.add_column(labels[m], justify="right")
    for system, vals in rows:
        cells = [
            Text(fmt(vals[m], 3), style="bold" if best.get(m) == system else "") for m in shown
        ]
        t.add_row(_system(system), *cells)
    return t


def overview_table(report: Report) -> Table:
    ov = report.overview
    title = f"corpus {ov.benchmark_ref} (lengths in {ov.length_unit})"
    t = Table(title=title, title_justify="left", header_style="bold")
    for col in ("system", "dialogues", "len r1", "len r2", "max", f"≤{ov.answer_limit}"):
        t.add_column(col, justify="left" if col == "system" else "right")
    for o in ov.systems:
        s = o.summary
        t.add_row(
            _system(s.system),
            str(s.dialogues),
            fmt(s.mean_len_r1, 1),
            fmt(s.mean_len_r2, 1),
            str(s.max_len),
            f"{s.within_limit}/{s.answers}",
        )
    return t


def renderables(report: Report, *, summary: bool = True) -> list[RenderableType]:
    out: list[RenderableType] = []
    for n in report.notes:
        body = n.text + ("\n" + "  ".join(n.commands) if n.commands else "")
        colour = "yellow" if n.kind == "warning" else "cyan"
        out.append(Panel(body, title=n.kind, border_style=colour, title_align="left"))
    for sb in report.boards:
        out.append(board_table(report, sb))
        if not summary and (cmp := comparisons_table(report, sb)) is not None:
            out.append(cmp)
    if not summary:
        out.extend(calibration_tables(report))
    out.append(diversity_table(report))
    if not summary:
        out.append(overview_table(report))
    return out


def print_report(report: Report, console: Console | None = None, *, summary: bool = True) -> None:
    """Print the report (or its summary) to ``console`` (stdout by default)."""
    (console or Console()).print(Group(*renderables(report, summary=summary)))
