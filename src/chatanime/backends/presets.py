"""Where each provider lives and which environment variable holds its key.

Most providers in the ChatAnime study (DeepSeek, Qwen, GLM, Doubao, MiniMax, Kimi,
Gemini, OpenAI) speak the OpenAI chat-completions wire format, so one adapter plus
this table covers them; only Anthropic needs its own SDK. Keeping the table as data
means adding a provider is one entry, not a new class.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Wire = Literal["openai", "anthropic"]

# Sent as the key to servers that ignore it: the OpenAI SDK insists on *some* key and
# would otherwise read OPENAI_API_KEY and leak a real key to a local server.
NO_KEY = "not-needed"


@dataclass(frozen=True)
class Preset:
    """How to reach one provider."""

    provider: str
    wire: Wire
    base_url: str
    key_env: str | None
    """Environment variable holding the API key; ``None`` when the server needs no key."""
    base_url_env: str | None = None
    """Environment variable that overrides ``base_url`` (local servers, proxies)."""

    def resolve_base_url(self, override: str | None = None) -> str:
        """Explicit argument, then the environment, then the documented default."""
        if override:
            return override
        if self.base_url_env and os.environ.get(self.base_url_env):
            return os.environ[self.base_url_env]
        return self.base_url

    def resolve_api_key(self, override: str | None = None) -> str | None:
        """Explicit argument, then the environment; ``NO_KEY`` for key-less servers."""
        if override:
            return override
        if self.key_env is None:
            return NO_KEY
        return os.environ.get(self.key_env) or None


def _cloud(provider: str, base_url: str, key_env: str, base_url_env: str | None = None) -> Preset:
    return Preset(provider, "openai", base_url, key_env, base_url_env)


def _local(provider: str, base_url: str, base_url_env: str) -> Preset:
    return Preset(provider, "openai", base_url, None, base_url_env)


PRESETS: Mapping[str, Preset] = {
    p.provider: p
    for p in (
        _cloud("openai", "https://api.openai.com/v1", "OPENAI_API_KEY", "OPENAI_BASE_URL"),
        _cloud("deepseek", "https://api.deepseek.com/v1", "DEEPSEEK_API_KEY"),
        _cloud("qwen", "https://dashscope.aliyuncs.com/compatible-mode/v1", "DASHSCOPE_API_KEY"),
        _cloud("zhipu", "https://open.bigmodel.cn/api/paas/v4", "ZHIPUAI_API_KEY"),
        _cloud("doubao", "https://ark.cn-beijing.volces.com/api/v3", "ARK_API_KEY"),
        _cloud("minimax", "https://api.minimax.chat/v1", "MINIMAX_API_KEY"),
        _cloud("moonshot", "https://api.moonshot.cn/v1", "MOONSHOT_API_KEY"),
        _cloud(
            "gemini", "https://generativelanguage.googleapis.com/v1beta/openai/", "GEMINI_API_KEY"
        ),
        Preset(
            "anthropic",
            "anthropic",
            "https://api.anthropic.com",
            "ANTHROPIC_API_KEY",
            "ANTHROPIC_BASE_URL",
        ),
        _local("vllm", "http://localhost:8000/v1", "VLLM_BASE_URL"),
        _local("ollama", "http://localhost:11434/v1", "OLLAMA_BASE_URL"),
        _local("llamacpp", "http://localhost:8080/v1", "LLAMACPP_BASE_URL"),
        _local("fake", "http://127.0.0.1:8765/v1", "CHATANIME_FAKE_URL"),
    )
}
