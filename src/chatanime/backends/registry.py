"""Turn a ``provider/model`` name into a ready :class:`ChatModel`.

Configuration problems (unknown provider, missing key) are found here, before any
work starts, and reported as one sentence the user can act on.
"""

from __future__ import annotations

from chatanime.backends.base import ChatModel, ConfigurationError
from chatanime.backends.openai_compat import OpenAICompatModel
from chatanime.backends.presets import PRESETS, Preset


def split_name(name: str) -> tuple[str, str]:
    """``"qwen/qwen-max"`` -> ``("qwen", "qwen-max")``; the model part may contain ``/``."""
    provider, sep, model = name.partition("/")
    if not sep or not provider or not model.strip("/"):
        raise ConfigurationError(
            f"Model names look like provider/model (e.g. deepseek/deepseek-chat), not {name!r}."
        )
    return provider, model


def provider_of(name: str) -> str:
    """The provider part of a model name (used to share one rate limiter per provider)."""
    return split_name(name)[0]


def list_providers() -> list[str]:
    """Known providers, sorted."""
    return sorted(PRESETS)


def preset_for(provider: str) -> Preset:
    """The preset of a known provider, or a ConfigurationError listing the known ones."""
    try:
        return PRESETS[provider]
    except KeyError:
        known = ", ".join(list_providers())
        raise ConfigurationError(
            f"Unknown provider {provider!r}; known providers are: {known}."
        ) from None


def get_model(name: str, *, base_url: str | None = None, api_key: str | None = None) -> ChatModel:
    """The adapter for ``name``; ``base_url`` / ``api_key`` override the preset and environment."""
    provider, model_id = split_name(name)
    preset = preset_for(provider)
    key = preset.resolve_api_key(api_key)
    if key is None:
        raise ConfigurationError(f"Set {preset.key_env} to use {name}.")
    url = preset.resolve_base_url(base_url)
    if preset.wire == "anthropic":
        from chatanime.backends.anthropic import AnthropicModel

        return AnthropicModel(name, model_id=model_id, api_key=key, base_url=url)
    return OpenAICompatModel(name, model_id=model_id, base_url=url, api_key=key)
