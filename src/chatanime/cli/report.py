"""``chatanime report``: the leaderboard report (HTML by default) plus a terminal summary."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from chatanime.cli.options import BenchOpt, DataOpt, ExtraOpt
from chatanime.errors import DataError

console = Console()


def report(
    fmt: Annotated[
        str, typer.Option("--format", help="html | md | csv | json | terminal")
    ] = "html",
    out: Annotated[
        Path | None, typer.Option("--out", help="Output file (default: out/report.<format>).")
    ] = None,
    data: DataOpt = None,
    extra: ExtraOpt = None,
    store: Annotated[
        str | None,
        typer.Option(
            "--store", help="Store URL or SQLite path (else $CHATANIME_STORE, user data dir)."
        ),
    ] = None,
    benchmark: BenchOpt = "chatanime",
    judge: Annotated[
        list[str] | None,
        typer.Option("--judge", help="Only these judge models (repeatable); default: all."),
    ] = None,
    n_boot: Annotated[
        int, typer.Option("--n-boot", help="Bootstrap replicates for the intervals.")
    ] = 2000,
    compare: Annotated[
        list[str] | None,
        typer.Option("--compare", help="Also test system A against B (A:B); repeatable."),
    ] = None,
) -> None:
    """Build the ESRP report: leaderboards with intervals, diversity, examples (offline HTML)."""
    from chatanime.report.outputs import FORMATS, make_report, write_report
    from chatanime.report.terminal import print_report

    if fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    start = time.perf_counter()
    built = make_report(
        data=data,
        extra=extra or [],
        benchmark=benchmark,
        store_url=store,
        judges=judge,
        n_boot=n_boot,
        compare=compare or [],
    )
    print_report(built, console, summary=fmt != "terminal")
    if fmt == "terminal":
        return
    path = write_report(built, fmt, out)
    size = path.stat().st_size / 1e6
    elapsed = time.perf_counter() - start
    console.print(f"wrote [bold]{path}[/] ({size:.1f} MB) in {elapsed:.1f} s")


def register(app: typer.Typer) -> None:
    app.command("report")(report)
