"""A resumable, concurrent, rate-limited and cost-tracked runner of *units* of work.

Generation, judging and scenario generation all reduce to "run many small
model-calling jobs against paid APIs, survive a crash, never pay twice". A job
describes itself as a :class:`RunSpec` (whose id is a hash of what it is, so the
same command maps to the same run) and a list of :class:`Unit` objects with
deterministic ids. Each unit calls models only through :meth:`UnitContext.call`,
which keys every call by (run, unit, step): a finished call is committed to the
``calls`` table in its own transaction the moment it returns, and a rerun after a
``kill -9`` replays it from there instead of calling the provider again. Units
finished before are skipped entirely (``units`` table).

Store writes run on one writer thread so the event loop keeps dispatching
requests while SQLite commits, and so writers never contend for its lock.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Table, select
from sqlalchemy.exc import IntegrityError

from chatanime import __version__
from chatanime.backends.base import (
    ChatMessage,
    ChatModel,
    ChatResponse,
    ConfigurationError,
    GenerationParams,
    ModelError,
)
from chatanime.backends.ratelimit import RateLimitedModel, RateLimiter
from chatanime.backends.registry import provider_of
from chatanime.backends.retry import RetryingModel, RetryPolicy
from chatanime.pricing import PriceTable
from chatanime.runner_progress import RunProgress
from chatanime.store import Store
from chatanime.store.schema import call_failures, calls, runs, units

T = TypeVar("T")
Persist = Callable[[Connection, str, Mapping[str, Any]], None]
"""Writes a finished unit's own rows (e.g. a dialogue) in the transaction marking it done."""


def _now() -> str:
    return datetime.now(UTC).isoformat()


def stable_hash(payload: Any, length: int = 20) -> str:
    """Hex sha256 of canonical JSON: the basis of every deterministic id."""
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def _dialect_insert(conn: Connection, table: Table, row: Mapping[str, Any]) -> Any:
    """The dialect's INSERT that supports ON CONFLICT (SQLite, PostgreSQL), else ``None``."""
    if conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).values(dict(row))
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).values(dict(row))
    return None


def insert_or_ignore(
    conn: Connection, table: Table, row: Mapping[str, Any], keys: Sequence[str]
) -> bool:
    """Insert unless a row with the same ``keys`` (a unique constraint) exists.

    Returns whether a row was inserted. This is what makes "store it again after a
    crash" harmless instead of a duplicate.
    """
    stmt = _dialect_insert(conn, table, row)
    if stmt is not None:
        return bool(conn.execute(stmt.on_conflict_do_nothing(index_elements=list(keys))).rowcount)
    try:
        with conn.begin_nested():
            conn.execute(table.insert().values(dict(row)))
    except IntegrityError:
        return False
    return True


def upsert(
    conn: Connection,
    table: Table,
    row: Mapping[str, Any],
    keys: Sequence[str],
    keep: Sequence[str] = (),
) -> None:
    """Insert, or update every column except ``keys`` and ``keep`` of the existing row."""
    changes = {k: v for k, v in row.items() if k not in keys and k not in keep}
    stmt = _dialect_insert(conn, table, row)
    if stmt is not None:
        set_ = {k: stmt.excluded[k] for k in changes}
        conn.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=set_))
        return
    if not insert_or_ignore(conn, table, row, keys):
        where = [table.c[k] == row[k] for k in keys]
        conn.execute(table.update().where(*where).values(changes))


def call_key(run_id: str, unit_id: str, step: str) -> str:
    """The key of one call: the same (run, unit, step) is the same paid call."""
    return stable_hash([run_id, unit_id, step], 40)


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
class RateLimit:
    """Requests / tokens per minute for one provider; ``None`` is unlimited."""

    rpm: float | None = None
    tpm: float | None = None


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


class ModelPool:
    """Model names -> wrapped models: one rate limiter per provider, shared by its models."""

    def __init__(
        self,
        factory: Callable[[str], ChatModel],
        *,
        rate_limits: Mapping[str, RateLimit] | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._factory = factory
        self._limits = dict(rate_limits or {})
        self._retry = retry or RetryPolicy()
        self._models: dict[str, ChatModel] = {}
        self._limiters: dict[str, RateLimiter] = {}
        self._rng = random.Random()

    def limited(self, name: str) -> ChatModel:
        """The provider-limited model (built once per name)."""
        if name not in self._models:
            provider = provider_of(name)
            limit = self._limits.get(provider) or self._limits.get("*") or RateLimit()
            if provider not in self._limiters:
                self._limiters[provider] = RateLimiter(limit.rpm, limit.tpm)
            self._models[name] = RateLimitedModel(self._factory(name), self._limiters[provider])
        return self._models[name]

    def for_call(self, name: str) -> RetryingModel:
        """A fresh retry wrapper per call, so its counter is that call's retries."""
        return RetryingModel(self.limited(name), self._retry, rng=self._rng)


class _Journal:
    """The run's rows: finished calls (replayed from memory) and serialised writes."""

    def __init__(self, store: Store, run_id: str) -> None:
        self.store = store
        self.run_id = run_id
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chatanime-store")
        self.calls: dict[str, ChatResponse] = {}
        self.run_cost = 0.0

    def load(self) -> dict[str, dict[str, Any]]:
        """Load finished calls and the results of finished units."""
        with self.store.engine.connect() as conn:
            for row in conn.execute(select(calls).where(calls.c.run_id == self.run_id)):
                self.calls[row.key] = ChatResponse(
                    text=row.response_text,
                    model=row.model,
                    input_tokens=row.input_tokens,
                    output_tokens=row.output_tokens,
                    latency_s=row.latency_s,
                    attempts=row.retries + 1,
                )
                self.run_cost += row.cost_usd or 0.0
            done = conn.execute(
                select(units.c.unit_id, units.c.result_json).where(
                    units.c.run_id == self.run_id, units.c.status == "done"
                )
            )
            return {r.unit_id: json.loads(r.result_json or "{}") for r in done}

    async def write(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in its own transaction on the writer thread."""

        def transaction() -> T:
            with self.store.engine.begin() as conn:
                return fn(conn)

        return await asyncio.get_running_loop().run_in_executor(self._writer, transaction)

    def close(self) -> None:
        self._writer.shutdown(wait=True)


class _Runtime:
    """State shared by the contexts of one invocation."""

    def __init__(
        self,
        journal: _Journal,
        pool: ModelPool,
        prices: PriceTable | None,
        summary: RunSummary,
        progress: RunProgress,
    ) -> None:
        self.journal = journal
        self.pool = pool
        self.prices = prices
        self.summary = summary
        self.progress = progress


class UnitContext:
    """The :class:`CallContext` of one unit of one run."""

    def __init__(self, runtime: _Runtime, unit_id: str) -> None:
        self._rt = runtime
        self.run_id = runtime.journal.run_id
        self.unit_id = unit_id

    async def call(
        self,
        *,
        step: str,
        role: str,
        model: str,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        prompt_ref: str,
    ) -> ChatResponse:
        """The stored response of this step if there is one, else a recorded new call.

        A call that fails for good is recorded in ``call_failures`` and re-raised.
        """
        key = call_key(self.run_id, self.unit_id, step)
        rt, summary = self._rt, self._rt.summary
        stored = rt.journal.calls.get(key)
        if stored is not None:
            summary.replayed_calls += 1
            return stored
        wrapped = rt.pool.for_call(model)
        try:
            response = await wrapped.chat(messages, params)
        except ModelError as exc:
            summary.failed_calls += 1
            self._count_retries(wrapped.retries)
            await self._record_failure(step, model, exc, wrapped.retries)
            raise
        self._count_retries(wrapped.retries)
        cost = (
            rt.prices.cost(model, response.input_tokens, response.output_tokens)
            if rt.prices
            else None
        )
        await self._record_call(key, step, role, model, prompt_ref, response, cost, wrapped.retries)
        rt.journal.calls[key] = response
        summary.calls += 1
        summary.input_tokens += response.input_tokens
        summary.output_tokens += response.output_tokens
        if cost is None:
            summary.unpriced_models.add(model)
        else:
            summary.cost_usd += cost
            summary.run_cost_usd += cost
        rt.progress.update(summary)
        return response

    def _count_retries(self, retries: int) -> None:
        self._rt.summary.retries += retries

    async def _record_call(
        self,
        key: str,
        step: str,
        role: str,
        model: str,
        prompt_ref: str,
        response: ChatResponse,
        cost: float | None,
        retries: int,
    ) -> None:
        row = {
            "key": key,
            "run_id": self.run_id,
            "unit_id": self.unit_id,
            "step": step,
            "role": role,
            "model": model,
            "prompt_ref": prompt_ref,
            "response_text": response.text,
            "input_tokens": response.input_tokens,
            "output_tokens": response.output_tokens,
            "latency_s": response.latency_s,
            "cost_usd": cost,
            "retries": retries,
            "created_at": _now(),
        }
        await self._rt.journal.write(lambda conn: insert_or_ignore(conn, calls, row, ["key"]))

    async def _record_failure(self, step: str, model: str, exc: Exception, retries: int) -> None:
        row = {
            "run_id": self.run_id,
            "unit_id": self.unit_id,
            "step": step,
            "model": model,
            "error": f"{type(exc).__name__}: {exc}",
            "retries": retries,
            "created_at": _now(),
        }
        await self._rt.journal.write(lambda conn: conn.execute(call_failures.insert().values(row)))


def _mark_unit(
    conn: Connection,
    run_id: str,
    unit_id: str,
    result: Mapping[str, Any] | None,
    error: str | None,
    persist: Persist | None,
) -> None:
    if result is not None and persist is not None:
        persist(conn, unit_id, result)
    row = {
        "run_id": run_id,
        "unit_id": unit_id,
        "status": "done" if result is not None else "failed",
        "result_json": json.dumps(result, ensure_ascii=False) if result is not None else None,
        "error": error,
        "updated_at": _now(),
    }
    upsert(conn, units, row, ["run_id", "unit_id"])


def _record_run(conn: Connection, spec: RunSpec) -> None:
    now = _now()
    row = {
        "id": spec.id,
        "kind": spec.kind,
        "name": spec.name,
        "created_at": now,
        "updated_at": now,
        "config_json": spec.config_json(),
    }
    upsert(conn, runs, row, ["id"], keep=("created_at",))


async def _run_one(rt: _Runtime, unit: Unit, persist: Persist | None, failures: list[int]) -> None:
    ctx = UnitContext(rt, unit.id)
    run_id = rt.journal.run_id
    result: dict[str, Any] | None = None
    try:
        result = await unit.run(ctx)
        await rt.journal.write(lambda c: _mark_unit(c, run_id, unit.id, result, None, persist))
    except (ConfigurationError, asyncio.CancelledError):
        raise
    except Exception as exc:  # a failed unit is a recorded value, not a crash
        stage = "storing its result failed: " if result is not None else ""
        error = f"{stage}{type(exc).__name__}: {exc}"
        await rt.journal.write(lambda c: _mark_unit(c, run_id, unit.id, None, error, None))
        rt.summary.failed += 1
        rt.summary.errors[unit.id] = error
        failures[0] += 1
    else:
        rt.summary.done += 1
        rt.summary.results[unit.id] = result
        failures[0] = 0
    rt.progress.advance(rt.summary)


async def _drain(
    rt: _Runtime, pending: deque[Unit], options: RunOptions, persist: Persist | None
) -> None:
    failures = [0]
    limit = options.max_consecutive_failures

    async def worker() -> None:
        while pending:
            if limit is not None and failures[0] >= limit:
                rt.summary.aborted = f"stopped after {failures[0]} failed units in a row"
                return
            await _run_one(rt, pending.popleft(), persist, failures)

    await asyncio.gather(*(worker() for _ in range(max(1, options.concurrency))))


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
    journal = _Journal(store, spec.id)
    started = time.monotonic()
    try:
        await journal.write(lambda conn: _record_run(conn, spec))
        finished = journal.load()
        todo = list(units_)
        summary = RunSummary(run_id=spec.id, total=len(todo), run_cost_usd=journal.run_cost)
        summary.results = {u.id: finished[u.id] for u in todo if u.id in finished}
        summary.skipped = len(summary.results)
        pending = deque(u for u in todo if u.id not in finished)
        pool = ModelPool(models, rate_limits=options.rate_limits, retry=options.retry)
        with RunProgress(options.description, summary, enabled=options.progress) as progress:
            rt = _Runtime(journal, pool, prices, summary, progress)
            await _drain(rt, pending, options, persist)
    finally:
        journal.close()
    summary.elapsed_s = time.monotonic() - started
    return summary
