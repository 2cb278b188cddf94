"""Reading a command's declared options back, to pin flags, defaults and help texts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer


def built_command(register: Callable[[typer.Typer], None], *path: str) -> Any:
    """The click command typer builds for ``path`` (e.g. ``"annotate", "create-study"``) after
    ``register`` adds its area to a fresh app (typer bundles its own click, hence ``Any``)."""
    app = typer.Typer()
    register(app)
    command: Any = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    return command


def option_table(command: Any) -> dict[str, tuple[tuple[str, ...], Any, str | None]]:
    """name -> (flags, default, help) of every parameter."""
    return {p.name: (tuple(p.opts), p.default, getattr(p, "help", None)) for p in command.params}


def required_options(command: Any) -> set[str]:
    return {p.name for p in command.params if p.required}
