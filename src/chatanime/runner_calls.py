"""What a unit sees of the runner: keyed, replayable, recorded model calls.

Every call is keyed by (run, unit, step). A key already in the journal is answered
from there (a rerun after ``kill -9`` never pays twice for it); otherwise the
provider is called through the retry wrapper and the provider's shared rate limiter,
and the answer, tokens, latency and cost are queued for the store.

The call's row is *queued*, not waited for on the spot: the writer thread commits in
FIFO order, so a later step can never be stored without the earlier one, and a unit
is marked done only after every row it queued is committed (:meth:`UnitContext.flush`),
in a task beside the workers. The one wait left is a barrier before the next *paid*
request of the same worker (:class:`Lane`): it overlaps with building that request,
and it keeps the crash guarantee tight — a ``kill -9`` loses at most one answered call
per worker, the one in flight. Waiting for every commit on the spot (four times per
dialogue, each a thread hand-off) cost a tenth of a run's wall time.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chatanime.backends.base import (
    ChatMessage,
    ChatModel,
    ChatResponse,
    GenerationParams,
    ModelError,
)
from chatanime.backends.ratelimit import RateLimitedModel, RateLimiter
from chatanime.backends.registry import provider_of
from chatanime.backends.retry import RetryingModel, RetryPolicy
from chatanime.pricing import PriceTable
from chatanime.runner_journal import RunJournal
from chatanime.runner_progress import RunProgress

if TYPE_CHECKING:
    from chatanime.runner import RunSummary


def stable_hash(payload: Any, length: int = 20) -> str:
    """Hex sha256 of canonical JSON: the basis of every deterministic id."""
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def call_key(run_id: str, unit_id: str, step: str) -> str:
    """The key of one call: the same (run, unit, step) is the same paid call."""
    return stable_hash([run_id, unit_id, step], 40)


@dataclass(frozen=True)
class RateLimit:
    """Requests / tokens per minute for one provider; ``None`` is unlimited."""

    rpm: float | None = None
    tpm: float | None = None


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


@dataclass
class CallRuntime:
    """State shared by the contexts of one invocation."""

    journal: RunJournal
    pool: ModelPool
    prices: PriceTable | None
    summary: RunSummary
    progress: RunProgress


@dataclass(frozen=True)
class _CallRecord:
    """A finished call, as the ``calls`` row it becomes."""

    key: str
    step: str
    role: str
    model: str
    prompt_ref: str
    response: ChatResponse
    cost: float | None
    retries: int


class Lane:
    """One worker's call rows not yet known to be committed.

    A worker sends its next paid request only once its earlier answers are stored, so a
    crash can never cost more than the one call each worker has in flight.
    """

    def __init__(self) -> None:
        self._pending: list[asyncio.Future[Any]] = []

    def add(self, future: asyncio.Future[Any]) -> None:
        self._pending.append(future)

    async def stored(self) -> None:
        """Wait for the queued rows; their failures belong to their own unit's flush."""
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.wait(pending)


class UnitContext:
    """The :class:`~chatanime.runner.CallContext` of one unit of one run."""

    def __init__(self, runtime: CallRuntime, unit_id: str, lane: Lane | None = None) -> None:
        self._rt = runtime
        self.run_id = runtime.journal.run_id
        self.unit_id = unit_id
        self._lane = lane or Lane()
        self._queued: list[asyncio.Future[Any]] = []

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
        await self._lane.stored()
        wrapped = rt.pool.for_call(model)
        try:
            response = await wrapped.chat(messages, params)
        except ModelError as exc:
            summary.failed_calls += 1
            summary.retries += wrapped.retries
            self._record_failure(step, model, exc, wrapped.retries)
            raise
        summary.retries += wrapped.retries
        cost = (
            rt.prices.cost(model, response.input_tokens, response.output_tokens)
            if rt.prices
            else None
        )
        self._record_call(
            _CallRecord(key, step, role, model, prompt_ref, response, cost, wrapped.retries)
        )
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

    async def flush(self) -> None:
        """Wait until every row this unit queued is committed; raise the first failure."""
        queued, self._queued = self._queued, []
        if queued:
            await asyncio.gather(*queued)

    def _record_call(self, record: _CallRecord) -> None:
        response = record.response
        row = {
            "key": record.key,
            "unit_id": self.unit_id,
            "step": record.step,
            "role": record.role,
            "model": record.model,
            "prompt_ref": record.prompt_ref,
            "response_text": response.text,
            "input_tokens": response.input_tokens,
            "output_tokens": response.output_tokens,
            "latency_s": response.latency_s,
            "cost_usd": record.cost,
            "retries": record.retries,
        }
        future = self._rt.journal.record_call(row)
        self._queued.append(future)
        self._lane.add(future)

    def _record_failure(self, step: str, model: str, exc: Exception, retries: int) -> None:
        row = {
            "unit_id": self.unit_id,
            "step": step,
            "model": model,
            "error": f"{type(exc).__name__}: {exc}",
            "retries": retries,
        }
        self._queued.append(self._rt.journal.record_failure(row))
