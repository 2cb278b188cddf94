"""Notes and section bookkeeping of the report: messages, failures as values, timings.

A section of the report that cannot be built (a module that raises, a store that is half
migrated) must not sink the main command: :func:`attempt` turns the failure into a warning
:class:`Note` that names the error, and the rest of the report is built anyway.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Note:
    """A message the report shows above the numbers (``warning``: something is missing)."""

    kind: Literal["info", "warning"]
    text: str
    commands: tuple[str, ...] = ()


def attempt(notes: list[Note], section: str, build: Callable[[], T]) -> T | None:
    """Run one optional section; a failure becomes a warning note (the report goes on)."""
    try:
        return build()
    except Exception as exc:  # a broken section must not sink the main command
        notes.append(Note("warning", f"{section}: not shown ({type(exc).__name__}: {exc})"))
        return None


class Clock:
    """Seconds spent per section, kept in ``Report.timings`` for the benchmark script."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = self.laps.get(name, 0.0) + now - self._last
        self._last = now
