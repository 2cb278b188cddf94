"""Model names, presets, keys and base URLs."""

from __future__ import annotations

import pytest

from chatanime.backends.anthropic import AnthropicModel
from chatanime.backends.base import ChatModel, ConfigurationError
from chatanime.backends.openai_compat import OpenAICompatModel
from chatanime.backends.presets import NO_KEY, PRESETS
from chatanime.backends.registry import get_model, list_providers, provider_of, split_name

KEY_VARS = [p.key_env for p in PRESETS.values() if p.key_env]
URL_VARS = [p.base_url_env for p in PRESETS.values() if p.base_url_env]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in [*KEY_VARS, *URL_VARS]:
        monkeypatch.delenv(var, raising=False)


def compat(model: ChatModel) -> OpenAICompatModel:
    assert isinstance(model, OpenAICompatModel)
    return model


def test_names_split_on_the_first_slash() -> None:
    assert split_name("deepseek/deepseek-chat") == ("deepseek", "deepseek-chat")
    assert split_name("vllm/Qwen/Qwen2.5-7B-Instruct") == ("vllm", "Qwen/Qwen2.5-7B-Instruct")
    assert provider_of("fake/judge-lenient") == "fake"
    for bad in ("gpt-4.1", "/gpt", "openai/", ""):
        with pytest.raises(ConfigurationError, match="provider/model"):
            split_name(bad)


def test_unknown_provider_lists_the_known_ones() -> None:
    with pytest.raises(ConfigurationError) as err:
        get_model("nosuch/model")
    message = str(err.value)
    assert "'nosuch'" in message
    assert all(p in message for p in ("deepseek", "qwen", "anthropic", "fake"))
    assert list_providers() == sorted(PRESETS)


def test_study_providers_are_all_there() -> None:
    expected = {
        "openai",
        "deepseek",
        "qwen",
        "zhipu",
        "doubao",
        "minimax",
        "moonshot",
        "gemini",
        "anthropic",
        "vllm",
        "ollama",
        "llamacpp",
        "fake",
    }
    assert expected == set(list_providers())


def test_missing_key_is_one_sentence_naming_the_variable() -> None:
    with pytest.raises(ConfigurationError) as err:
        get_model("deepseek/deepseek-chat")
    assert str(err.value) == "Set DEEPSEEK_API_KEY to use deepseek/deepseek-chat."
    with pytest.raises(ConfigurationError, match=r"^Set ANTHROPIC_API_KEY to use anthropic/"):
        get_model("anthropic/claude-sonnet-4-20250514")


def test_key_from_environment_or_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", "from-env")
    model = compat(get_model("qwen/qwen-max"))
    assert model.base_url == "https://dashscope.aliyuncs.com/compatible-mode/v1"
    assert model.model_id == "qwen-max"
    assert model.name == "qwen/qwen-max"
    assert model._api_key == "from-env"
    assert compat(get_model("qwen/qwen-max", api_key="explicit"))._api_key == "explicit"


def test_preset_base_urls() -> None:
    urls = {
        name: compat(get_model(f"{name}/m", api_key="k")).base_url
        for name in ("openai", "deepseek", "zhipu", "doubao", "minimax", "moonshot", "gemini")
    }
    assert urls == {
        "openai": "https://api.openai.com/v1",
        "deepseek": "https://api.deepseek.com/v1",
        "zhipu": "https://open.bigmodel.cn/api/paas/v4",
        "doubao": "https://ark.cn-beijing.volces.com/api/v3",
        "minimax": "https://api.minimax.chat/v1",
        "moonshot": "https://api.moonshot.cn/v1",
        "gemini": "https://generativelanguage.googleapis.com/v1beta/openai/",
    }


def test_local_servers_need_no_key_and_take_their_url_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert compat(get_model("vllm/m")).base_url == "http://localhost:8000/v1"
    assert compat(get_model("ollama/llama3")).base_url == "http://localhost:11434/v1"
    assert compat(get_model("llamacpp/m")).base_url == "http://localhost:8080/v1"
    assert compat(get_model("fake/actor")).base_url == "http://127.0.0.1:8765/v1"
    assert compat(get_model("fake/actor"))._api_key == NO_KEY
    monkeypatch.setenv("VLLM_BASE_URL", "http://gpu:9000/v1")
    assert compat(get_model("vllm/m")).base_url == "http://gpu:9000/v1"
    assert compat(get_model("vllm/m", base_url="http://x/v1")).base_url == "http://x/v1"


def test_anthropic_uses_its_own_adapter() -> None:
    model = get_model("anthropic/claude-sonnet-4-20250514", api_key="k")
    assert isinstance(model, AnthropicModel)
    assert isinstance(model, ChatModel)
    assert model.model_id == "claude-sonnet-4-20250514"
