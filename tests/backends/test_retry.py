"""Retry policy arithmetic and the wrapper's control flow (no network, no sleeping)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from chatanime.backends.base import (
    ChatMessage,
    ChatResponse,
    FatalModelError,
    GenerationParams,
    ModelError,
    RetryableModelError,
)
from chatanime.backends.retry import RetryingModel, RetryPolicy, parse_retry_after


class Scripted:
    """A ChatModel that raises the queued errors, then answers."""

    name = "stub/model"

    def __init__(self, errors: Sequence[ModelError]) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def chat(self, messages: Sequence[ChatMessage], params: GenerationParams) -> ChatResponse:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return ChatResponse(text="ok", model=self.name)


async def no_sleep(_: float) -> None:
    return None


def test_backoff_without_jitter_doubles_up_to_the_cap() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=3, jitter=False)
    rng = random.Random(0)
    assert [policy.delay(i, None, rng) for i in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_full_jitter_stays_under_the_ceiling_and_varies() -> None:
    policy = RetryPolicy(base_delay=1, max_delay=30)
    rng = random.Random(1)
    delays = [policy.delay(3, None, rng) for _ in range(200)]
    assert all(0 <= d <= 8 for d in delays)
    assert max(delays) - min(delays) > 4


def test_retry_after_is_a_floor() -> None:
    policy = RetryPolicy(base_delay=0.001, max_delay=0.01)
    rng = random.Random(2)
    assert all(policy.delay(i, 5.0, rng) == 5.0 for i in range(4))


def test_policy_validation() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


async def test_retryable_errors_are_retried_and_counted() -> None:
    inner = Scripted([RetryableModelError("a"), RetryableModelError("b", retry_after=0.5)])
    model = RetryingModel(inner, RetryPolicy(base_delay=0.001, max_delay=0.001), sleep=no_sleep)
    response = await model.chat([], GenerationParams())
    assert (response.text, response.attempts, inner.calls) == ("ok", 3, 3)
    assert model.retries == 2
    assert list(model.waits)[1] == 0.5
    assert model.total_wait_s == pytest.approx(sum(model.waits))


async def test_fatal_errors_propagate_at_once() -> None:
    inner = Scripted([FatalModelError("bad key")])
    model = RetryingModel(inner, sleep=no_sleep)
    with pytest.raises(FatalModelError, match="bad key"):
        await model.chat([], GenerationParams())
    assert (inner.calls, model.retries) == (1, 0)


async def test_last_error_is_raised_when_attempts_run_out() -> None:
    inner = Scripted([RetryableModelError(f"e{i}") for i in range(5)])
    model = RetryingModel(inner, RetryPolicy(max_attempts=3), sleep=no_sleep)
    with pytest.raises(RetryableModelError, match="e2"):
        await model.chat([], GenerationParams())
    assert inner.calls == 3


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after": "0.25"}) == 0.25
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "soon"}) is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 < (parse_retry_after({"retry-after": later}) or 0) <= 30
