"""The ``chatanime`` command: a typer app whose commands are thin calls into the library.

Each area registers its commands from ``cli/<area>.py``. Errors the user can fix
(``DataError``, ``ConfigurationError``) become one red sentence and exit code 2,
never a traceback.

Registering every area must stay cheap (``chatanime --help`` answers in a fraction of a
second): an area module imports at its top only what typer needs to build its commands
(typer, the option aliases, light constants); each command imports the libraries it
calls (pandas, scipy, the model clients, the store, the web app) when it runs.
``tests/cli/test_startup.py`` checks that none of them is loaded by registration.
"""

from __future__ import annotations

import os

# The statistics are many small BLAS calls; on a small machine OpenBLAS threads
# fight over the cores and make them several times slower. Set before numpy loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import importlib
import sys

import typer

from chatanime.errors import DataError

AREAS = (
    "data",
    "benchmarks",
    "fake",
    "generate",
    "annotate",
    "scenarios",
    "judge",
    "report",
    "diversity",
    "collect",
)

app = typer.Typer(
    name="chatanime",
    help="Evaluate LLMs at emotionally supportive role-play (the ChatAnime benchmark).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


_registered: list[bool] = []


def _register_all() -> None:
    if _registered:
        return
    _registered.append(True)
    for area in AREAS:
        module = importlib.import_module(f"chatanime.cli.{area}")
        module.register(app)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    _register_all()
    try:
        app(args=argv, standalone_mode=True)
    except Exception as exc:
        if not _user_error(exc):
            raise
        from rich.console import Console

        err_console = Console(stderr=True)
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)


def _user_error(exc: Exception) -> bool:
    """A ``DataError`` or ``ConfigurationError``: one sentence the user can act on.

    ``ConfigurationError`` lives with the model backends (pydantic); it is imported only
    once something failed, so a command that never touches a model does not load them.
    """
    from chatanime.backends.base import ConfigurationError

    return isinstance(exc, DataError | ConfigurationError)


def build_app() -> typer.Typer:
    """The fully registered app (for tests using typer's CliRunner)."""
    _register_all()
    return app
