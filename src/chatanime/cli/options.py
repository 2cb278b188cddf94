"""Options several command groups share, so each means the same everywhere.

Where the data comes from (``--data``, ``--extra``, ``--benchmark``), where the web app's
studies live (``--store``) and the public URL its invite links use (``--base-url``) are
the same choices in every command that takes them; defining them once keeps their names,
help and defaults from drifting apart. The same holds for the commands that call models
(``generate``, ``scenarios generate``): their speed limits, timeout, dry run, prices and
store. Not a command group: ``cli/__init__.py`` does not register it.

Every command module imports this one when the CLI starts, so it imports nothing heavy:
the libraries load inside the functions below, when a command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from chatanime.selection import parse_names

if TYPE_CHECKING:
    from chatanime.runner import RateLimit
    from chatanime.store import Store

DataOpt = Annotated[
    Path | None,
    typer.Option(
        "--data", help="Folder with the release's *.json (else $CHATANIME_DATA, cache, download)."
    ),
]
ExtraOpt = Annotated[
    list[Path] | None,
    typer.Option("--extra", help="An extra system file (release JSON shape or JSONL); repeatable."),
]
BenchOpt = Annotated[str, typer.Option("--benchmark", help="Benchmark name or folder.")]

StoreOpt = Annotated[
    str | None,
    typer.Option("--store", help="Store URL or SQLite path (else $CHATANIME_STORE, else default)."),
]
BaseUrlOpt = Annotated[
    str, typer.Option("--base-url", help="Public URL of the web app, used in invite links.")
]
DEFAULT_BASE = "http://127.0.0.1:8000"

# Commands that call models. Defaults stay in each command's signature (they differ).
RpmOpt = Annotated[float | None, typer.Option("--rpm", help="Requests/minute per provider.")]
TpmOpt = Annotated[float | None, typer.Option("--tpm", help="Tokens/minute per provider.")]
TimeoutOpt = Annotated[float, typer.Option("--timeout", help="Seconds per call.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Plan and cost only.")]
PricesOpt = Annotated[Path | None, typer.Option("--prices", help="Price overrides (YAML).")]
RunStoreOpt = Annotated[str | None, typer.Option("--store", help="Store URL or SQLite path.")]
ProgressOpt = Annotated[bool, typer.Option("--progress/--no-progress", help="Progress bar.")]
TemperatureOpt = Annotated[float | None, typer.Option(help="Sampling temperature.")]
MaxTokensOpt = Annotated[int | None, typer.Option("--max-tokens", help="Cap per reply.")]
ModelUrlOpt = Annotated[
    str | None,
    typer.Option("--base-url", help="Server URL override (e.g. a local or the fake server)."),
]


comma_list = parse_names
"""``"a, b,,c"`` -> ``("a", "b", "c")`` (the library's parser, under the CLI's name)."""


def rate_limits(rpm: float | None, tpm: float | None) -> dict[str, RateLimit]:
    """``--rpm`` / ``--tpm`` as the runner's limits: one for every provider, or none at all."""
    from chatanime.runner import RateLimit

    return {"*": RateLimit(rpm, tpm)} if rpm or tpm else {}


def web_app_store(url: str | None) -> Store:
    """The store with the web app's tables (rating and collection studies) migrated."""
    import chatanime.annotate  # noqa: F401  (registers the web app tables' migrations)
    from chatanime.store import open_store

    return open_store(url)
