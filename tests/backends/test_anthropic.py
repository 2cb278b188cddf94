"""The Anthropic adapter against the fake server's Messages endpoint (real SDK, real HTTP)."""

from __future__ import annotations

import sys

import pytest

from chatanime.backends.anthropic import AnthropicModel
from chatanime.backends.base import (
    ChatMessage,
    ConfigurationError,
    FatalModelError,
    GenerationParams,
    RetryableModelError,
)
from chatanime.backends.fake_behaviours import FakeRequest, register_behaviour
from chatanime.backends.fake_server import FakeServer
from chatanime.backends.registry import get_model

MESSAGES = [
    ChatMessage(role="system", content="你是《海贼王》的蒙奇·D·路飞，是用户的好朋友。"),
    ChatMessage(role="user", content="最近考试压力好大，怎么办？"),
]
PARAMS = GenerationParams(timeout_s=5)


def show_request(request: FakeRequest) -> str:
    roles = ",".join(m.role for m in request.messages)
    return f"{roles}|{request.system}|{request.params.get('max_tokens')}"


register_behaviour("test-anthropic-request", show_request, replace=True)


def claude(server: FakeServer, model: str = "actor") -> AnthropicModel:
    built = get_model(
        f"anthropic/{model}", base_url=server.base_url.removesuffix("/v1"), api_key="k"
    )
    assert isinstance(built, AnthropicModel)
    return built


async def test_answer_and_usage(fake_server: FakeServer) -> None:
    response = await claude(fake_server).chat(MESSAGES, PARAMS)
    assert "蒙奇·D·路飞" in response.text
    assert response.input_tokens > 0 and response.output_tokens > 0
    assert response.finish_reason == "end_turn"


async def test_system_message_goes_to_the_system_parameter(fake_server: FakeServer) -> None:
    response = await claude(fake_server, "test-anthropic-request").chat(MESSAGES, PARAMS)
    # The server saw the system text via `system` (re-inserted first) and one user turn,
    # and the required max_tokens was filled in.
    assert response.text == f"system,user|{MESSAGES[0].content}|1024"


async def test_errors_map_like_the_openai_adapter(fake_server: FakeServer) -> None:
    fake_server.script("fake/actor", [{"fault": "429", "retry_after": 3}, {"fault": "malformed"}])
    model = claude(fake_server)
    with pytest.raises(RetryableModelError) as limited:
        await model.chat(MESSAGES, PARAMS)
    assert limited.value.retry_after == 3
    with pytest.raises(RetryableModelError, match="unparseable"):
        await model.chat(MESSAGES, PARAMS)
    with pytest.raises(FatalModelError, match="404"):
        await claude(fake_server, "no-such-model").chat(MESSAGES, PARAMS)


def test_missing_sdk_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "anthropic", None)  # makes `import anthropic` fail
    with pytest.raises(ConfigurationError, match=r"pip install chatanime\[anthropic\]"):
        get_model("anthropic/claude-sonnet-4-20250514", api_key="k")
