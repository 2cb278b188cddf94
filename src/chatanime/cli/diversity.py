"""``chatanime diversity``: the automatic response-diversity table of every system.

A thin layer over :func:`chatanime.metrics.diversity.diversity_table`: it loads the corpus,
computes the table for one grouping and renders it as a rich table, CSV, JSON or Markdown,
with one line per metric saying whether the human fans rank above every model. The
metrics library (numpy, jieba) is imported when the command runs, not when it registers.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from chatanime.cli.options import BenchOpt, DataOpt, ExtraOpt
from chatanime.errors import DataError

if TYPE_CHECKING:
    from chatanime.corpus import Corpus
    from chatanime.metrics.diversity import DiversityTable, Metric

console = Console()

FORMATS = ("table", "csv", "json", "md")
ROUNDS = {"1": (1,), "2": (2,), "both": (1, 2)}
GROUP_WORDS = {
    "character": "(system, character) over the scenarios",
    "scenario": "(system, scenario) over the characters",
}


def _cell(table: DiversityTable, system: str, metric: str, grouping: str) -> str:
    row = table.row(system, metric, grouping)
    if math.isnan(row.mean):
        return "–"
    return f"{row.mean:.3f}" if math.isnan(row.std) else f"{row.mean:.3f} ± {row.std:.3f}"


def human_verdicts(table: DiversityTable, grouping: str) -> list[tuple[Metric, bool | None]]:
    """Per metric: does ``human`` rank above every other system? (None: no human system.)"""
    from chatanime.metrics.diversity import HUMAN

    has_human = HUMAN in table.systems
    return [
        (m, table.human_ranks_first(m.id, grouping) if has_human else None) for m in table.metrics
    ]


def _verdict_lines(table: DiversityTable, grouping: str) -> list[str]:
    from chatanime.metrics.diversity import HUMAN

    others = len(table.systems) - 1
    lines = []
    for metric, verdict in human_verdicts(table, grouping):
        if verdict is None:
            lines.append(f"{metric.label}: no '{HUMAN}' system in the corpus")
        else:
            word = "ranks above" if verdict else "does NOT rank above"
            lines.append(f"{metric.label}: {HUMAN} {word} all {others} other systems")
    return lines


def _title(table: DiversityTable, grouping: str) -> str:
    rounds = "+".join(str(r) for r in table.rounds)
    return (
        f"Response diversity per {GROUP_WORDS[grouping]}: mean ± std over groups; "
        f"round {rounds}; ↓ = lower is more diverse; best in bold"
    )


UNIT_WORDS = {"char": "characters", "word": "words"}


def _families(table: DiversityTable, grouping: str) -> list[tuple[str, list[Metric]]]:
    """Metrics split into narrow tables: distinct-n per unit, then the rest per unit."""
    units = list(dict.fromkeys(m.unit for m in table.metrics if m.unit is not None))
    out = []
    for k, unit in enumerate(units):
        own = [m for m in table.metrics if m.unit == unit]
        words = UNIT_WORDS.get(unit, unit)
        distinct = [m for m in own if m.id.startswith("distinct_")]
        sizes = "/".join(
            str(table.sample_sizes.get((grouping, m.id), "?"))
            for m in distinct
            if m.id.endswith("_eq")
        )
        title = f"d-n: distinct n-grams over {words}; eq: expected in K = {sizes} n-grams"
        out.append((title, distinct))
        rest = [m for m in own if not m.id.startswith("distinct_")]
        rest += [m for m in table.metrics if m.unit is None] if k == 0 else []
        out.append((f"repetition over {words}", rest))
    return [(title, metrics) for title, metrics in out if metrics]


def _header(metric: Metric) -> str:
    """Short column names so that each table fits an 80-column terminal."""
    if metric.id.startswith("distinct_"):
        n = metric.id.split("_")[1]
        return f"d-{n} eq" if metric.id.endswith("_eq") else f"d-{n}"
    return metric.label.replace(f" {metric.unit}", "") if metric.unit else metric.label


def _rich(table: DiversityTable, grouping: str) -> list[Table]:
    from chatanime.metrics.diversity import HUMAN

    out: list[Table] = []
    for title, metrics in _families(table, grouping):
        rich_table = Table(
            title=title, title_justify="left", box=box.SIMPLE_HEAD, collapse_padding=True
        )
        rich_table.add_column("system", no_wrap=True)
        for m in metrics:
            rich_table.add_column(_header(m), justify="right")
        best = {m.id: table.best(m.id, grouping) for m in metrics}
        for system in table.systems:
            cells = []
            for m in metrics:
                mean, _, spread = _cell(table, system, m.id, grouping).partition(" ± ")
                text = f"[bold green]{mean}[/]" if best[m.id] == system else mean
                cells.append(f"{text}\n[dim]±{spread}[/]" if spread else text)
            rich_table.add_row(system, *cells)
        out.append(rich_table)
    verdicts = Table(
        title=f"does {HUMAN} rank above all other systems?",
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    for col in ("metric", "human first", "most diverse"):
        verdicts.add_column(col)
    for metric, verdict in human_verdicts(table, grouping):
        mark = "–" if verdict is None else "[green]yes[/]" if verdict else "[red]no[/]"
        verdicts.add_row(metric.label, mark, table.best(metric.id, grouping))
    out.append(verdicts)
    return out


def _markdown(table: DiversityTable, grouping: str) -> str:
    lines = [f"**{_title(table, grouping)}**", ""]
    lines.append("| system | " + " | ".join(m.label for m in table.metrics) + " |")
    lines.append("|---|" + "---:|" * len(table.metrics))
    best = {m.id: table.best(m.id, grouping) for m in table.metrics}
    for system in table.systems:
        cells = [_cell(table, system, m.id, grouping) for m in table.metrics]
        cells = [
            f"**{c}**" if best[m.id] == system else c
            for m, c in zip(table.metrics, cells, strict=True)
        ]
        lines.append(f"| {system} | " + " | ".join(cells) + " |")
    lines.append("")
    lines += [f"- {line}" for line in _verdict_lines(table, grouping)]
    return "\n".join(lines) + "\n"


def _csv(table: DiversityTable) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "system",
            "metric",
            "grouping",
            "mean",
            "std",
            "min",
            "max",
            "n_groups",
            "higher_is_more_diverse",
        ]
    )
    for r in table.rows:
        direction = table.metric(r.metric).higher_is_more_diverse
        writer.writerow(
            [r.system, r.metric, r.grouping, r.mean, r.std, r.min, r.max, r.n_groups, direction]
        )
    return buffer.getvalue()


def _json(table: DiversityTable, grouping: str) -> str:
    verdicts = {m.id: v for m, v in human_verdicts(table, grouping)}
    payload = {
        "language": table.language,
        "rounds": list(table.rounds),
        "grouping": grouping,
        "systems": list(table.systems),
        "metrics": [
            {
                "id": m.id,
                "label": m.label,
                "unit": m.unit,
                "higher_is_more_diverse": m.higher_is_more_diverse,
                "best": table.best(m.id, grouping),
                "human_ranks_first": verdicts[m.id],
                "sample_size": table.sample_sizes.get((grouping, m.id)),
            }
            for m in table.metrics
        ],
        "rows": [
            {
                "system": r.system,
                "metric": r.metric,
                "mean": _num(r.mean),
                "std": _num(r.std),
                "min": _num(r.min),
                "max": _num(r.max),
                "n_groups": r.n_groups,
            }
            for r in table.rows
            if r.grouping == grouping
        ],
    }
    return json.dumps(payload, ensure_ascii=False, indent=2) + "\n"


def _num(value: float) -> float | None:
    return None if math.isnan(value) else value


def render(table: DiversityTable, fmt: str, grouping: str) -> str:
    """The table as text: ``csv``, ``json`` or ``md`` (the rich table is printed directly)."""
    if fmt == "csv":
        return _csv(table)
    if fmt == "json":
        return _json(table, grouping)
    if fmt == "md":
        return _markdown(table, grouping)
    raise DataError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


# This command's own options; the data options are shared (cli/options.py).
FormatOpt = Annotated[str, typer.Option("--format", help="table | csv | json | md")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Write to this file.")]
ByOpt = Annotated[str, typer.Option("--by", help="Group by character or scenario.")]
RoundOpt = Annotated[str, typer.Option("--round", help="1 | 2 | both")]
UnitOpt = Annotated[str, typer.Option("--unit", help="char | word | all (token units)")]
WorkersOpt = Annotated[
    int | None, typer.Option(help="Worker processes (default: up to 2 for large corpora).")
]


def _check_choices(fmt: str, by: str, rounds: str) -> None:
    if fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if by not in GROUP_WORDS:
        raise DataError(f"--by {by!r}: use character or scenario")
    if rounds not in ROUNDS:
        raise DataError(f"--round {rounds!r}: use 1, 2 or both")


def _compute(
    corpus: Corpus, by: str, rounds: str, unit: str, workers: int | None
) -> DiversityTable:
    """The table for one grouping; a bad ``--unit`` for the language is a ``DataError``."""
    from chatanime.metrics.diversity import diversity_table

    try:
        return diversity_table(
            corpus.answers(ROUNDS[rounds]),
            corpus.benchmark.language,
            groupings=(by,),
            rounds=ROUNDS[rounds],
            units=None if unit == "all" else [unit],
            workers=workers,
        )
    except ValueError as exc:  # e.g. a unit the benchmark's language does not use
        raise DataError(str(exc)) from exc


def _emit_text(table: DiversityTable, fmt: str, by: str, out: Path | None) -> None:
    text = render(table, fmt, by)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"wrote the diversity table ({fmt}) to {out}")


def _emit_rich(table: DiversityTable, by: str, out: Path | None) -> None:
    """Rich tables on the terminal, or their text (120 columns) in ``out``."""
    target = console if out is None else Console(file=io.StringIO(), width=120)
    target.print(_title(table, by), highlight=False)
    for rich_table in _rich(table, by):
        target.print(rich_table)
    if out is not None and isinstance(target.file, io.StringIO):
        out.write_text(target.file.getvalue(), encoding="utf-8")
        console.print(f"wrote the diversity table to {out}")


def diversity(
    data: DataOpt = None,
    extra: ExtraOpt = None,
    benchmark: BenchOpt = "chatanime",
    fmt: FormatOpt = "table",
    out: OutOpt = None,
    by: ByOpt = "character",
    rounds: RoundOpt = "both",
    unit: UnitOpt = "all",
    workers: WorkersOpt = None,
) -> None:
    """Automatic diversity (distinct-n, equal-size distinct-n, MATTR, self-BLEU, compression)."""
    from chatanime.corpus import load_corpus

    _check_choices(fmt, by, rounds)
    corpus = load_corpus(data, extra=extra or [], benchmark=benchmark)
    table = _compute(corpus, by, rounds, unit, workers)
    if fmt == "table":
        _emit_rich(table, by, out)
    else:
        _emit_text(table, fmt, by, out)


def register(app: typer.Typer) -> None:
    app.command("diversity")(diversity)
