"""Client-side rate limiting (requests and tokens per minute) as a ``ChatModel`` wrapper.

Providers enforce quotas per account, so one :class:`RateLimiter` is shared by all
models of a provider (:func:`limiter_for`). Staying under the quota is cheaper than
being throttled: every 429 is a wasted round trip plus a backoff. Token use is only
known after a call, so a call is charged an estimate from its prompt up front and
the bucket is corrected with the real usage afterwards (a bucket may go negative,
which delays later calls by exactly the overrun).

The clock and sleep are injectable so the accounting can be tested without timing.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from chatanime.backends.base import ChatMessage, ChatModel, ChatResponse, GenerationParams
from chatanime.pricing import MESSAGE_OVERHEAD_TOKENS, estimate_tokens

Clock = Callable[[], float]
_EPSILON = 1e-9
Sleep = Callable[[float], Awaitable[None]]


class TokenBucket:
    """``rate`` units per second, holding at most ``capacity`` (the allowed burst)."""

    def __init__(self, per_minute: float, burst_s: float, clock: Clock) -> None:
        if per_minute <= 0:
            raise ValueError("a rate limit must be positive")
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate * burst_s)
        self.level = self.capacity
        self._clock = clock
        self._updated = clock()

    def _refill(self) -> None:
        now = self._clock()
        self.level = min(self.capacity, self.level + (now - self._updated) * self.rate)
        self._updated = now

    def wait_time(self, amount: float) -> float:
        """Seconds until ``amount`` can be taken; more than the burst waits for a full bucket."""
        self._refill()
        shortfall = min(amount, self.capacity) - self.level
        # Float refills land a hair short; waiting for 1e-18 s would never advance the clock.
        return shortfall / self.rate if shortfall > _EPSILON else 0.0

    def take(self, amount: float) -> None:
        self._refill()
        self.level -= amount

    def give(self, amount: float) -> None:
        self._refill()
        self.level = min(self.capacity, self.level + amount)


@dataclass
class LimiterStats:
    """What the limiter did, for run records and tests."""

    granted: int = 0
    waited_s: float = 0.0
    tokens_charged: float = 0.0
    grant_times: list[float] = field(default_factory=list)


class RateLimiter:
    """Requests-per-minute and tokens-per-minute buckets; ``None`` means unlimited."""

    def __init__(
        self,
        rpm: float | None = None,
        tpm: float | None = None,
        *,
        burst_s: float = 1.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.rpm = rpm
        self.tpm = tpm
        self._requests = TokenBucket(rpm, burst_s, clock) if rpm else None
        self._tokens = TokenBucket(tpm, burst_s, clock) if tpm else None
        self._clock = clock
        self._sleep = sleep
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        self.stats = LimiterStats()

    def _loop_lock(self) -> asyncio.Lock:
        """An asyncio lock for the running loop (a shared limiter may outlive one loop)."""
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock = asyncio.Lock()
            self._lock_loop = loop
        return self._lock

    async def acquire(self, tokens: float = 0.0) -> float:
        """Wait until one request of ~``tokens`` fits, charge it, return the seconds waited.

        Waiters queue on a FIFO lock, so under 64 concurrent tasks nobody starves and the
        buckets are never charged twice for the same capacity.
        """
        if self._requests is None and self._tokens is None:
            self.stats.granted += 1
            return 0.0
        waited = 0.0
        async with self._loop_lock():
            while (wait := self._wait_time(tokens)) > 0:
                await self._sleep(wait)
                waited += wait
            if self._requests is not None:
                self._requests.take(1)
            if self._tokens is not None:
                self._tokens.take(tokens)
            self.stats.granted += 1
            self.stats.waited_s += waited
            self.stats.tokens_charged += tokens
            self.stats.grant_times.append(self._clock())
        return waited

    def _wait_time(self, tokens: float) -> float:
        waits = [0.0]
        if self._requests is not None:
            waits.append(self._requests.wait_time(1))
        if self._tokens is not None:
            waits.append(self._tokens.wait_time(tokens))
        return max(waits)

    def settle(self, estimated: float, actual: float) -> None:
        """Replace a call's estimated token charge by its real usage."""
        self.stats.tokens_charged += actual - estimated
        if self._tokens is None:
            return
        if actual > estimated:
            self._tokens.take(actual - estimated)
        else:
            self._tokens.give(estimated - actual)

    @property
    def token_level(self) -> float | None:
        """Tokens currently available (negative after an overrun); ``None`` if unlimited."""
        if self._tokens is None:
            return None
        self._tokens.wait_time(0)  # refill to now
        return self._tokens.level


class RateLimitedModel:
    """A :class:`ChatModel` that waits for its limiter before each call."""

    def __init__(self, inner: ChatModel, limiter: RateLimiter) -> None:
        self.inner = inner
        self.limiter = limiter

    @property
    def name(self) -> str:
        return self.inner.name

    async def chat(self, messages: Sequence[ChatMessage], params: GenerationParams) -> ChatResponse:
        """Charge the prompt estimate, call, then settle with the reported usage.

        A failed call keeps its estimate: the provider may well have counted it.
        """
        estimate = float(prompt_tokens(messages))
        await self.limiter.acquire(estimate)
        response = await self.inner.chat(messages, params)
        actual = response.input_tokens + response.output_tokens
        if actual > 0:
            self.limiter.settle(estimate, float(actual))
        return response


def prompt_tokens(messages: Sequence[ChatMessage]) -> int:
    """Estimated prompt tokens of a conversation."""
    return sum(estimate_tokens(m.content) + MESSAGE_OVERHEAD_TOKENS for m in messages)


_LIMITERS: dict[str, RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def limiter_for(provider: str, rpm: float | None, tpm: float | None) -> RateLimiter:
    """The limiter shared by every model of ``provider``; new limits replace the old limiter."""
    with _LIMITERS_LOCK:
        current = _LIMITERS.get(provider)
        if current is None or (current.rpm, current.tpm) != (rpm, tpm):
            current = RateLimiter(rpm, tpm)
            _LIMITERS[provider] = current
        return current


def reset_limiters() -> None:
    """Forget all shared limiters (tests, or a new run with new quotas)."""
    with _LIMITERS_LOCK:
        _LIMITERS.clear()
