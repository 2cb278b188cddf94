"""Rate limiter accounting with an injected clock (no timing assertions)."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from chatanime.backends.base import ChatMessage, GenerationParams
from chatanime.backends.fake_server import FakeServer
from chatanime.backends.ratelimit import (
    RateLimitedModel,
    RateLimiter,
    limiter_for,
    prompt_tokens,
    reset_limiters,
)
from chatanime.backends.registry import get_model


class FakeClock:
    """Time that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def limiter(clock: FakeClock, rpm: float | None = None, tpm: float | None = None) -> RateLimiter:
    return RateLimiter(rpm, tpm, clock=clock, sleep=clock.sleep)


async def test_rpm_paces_requests() -> None:
    clock = FakeClock()
    lim = limiter(clock, rpm=60)  # one per second, burst of one
    for _ in range(5):
        await lim.acquire()
    assert lim.stats.grant_times == pytest.approx([0, 1, 2, 3, 4])
    assert lim.stats.waited_s == pytest.approx(4)


async def test_burst_then_steady_rate() -> None:
    clock = FakeClock()
    lim = RateLimiter(rpm=600, burst_s=1.0, clock=clock, sleep=clock.sleep)  # 10/s, burst 10
    for _ in range(20):
        await lim.acquire()
    times = lim.stats.grant_times
    assert times[:10] == [0.0] * 10
    assert times[19] == pytest.approx(1.0)


async def test_64_concurrent_tasks_never_exceed_the_rate() -> None:
    clock = FakeClock()
    lim = limiter(clock, rpm=120)  # 2/s with a burst of 2
    await asyncio.gather(*(lim.acquire() for _ in range(64)))
    times = sorted(lim.stats.grant_times)
    assert lim.stats.granted == 64
    assert times[:2] == [0.0, 0.0]
    gaps = [b - a for a, b in itertools.pairwise(times[1:])]
    assert min(gaps) >= 0.5 - 1e-9
    assert times[-1] == pytest.approx(62 * 0.5)


async def test_tpm_charges_estimate_then_settles_real_usage() -> None:
    clock = FakeClock()
    lim = limiter(clock, tpm=6000)  # 100 tokens/s, burst 100
    await lim.acquire(80)
    assert lim.token_level == pytest.approx(20)
    lim.settle(estimated=80, actual=180)  # the call used more than estimated
    assert lim.token_level == pytest.approx(-80)
    await lim.acquire(50)  # must wait until the debt is repaid and 50 are available
    assert lim.stats.waited_s == pytest.approx(1.3)
    lim.settle(estimated=50, actual=10)  # refund
    assert lim.token_level == pytest.approx(40)
    assert lim.stats.tokens_charged == pytest.approx(190)


async def test_a_request_larger_than_the_burst_waits_for_a_full_bucket() -> None:
    clock = FakeClock()
    lim = limiter(clock, tpm=600)  # 10 tokens/s, capacity 10
    await lim.acquire(500)
    await lim.acquire(5)
    assert lim.stats.waited_s == pytest.approx(49.5)  # from -490 back to +5


async def test_unlimited_never_waits() -> None:
    clock = FakeClock()
    lim = limiter(clock)
    await asyncio.gather(*(lim.acquire(10_000) for _ in range(100)))
    assert (lim.stats.granted, lim.stats.waited_s, clock.now) == (100, 0.0, 0.0)


def test_limiter_is_shared_per_provider() -> None:
    reset_limiters()
    first = limiter_for("deepseek", 60, None)
    assert limiter_for("deepseek", 60, None) is first
    assert limiter_for("qwen", 60, None) is not first
    assert limiter_for("deepseek", 120, None) is not first  # new quota, new limiter
    reset_limiters()


async def test_rate_limited_model_settles_with_reported_usage(fake_server: FakeServer) -> None:
    clock = FakeClock()
    lim = limiter(clock, rpm=60, tpm=60_000)
    model = RateLimitedModel(get_model("fake/echo"), lim)
    messages = [ChatMessage(role="user", content="你好呀" * 10)]
    response = await model.chat(messages, GenerationParams(timeout_s=5))
    assert model.name == "fake/echo"
    assert lim.stats.granted == 1
    assert prompt_tokens(messages) == 34
    assert lim.stats.tokens_charged == response.input_tokens + response.output_tokens
