"""A resumable, concurrent, rate-limited and cost-tracked runner of *units* of work.

Generation, judging and scenario generation all reduce to "run many small
model-calling jobs against paid APIs, survive a crash, never pay twice". A job
describes itself as a :class:`RunSpec` (whose id is a hash of what it is, so the
same command maps to the same run) and a list of :class:`Unit` objects with
deterministic ids. Each unit calls models only through
:meth:`~chatanime.runner_calls.UnitContext.call`, which keys every call by (run,
unit, step): a finished call is stored in the ``calls`` table, and a rerun after a
``kill -9`` replays it from there instead of calling the provider again. A unit is
marked done only after its calls are committed; units finished before are skipped
entirely (``units`` table). Store writes are group-committed in order by one writer
thread (:mod:`chatanime.runner_journal`); a worker does not wait for a finished unit
to be stored, and waits for its last answer's row only just before its next paid
request (see :mod:`chatanime.runner_calls`).

Failed units are values (``units.status = 'failed'`` with the error); a rerun tries
them again, replaying whatever calls they had already finished.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from chatanime import __version__
from chatanime.backends.base import (
    ChatMessage,
    ChatModel,
    ChatResponse,
    ConfigurationError,
    GenerationParams,
)
from chatanime.backends.retry import RetryPolicy
from chatanime.pricing import PriceTable
from chatanime.runner_calls import (
    CallRuntime,
    Lane,
    ModelPool,
    RateLimit,
    UnitContext,
    call_key,
    stable_hash,
)
from chatanime.runner_journal import Persist, RunJournal, insert_or_ignore, upsert
from chatanime.runner_progress import RunProgress
from chatanime.store import Store


@dataclass(frozen=True)
class RunSpec:
    """What a run *is* (``identity``, hashed into its id) and how it was run (``config``).

    Identity holds whatever changes results — models, parameters, prompt hashes,
    benchmark hash — and not what only changes speed (concurrency, rate limits) or
    which slice of the work one invocation does (``--limit``), so a smoke run and the
    full run that follows share their finished work.
    """

    kind: str
    name: str
    identity: Mapping[str, Any]
    config: Mapping[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.kind}-{stable_hash([self.kind, self.name, dict(self.identity)])}"

    def config_json(self) -> str:
        payload = {"chatanime": __version__, **dict(self.identity), **dict(self.config)}
        return json.dumps(payload, sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class RunOptions:
    """How to run (never part of the run's identity)."""

    concurrency: int = 16
    rate_limits: Mapping[str, RateLimit] = field(default_factory=dict)
    """Per provider; the key ``"*"`` applies to every provider without its own entry."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    progress: bool = True
    description: str = "running"
    max_consecutive_failures: int | None = 50
    """Stop scheduling after this many failed units in a row (a wrong key, a dead server)."""


class CallContext(Protocol):
    """What a unit may do: make keyed, recorded model calls."""

    async def call(
        self,
        *,
        step: str,
        role: str,
        model: str,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        prompt_ref: str,
    ) -> ChatResponse: ...


class Unit(Protocol):
    """One resumable piece of work; ``run`` returns a JSON-able result."""

    @property
    def id(self) -> str: ...

    async def run(self, ctx: CallContext) -> dict[str, Any]: ...


@dataclass
class RunSummary:
    """What one invocation did, plus the results of every finished unit of the run."""

    run_id: str
    total: int = 0
    skipped: int = 0
    done: int = 0
    failed: int = 0
    calls: int = 0
    replayed_calls: int = 0
    failed_calls: int = 0
    retries: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    run_cost_usd: float = 0.0
    unpriced_models: set[str] = field(default_factory=set)
    elapsed_s: float = 0.0
    aborted: str | None = None
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


async def _attempt(unit: Unit, ctx: UnitContext) -> tuple[dict[str, Any] | None, str | None]:
    """Run one unit: its result, or the error that failed it (a value, not a crash)."""
    try:
        return await unit.run(ctx), None
    except (ConfigurationError, asyncio.CancelledError):
        raise
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"


async def _settle(
    rt: CallRuntime,
    ctx: UnitContext,
    outcome: tuple[dict[str, Any] | None, str | None],
    persist: Persist | None,
) -> None:
    """Store a unit's outcome once its call rows are committed, then count it.

    Runs beside the workers, so a worker starts its next unit without waiting for
    the disk; a unit counts as done only when the row saying so is committed.
    """
    result, error = outcome
    try:
        await ctx.flush()
        await rt.journal.finish_unit(ctx.unit_id, result, error, persist)
    except Exception as exc:
        # A unit whose rows cannot be stored is failed, never lost; a failed unit keeps
        # its own error (its row problem is secondary) and still gets its failed row.
        if result is not None:
            error = f"storing its result failed: {type(exc).__name__}: {exc}"
        result = None
        await rt.journal.finish_unit(ctx.unit_id, None, error)
    if result is None:
        rt.summary.failed += 1
        rt.summary.errors[ctx.unit_id] = error or "failed"
    else:
        rt.summary.done += 1
        rt.summary.results[ctx.unit_id] = result
    rt.progress.advance(rt.summary)


async def _drain(
    rt: CallRuntime, pending: deque[Unit], options: RunOptions, persist: Persist | None
) -> None:
    failures = 0
    limit = options.max_consecutive_failures
    settling: list[asyncio.Task[None]] = []

    async def worker() -> None:
        nonlocal failures
        lane = Lane()
        while pending:
            if limit is not None and failures >= limit:
                rt.summary.aborted = f"stopped after {failures} failed units in a row"
                return
            unit = pending.popleft()
            ctx = UnitContext(rt, unit.id, lane)
            outcome = await _attempt(unit, ctx)
            failures = 0 if outcome[1] is None else failures + 1
            settling.append(asyncio.create_task(_settle(rt, ctx, outcome, persist)))

    # A TaskGroup, not gather: a configuration error in one worker cancels the others
    # instead of leaving them running against a closing store. Units already run are
    # still stored: their settling is outside the group, so it is not cancelled.
    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, options.concurrency)):
                group.create_task(worker())
    except BaseExceptionGroup as errors:  # surface the error itself (the CLI reports it)
        raise errors.exceptions[0] from None
    finally:
        await asyncio.gather(*settling)


async def run_units(
    store: Store,
    spec: RunSpec,
    units_: Iterable[Unit],
    *,
    models: Callable[[str], ChatModel],
    options: RunOptions | None = None,
    prices: PriceTable | None = None,
    persist: Persist | None = None,
) -> RunSummary:
    """Run every unit not yet done in ``spec``'s run; returns counts, cost and all results.

    ``models`` builds a provider model from a name (``registry.get_model``); the
    runner wraps it with the provider's shared rate limiter and the retry policy.
    ``persist`` writes a unit's own rows in the same transaction that marks it done.
    """
    options = options or RunOptions()
    journal = RunJournal(store, spec.id)
    started = time.monotonic()
    try:
        await journal.record_run(spec.id, spec.kind, spec.name, spec.config_json())
        finished = journal.load()
        todo = list(units_)
        summary = RunSummary(run_id=spec.id, total=len(todo), run_cost_usd=journal.run_cost)
        summary.results = {u.id: finished[u.id] for u in todo if u.id in finished}
        summary.skipped = len(summary.results)
        pending = deque(u for u in todo if u.id not in finished)
        pool = ModelPool(models, rate_limits=options.rate_limits, retry=options.retry)
        try:
            with RunProgress(options.description, summary, enabled=options.progress) as progress:
                rt = CallRuntime(journal, pool, prices, summary, progress)
                await _drain(rt, pending, options, persist)
        finally:
            await pool.aclose()
    finally:
        journal.close()
    summary.elapsed_s = time.monotonic() - started
    return summary


__all__ = [
    "CallContext",
    "CallRuntime",
    "ModelPool",
    "Persist",
    "RateLimit",
    "RunOptions",
    "RunSpec",
    "RunSummary",
    "Unit",
    "UnitContext",
    "call_key",
    "insert_or_ignore",
    "run_units",
    "stable_hash",
    "upsert",
]
