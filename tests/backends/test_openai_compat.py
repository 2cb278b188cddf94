"""The OpenAI-compatible adapter and the retry wrapper against the real fake server."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from chatanime.backends.base import (
    ChatMessage,
    ChatModel,
    FatalModelError,
    GenerationParams,
    RetryableModelError,
)
from chatanime.backends.fake_behaviours import FakeRequest, register_behaviour
from chatanime.backends.fake_server import FakeServer
from chatanime.backends.openai_compat import OpenAICompatModel
from chatanime.backends.registry import get_model
from chatanime.backends.retry import RetryEvent, RetryingModel, RetryPolicy

MESSAGES = [
    ChatMessage(role="system", content="你是《海贼王》的蒙奇·D·路飞，是用户的好朋友。"),
    ChatMessage(role="user", content="最近考试压力好大，怎么办？"),
]
PARAMS = GenerationParams(timeout_s=5)
FAST = RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.01)


def sampling_keys(request: FakeRequest) -> str:
    keys = ("temperature", "top_p", "max_tokens", "seed")
    return json.dumps({k: request.params[k] for k in keys if k in request.params})


register_behaviour("test-params", sampling_keys, replace=True)


class Sleeps:
    """Records the waits a RetryingModel asks for instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def retrying(model: ChatModel, sleeps: Sleeps, **kwargs: object) -> RetryingModel:
    return RetryingModel(model, FAST, sleep=sleeps, **kwargs)  # type: ignore[arg-type]


async def test_valid_call_records_usage_and_latency(fake_server: FakeServer) -> None:
    model = get_model("fake/actor")  # CHATANIME_FAKE_URL points at the fixture
    assert isinstance(model, OpenAICompatModel)
    response = await model.chat(MESSAGES, PARAMS)
    assert "蒙奇·D·路飞" in response.text
    assert response.input_tokens > 0
    assert response.output_tokens > 0
    assert response.latency_s > 0
    assert response.finish_reason == "stop"
    assert response.model == "actor"
    assert fake_server.stats()["by_model"] == {"fake/actor": {"ok": 1}}


async def test_only_set_sampling_options_are_sent(fake_server: FakeServer) -> None:
    model = get_model("fake/test-params")
    unset = await model.chat(MESSAGES, PARAMS)
    assert json.loads(unset.text) == {}
    params = GenerationParams(temperature=0.7, max_tokens=64, seed=3)
    sent = await model.chat(MESSAGES, params)
    assert json.loads(sent.text) == {"temperature": 0.7, "max_tokens": 64, "seed": 3}


async def test_429_retry_after_is_honoured(fake_server: FakeServer) -> None:
    fake_server.script("fake/actor", [{"fault": "429", "retry_after": 2}])
    sleeps, events = Sleeps(), []
    model = retrying(get_model("fake/actor"), sleeps, on_retry=events.append)
    response = await model.chat(MESSAGES, PARAMS)
    assert response.attempts == 2
    assert sleeps.waits == [pytest.approx(2.0)]  # the backoff alone would be ~0.001 s
    assert model.retries == 1
    (event,) = events
    assert isinstance(event, RetryEvent)
    assert (event.attempt, event.error.retry_after, event.model) == (1, 2.0, "fake/actor")
    assert fake_server.stats()["by_model"]["fake/actor"] == {"429": 1, "ok": 1}


async def test_500_then_success(fake_server: FakeServer) -> None:
    fake_server.script("fake/actor", [{"fault": "500"}, {"fault": "503"}])
    sleeps = Sleeps()
    model = retrying(get_model("fake/actor"), sleeps)
    response = await model.chat(MESSAGES, PARAMS)
    assert response.attempts == 3
    assert len(sleeps.waits) == 2
    assert all(0 <= w <= FAST.max_delay for w in sleeps.waits)
    assert fake_server.stats()["by_outcome"] == {"500": 1, "503": 1, "ok": 1}


@pytest.mark.parametrize("fault", ["timeout", "malformed", "empty", "drop", "429", "500"])
async def test_transient_faults_are_retryable(fake_server: FakeServer, fault: str) -> None:
    fake_server.script("fake/actor", [{"fault": fault, "sleep_s": 3, "retry_after": 0.5}])
    model = get_model("fake/actor")
    with pytest.raises(RetryableModelError):
        await model.chat(MESSAGES, GenerationParams(timeout_s=0.2))
    assert fake_server.stats()["by_outcome"] == {fault: 1}


async def test_the_connection_is_usable_after_a_drop(fake_server: FakeServer) -> None:
    fake_server.script("fake/actor", [{"fault": "drop"}])
    model = retrying(get_model("fake/actor"), Sleeps())
    assert (await model.chat(MESSAGES, PARAMS)).attempts == 2


@pytest.mark.parametrize("fault", ["400", "401"])
async def test_fatal_statuses_are_not_retried(fake_server: FakeServer, fault: str) -> None:
    fake_server.script("fake/actor", [{"fault": fault}])
    sleeps = Sleeps()
    model = retrying(get_model("fake/actor"), sleeps)
    with pytest.raises(FatalModelError, match=f"HTTP {fault}"):
        await model.chat(MESSAGES, PARAMS)
    assert model.retries == 0
    assert sleeps.waits == []
    assert fake_server.stats()["requests"] == 1


async def test_wrong_api_key_is_fatal_401(fake_server_factory: Callable[..., FakeServer]) -> None:
    server = fake_server_factory(api_key="right")
    model = retrying(get_model("fake/actor", base_url=server.base_url, api_key="wrong"), Sleeps())
    with pytest.raises(FatalModelError, match="401"):
        await model.chat(MESSAGES, PARAMS)
    assert server.stats()["by_outcome"] == {"401": 1}
    good = get_model("fake/actor", base_url=server.base_url, api_key="right")
    assert (await good.chat(MESSAGES, PARAMS)).text


async def test_unknown_model_is_fatal_404_and_not_retried(fake_server: FakeServer) -> None:
    model = retrying(get_model("fake/no-such-behaviour"), Sleeps())
    with pytest.raises(FatalModelError, match="404"):
        await model.chat(MESSAGES, PARAMS)
    assert fake_server.stats()["by_model"] == {"fake/no-such-behaviour": {"404": 1}}


async def test_retries_stop_after_max_attempts(fake_server: FakeServer) -> None:
    fake_server.script("fake/actor", [{"fault": "500"}] * 10)
    sleeps = Sleeps()
    model = retrying(get_model("fake/actor"), sleeps)
    with pytest.raises(RetryableModelError, match="500"):
        await model.chat(MESSAGES, PARAMS)
    assert fake_server.stats()["requests"] == FAST.max_attempts
    assert len(sleeps.waits) == FAST.max_attempts - 1


async def test_random_faults_are_absorbed_by_retries(
    fake_server_factory: Callable[..., FakeServer],
) -> None:
    server = fake_server_factory(
        fault_rate=0.3, faults=("429", "500", "malformed", "drop", "empty"), retry_after_s=0.01
    )
    model = RetryingModel(
        get_model("fake/echo", base_url=server.base_url),
        RetryPolicy(max_attempts=30, base_delay=0.001, max_delay=0.002),
    )
    for i in range(20):
        message = [ChatMessage(role="user", content=f"message {i}")]
        assert (await model.chat(message, PARAMS)).text == f"message {i}"
    stats = server.stats()
    assert stats["by_outcome"]["ok"] == 20
    assert stats["repeated_ok"] == 0  # no answered call was paid for twice
    assert model.retries == stats["requests"] - 20 > 0
