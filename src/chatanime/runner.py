"""A resumable, concurrent, rate-limited and cost-tracked runner of *units* of work.

Generation, judging and scenario generation all reduce to "run many small
model-calling jobs against paid APIs, survive a crash, never pay twice". A job
describes itself as a :class:`RunSpec` (whose id is a hash of what it is, so the
same command maps to the same run) and a list of :class:`Unit` objects with
deterministic ids. Each unit calls models only through :meth:`UnitContext.call`,
which keys every call by (run, unit, step): a finished call is committed to the
``calls`` table before its answer is used, and a rerun after a ``kill -9`` replays
it from there instead of calling the provider again. Units finished before are
skipped entirely (``units`` table). Store writes are group-committed by one writer
thread (:mod:`chatanime.runner_journal`), so the event loop keeps dispatching
requests while the database commits.

Failed units are values (``units.status = 'failed'`` with the error); a rerun tries
them again, replaying whatever calls they had already finished.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
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
    ModelError,
)
from chatanime.backends.ratelimit import RateLimitedModel, RateLimiter
from chatanime.backends.registry import provider_of
from chatanime.backends.retry import RetryingModel, RetryPolicy
from chatanime.pricing import PriceTable
from chatanime.runner_journal import Persist, RunJournal, insert_or_ignore, upsert
from chatanime.runner_progress import RunProgress
from chatanime.store import Store


def stable_hash(payload: Any, length: int = 20) -> str:
    """Hex sha256 of canonical JSON: the basis of every deterministic id."""
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


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
        self._built: list[ChatModel] = []
        self._rng = random.Random()

    def limited(self, name: str) -> ChatModel:
        """The provider-limited model (built once per name; unwrapped when unlimited)."""
        if name not in self._models:
            provider = provider_of(name)
            limit = self._limits.get(provider) or self._limits.get("*") or RateLimit()
            inner = self._factory(name)
            self._built.append(inner)
            if limit.rpm is None and limit.tpm is None:
                self._models[name] = inner
                return inner
            if provider not in self._limiters:
                self._limiters[provider] = RateLimiter(limit.rpm, limit.tpm)
            self._models[name] = RateLimitedModel(inner, self._limiters[provider])
        return self._models[name]

    async def aclose(self) -> None:
        """Close the models' connection pools while their event loop still runs."""
        for model in self._built:
            close = getattr(model, "aclose", None)
            if close is not None:
                await close()

    def for_call(self, name: str) -> RetryingModel:
        """A fresh retry wrapper per call, so its counter is that call's retries."""
        return RetryingModel(self.limited(name), self._retry, rng=self._rng)


class _Runtime:
    """State shared by the contexts of one invocation."""

    def __init__(
        self,
        journal: RunJournal,
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
        await self._rt.journal.record_call(
            {
                "key": key,
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
            }
        )

    async def _record_failure(self, step: str, model: str, exc: Exception, retries: int) -> None:
        await self._rt.journal.record_failure(
            {
                "unit_id": self.unit_id,
                "step": step,
                "model": model,
                "error": f"{type(exc).__name__}: {exc}",
                "retries": retries,
            }
        )


async def _run_one(rt: _Runtime, unit: Unit, persist: Persist | None, failures: list[int]) -> None:
    ctx = UnitContext(rt, unit.id)
    result: dict[str, Any] | None = None
    try:
        result = await unit.run(ctx)
        await rt.journal.finish_unit(unit.id, result, None, persist)
    except (ConfigurationError, asyncio.CancelledError):
        raise
    except Exception as exc:  # a failed unit is a recorded value, not a crash
        stage = "storing its result failed: " if result is not None else ""
        error = f"{stage}{type(exc).__name__}: {exc}"
        await rt.journal.finish_unit(unit.id, None, error)
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

    # A TaskGroup, not gather: a configuration error in one worker cancels the others
    # instead of leaving them running against a closing store.
    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, options.concurrency)):
                group.create_task(worker())
    except BaseExceptionGroup as errors:  # surface the error itself (the CLI reports it)
        raise errors.exceptions[0] from None


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
                rt = _Runtime(journal, pool, prices, summary, progress)
                await _drain(rt, pending, options, persist)
        finally:
            await pool.aclose()
    finally:
        journal.close()
    summary.elapsed_s = time.monotonic() - started
    return summary


__all__ = [
    "CallContext",
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
