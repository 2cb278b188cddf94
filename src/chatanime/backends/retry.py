"""Retries as a wrapper, so no provider adapter carries its own retry policy.

Adapters turn every failure into a :class:`~chatanime.backends.base.ModelError`
that says whether another try can help; :class:`RetryingModel` decides when to try
again: exponential backoff with *full jitter* (so 64 tasks that hit the same 429
do not come back in lock-step), never sooner than the server's ``Retry-After``.
Retries are counted because a failed paid call still costs time and quota, and the
runner records that.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from chatanime.backends.base import (
    ChatMessage,
    ChatModel,
    ChatResponse,
    GenerationParams,
    ModelError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry; tiny delays are allowed for tests."""

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must not be negative")

    def delay(self, retry_index: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry number ``retry_index`` (0-based).

        The backoff ceiling doubles each time up to ``max_delay``; with jitter the
        wait is uniform in ``[0, ceiling]``. A server-sent ``retry_after`` is a floor:
        coming back earlier would only earn another 429.
        """
        ceiling = min(self.max_delay, self.base_delay * (2**retry_index))
        wait = rng.uniform(0.0, ceiling) if self.jitter else ceiling
        if retry_after is not None:
            wait = max(wait, retry_after)
        return wait


@dataclass(frozen=True)
class RetryEvent:
    """Reported to ``on_retry`` before each wait (for logs and run records)."""

    model: str
    attempt: int
    """The attempt that just failed, 1-based."""
    error: ModelError
    delay: float


Sleep = Callable[[float], Awaitable[None]]
OnRetry = Callable[[RetryEvent], None]


class RetryingModel:
    """A :class:`ChatModel` that retries its inner model's retryable failures."""

    def __init__(
        self,
        inner: ChatModel,
        policy: RetryPolicy | None = None,
        *,
        on_retry: OnRetry | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.inner = inner
        self.policy = policy or RetryPolicy()
        self.on_retry = on_retry
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.retries = 0
        """Retries performed so far, over all calls (each one was a failed call)."""
        self.total_wait_s = 0.0
        self.waits: deque[float] = deque(maxlen=4096)
        """The most recent waits in seconds, in order (bounded)."""

    @property
    def name(self) -> str:
        return self.inner.name

    async def chat(self, messages: Sequence[ChatMessage], params: GenerationParams) -> ChatResponse:
        """Call the inner model until it answers, fails fatally or attempts run out.

        The last error is re-raised unchanged, so callers see the real cause.
        """
        attempt = 1
        while True:
            try:
                response = await self.inner.chat(messages, params)
            except ModelError as exc:
                if not exc.retryable or attempt >= self.policy.max_attempts:
                    raise
                delay = self.policy.delay(attempt - 1, exc.retry_after, self._rng)
                self._record(attempt, exc, delay)
                await self._sleep(delay)
                attempt += 1
                continue
            return response.model_copy(update={"attempts": response.attempts + attempt - 1})

    def _record(self, attempt: int, error: ModelError, delay: float) -> None:
        self.retries += 1
        self.total_wait_s += delay
        self.waits.append(delay)
        if self.on_retry is not None:
            self.on_retry(RetryEvent(self.name, attempt, error, delay))


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait according to ``retry-after-ms`` / ``Retry-After`` (seconds or a date).

    Fractional seconds are accepted (some gateways send them); junk gives ``None``
    rather than an exception, because a bad header must not turn a 429 into a crash.
    """
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
