"""``chatanime data ...`` and ``chatanime characters``: explore the release.

The libraries (corpus, characters, release) are imported inside the commands, so
registering them costs nothing (see ``cli/__init__.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from chatanime.cli.options import BenchOpt, DataOpt, ExtraOpt
from chatanime.errors import DataError

if TYPE_CHECKING:
    from chatanime.characters import Character
    from chatanime.corpus import Corpus

# Piped output (a file, a test, CI logs) gets a wide console instead of ellipses.
console = Console(width=None if sys.stdout.isatty() else 160)


def _corpus(data: Path | None, extra: list[Path] | None, benchmark: str) -> Corpus:
    from chatanime.corpus import load_corpus

    return load_corpus(data, extra=extra or [], benchmark=benchmark)


def info(data: DataOpt = None, extra: ExtraOpt = None, benchmark: BenchOpt = "chatanime") -> None:
    """Systems, counts and answer lengths (per round) of the validated corpus."""
    from chatanime.corpus import length_unit, summarise

    corpus = _corpus(data, extra, benchmark)
    limit = corpus.benchmark.answer_limit
    table = Table(title=f"{corpus.benchmark.name}: {len(corpus.systems)} systems")
    for col in (
        "system",
        "dialogues",
        "answers",
        "chars",
        "len r1",
        "len r2",
        "max",
        f"≤{limit}",
        "len q2",
    ):
        table.add_column(col, justify="left" if col == "system" else "right", no_wrap=True)
    for s in summarise(corpus):
        table.add_row(
            s.system,
            str(s.dialogues),
            str(s.answers),
            str(s.characters),
            f"{s.mean_len_r1:.1f}",
            f"{s.mean_len_r2:.1f}",
            str(s.max_len),
            f"{s.within_limit}/{s.answers}",
            f"{s.mean_len_q2:.1f}",
        )
    console.print(table)
    total = sum(s.answers for s in summarise(corpus))
    console.print(
        f"{len(corpus.systems)} systems, {len(corpus)} dialogues, {total} answers; "
        f"lengths in {length_unit(corpus.benchmark.language)}."
    )


def show(
    system: Annotated[str, typer.Option(help="System, e.g. human or deepseek-v3.")],
    character: Annotated[str, typer.Option(help="Character slug or name, e.g. luffy.")],
    scenario: Annotated[int, typer.Option(help="Scenario id (1-60).")],
    data: DataOpt = None,
    extra: ExtraOpt = None,
    benchmark: BenchOpt = "chatanime",
) -> None:
    """One dialogue, readable, with the character card's summary."""
    from chatanime.corpus import length_unit
    from chatanime.simulator import text_length

    corpus = _corpus(data, extra, benchmark)
    char = corpus.benchmark.character(get_slug(character, corpus))
    dialogue = corpus.get(system, char.slug, scenario)
    if dialogue is None:
        raise DataError(
            f"no dialogue for system {system!r}, character {char.slug!r}, scenario {scenario}; "
            f"systems: {', '.join(corpus.systems)}"
        )
    card = char.card(corpus.benchmark.language)
    persona = corpus.persona(scenario)
    console.print(Panel(card.summary(), title=f"{char.slug} · {char.key}", expand=False))
    console.print(f"[dim]system[/] {system}  [dim]scenario[/] {scenario} ({persona})")
    language = corpus.benchmark.language
    unit = length_unit(language)
    for rnd in (1, 2):
        console.print(
            f"\n[bold cyan]User (round {rnd})[/]  [dim]{getattr(dialogue.sources, f'q{rnd}')}[/]"
        )
        console.print(dialogue.question(rnd), highlight=False)
        size = text_length(dialogue.answer(rnd), language)
        console.print(f"[bold magenta]{card.name} (round {rnd})[/]  [dim]{size} {unit}[/]")
        console.print(dialogue.answer(rnd), highlight=False)


def get_slug(name: str, corpus: Corpus) -> str:
    """Resolve a slug/name against the corpus's benchmark (built-ins by name too)."""
    from chatanime.characters import get_character

    for c in corpus.benchmark.characters:
        if name in (c.slug, c.key, *c.names):
            return c.slug
    return get_character(name).slug


def export(
    out: Annotated[Path, typer.Option("--out", help="Output file.")],
    fmt: Annotated[str, typer.Option("--format", help="jsonl | csv | parquet")] = "jsonl",
    systems: Annotated[str | None, typer.Option(help="Comma-separated systems.")] = None,
    characters: Annotated[str | None, typer.Option(help="Comma-separated slugs.")] = None,
    data: DataOpt = None,
    extra: ExtraOpt = None,
    benchmark: BenchOpt = "chatanime",
) -> None:
    """Export the corpus (one row per dialogue) as JSONL, CSV or Parquet."""
    from chatanime.corpus import EXPORT_FORMATS, export_corpus

    if fmt not in EXPORT_FORMATS:
        raise DataError(f"unknown format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
    corpus = _corpus(data, extra, benchmark).filter(
        systems=systems.split(",") if systems else None,
        characters=characters.split(",") if characters else None,
    )
    export_corpus(corpus, out, fmt)
    console.print(f"wrote {len(corpus)} dialogues to {out}")


def download(
    dest: Annotated[
        Path | None, typer.Option(help="Target folder (default: the user cache).")
    ] = None,
) -> None:
    """Fetch the release at the pinned commit into the cache (verified by sha256)."""
    from chatanime.release import download_release

    folder = download_release(dest)
    console.print(f"release files verified in {folder}")


def _card_table(char: Character, language: str) -> Table:
    card = char.card(language)
    table = Table(show_header=False, box=None, padding=(0, 1))
    table.add_column(style="bold")
    table.add_column()
    table.add_row("work", card.work)
    table.add_row("forms of address", ", ".join(card.forms_of_address))
    table.add_row("personality", card.personality)
    table.add_row("tone", card.speech_style.tone)
    table.add_row("catchphrases", " / ".join(card.speech_style.catchphrases))
    table.add_row("addressing others", card.speech_style.addressing_others)
    table.add_row("sentence endings", card.speech_style.sentence_endings)
    table.add_row("habits", "\n".join(f"• {h}" for h in card.behavioural_habits))
    table.add_row("experiences", "\n".join(f"• {e}" for e in card.experiences))
    return table


characters_app = typer.Typer(
    help="The built-in characters and their cards.", invoke_without_command=True
)


@characters_app.callback()
def characters_list(ctx: typer.Context) -> None:
    """List the 20 characters (slug, release key, English name)."""
    if ctx.invoked_subcommand is not None:
        return
    from chatanime.characters import builtin_characters

    table = Table(title="characters")
    for col in ("slug", "release key", "name", "work"):
        table.add_column(col)
    for c in builtin_characters():
        table.add_row(c.slug, c.key, c.name_en, c.work_en)
    console.print(table)


@characters_app.command("show")
def characters_show(
    name: Annotated[str, typer.Argument(help="Slug or name, e.g. luffy.")],
    lang: Annotated[str, typer.Option(help="zh or en")] = "zh",
) -> None:
    """Print one character card."""
    from chatanime.characters import get_character

    char = get_character(name)
    title = f"{char.card(lang).name} · {char.slug} · card v{char.version} #{char.sha256[:12]}"
    console.print(Panel(_card_table(char, lang), title=title))


def register(app: typer.Typer) -> None:
    data_app = typer.Typer(
        help="Load, validate, explore and export the ChatAnime release.", no_args_is_help=True
    )
    data_app.command("info")(info)
    data_app.command("show")(show)
    data_app.command("export")(export)
    data_app.command("download")(download)
    app.add_typer(data_app, name="data")
    app.add_typer(characters_app, name="characters")
