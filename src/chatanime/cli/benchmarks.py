"""``chatanime benchmarks``: list, show and validate benchmark definitions.

Thin wrappers over :mod:`chatanime.benchmark`; a ``DataError`` from a bad file
reaches the shared handler in ``cli/__init__.py`` (one sentence, exit 2).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from chatanime.benchmark import Benchmark

console = Console()

benchmarks_app = typer.Typer(
    name="benchmarks",
    help="Benchmarks: built-ins (chatanime, chatanime-en) and your own folders or files.",
    invoke_without_command=True,
    no_args_is_help=False,
)


def _overview(bench: Benchmark) -> str:
    return (
        f"[bold]{bench.name}[/] v{bench.version} · language {bench.language} · "
        f"{len(bench.characters)} characters · {len(bench.scenarios)} scenarios · "
        f"answer limit {bench.answer_limit} · sha256 {bench.sha256[:12]}"
    )


@benchmarks_app.callback()
def list_benchmarks(ctx: typer.Context) -> None:
    """List the built-in benchmarks (name, language, #characters, #scenarios)."""
    if ctx.invoked_subcommand is not None:
        return
    from chatanime.benchmark import list_builtin_benchmarks

    table = Table(title="Built-in benchmarks")
    for col in ("name", "language", "characters", "scenarios", "description"):
        table.add_column(col, justify="right" if col in ("characters", "scenarios") else "left")
    for bench in list_builtin_benchmarks():
        table.add_row(
            bench.name,
            bench.language,
            str(len(bench.characters)),
            str(len(bench.scenarios)),
            bench.description,
        )
    console.print(table)
    console.print(
        "Use your own: a folder with benchmark.yaml or one YAML file "
        "(see docs/benchmark-format.md)."
    )


@benchmarks_app.command("show")
def show(
    benchmark: Annotated[str, typer.Argument(help="Built-in name, folder or YAML file.")],
    scenarios: Annotated[
        bool, typer.Option("--scenarios/--no-scenarios", help="List the scenarios too.")
    ] = True,
) -> None:
    """Show a benchmark's characters and scenarios."""
    from chatanime.benchmark import load_benchmark

    bench = load_benchmark(benchmark)
    console.print(_overview(bench))
    if bench.description:
        console.print(bench.description, highlight=False)
    chars = Table(title="Characters")
    for col in ("slug", "name", "work"):
        chars.add_column(col)
    for char in bench.characters:
        card = char.card(bench.language)
        chars.add_row(char.slug, card.name, card.work)
    console.print(chars)
    if not scenarios:
        return
    table = Table(title="Scenarios")
    for col in ("id", "persona", "emotion", "location", "question (round 1)"):
        table.add_column(col, overflow="fold")
    for sc in bench.scenarios:
        table.add_row(
            str(sc.id),
            sc.persona.label(bench.language),
            sc.emotion.label(bench.language),
            sc.location,
            sc.question_r1,
        )
    console.print(table)


@benchmarks_app.command("validate")
def validate(
    path: Annotated[Path, typer.Argument(help="A benchmark folder or a single YAML file.")],
) -> None:
    """Check a benchmark definition; errors name the file and the field."""
    from chatanime.benchmark import load_benchmark

    bench = load_benchmark(path)
    console.print(f"[green]ok[/] {path}: " + _overview(bench))


def register(app: typer.Typer) -> None:
    """Add the ``benchmarks`` command group to the root app."""
    app.add_typer(benchmarks_app, name="benchmarks")
