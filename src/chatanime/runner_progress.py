"""The runner's progress bar: done/total, ETA, errors, retries and money spent.

A long paid run must show what it costs while it runs, not only at the end; a
bar that scrolls garbage into a log file is worse than none, so it is off when
stdout is not a terminal.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

if TYPE_CHECKING:
    from chatanime.runner import RunSummary


class RunProgress:
    """A context manager around a rich ``Progress``; a no-op when disabled."""

    def __init__(
        self,
        description: str,
        summary: RunSummary,
        *,
        enabled: bool = True,
        console: Console | None = None,
    ) -> None:
        self._console = console or Console(stderr=True)
        self.enabled = enabled and self._console.is_terminal
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TimeElapsedColumn(),
            TextColumn("[red]errors {task.fields[errors]}"),
            TextColumn("retries {task.fields[retries]}"),
            TextColumn("[green]${task.fields[cost]:.4f}"),
            console=self._console,
            disable=not self.enabled,
        )
        self._task: TaskID | None = None
        self._description = description
        self._summary = summary

    def __enter__(self) -> RunProgress:
        if self.enabled:
            self._progress.start()
            s = self._summary
            self._task = self._progress.add_task(
                self._description,
                total=s.total,
                completed=s.skipped,
                errors=0,
                retries=0,
                cost=s.run_cost_usd,
            )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.enabled:
            self.update(self._summary)
            self._progress.stop()

    def update(self, summary: RunSummary) -> None:
        """Refresh the counters (after a call)."""
        if self._task is not None:
            self._progress.update(
                self._task,
                errors=summary.failed,
                retries=summary.retries,
                cost=summary.run_cost_usd,
            )

    def advance(self, summary: RunSummary) -> None:
        """One more unit finished (done or failed)."""
        if self._task is not None:
            self._progress.update(
                self._task,
                completed=summary.skipped + summary.done + summary.failed,
                errors=summary.failed,
                retries=summary.retries,
                cost=summary.run_cost_usd,
            )
