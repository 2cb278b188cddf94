"""Adapter for Anthropic's Messages API (the one study provider without an OpenAI wire).

The ``anthropic`` SDK is an optional extra, imported lazily so that the rest of the
toolkit works without it. As in the OpenAI adapter, SDK retries are off and the
body is parsed strictly here. System messages go to the ``system`` parameter because
the Messages API accepts only user/assistant turns in ``messages``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from chatanime.backends.base import (
    ChatMessage,
    ChatResponse,
    ConfigurationError,
    FatalModelError,
    GenerationParams,
    ModelError,
    RetryableModelError,
)
from chatanime.backends.openai_compat import error_detail
from chatanime.backends.retry import parse_retry_after

DEFAULT_MAX_TOKENS = 1024
"""The Messages API requires ``max_tokens``; ESRP answers are <= 150 characters."""

RETRYABLE_STATUSES = frozenset({408, 409, 425, 429})


class _Block(BaseModel):
    type: str
    text: str | None = None


class _Usage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0


class _Message(BaseModel):
    model: str | None = None
    content: list[_Block]
    stop_reason: str | None = None
    usage: _Usage | None = None


def _import_sdk(name: str) -> Any:
    try:
        import anthropic
    except ImportError as exc:
        raise ConfigurationError(
            f"Install the Anthropic extra with `pip install chatanime[anthropic]` to use {name}."
        ) from exc
    return anthropic


class AnthropicModel:
    """A :class:`~chatanime.backends.base.ChatModel` for one Claude model."""

    def __init__(self, name: str, *, model_id: str, api_key: str, base_url: str | None) -> None:
        self._sdk = _import_sdk(name)
        self._name = name
        self.model_id = model_id
        self.base_url = base_url
        self._api_key = api_key
        self._client: Any = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    @property
    def name(self) -> str:
        return self._name

    def _client_for_loop(self) -> Any:
        """One client per event loop: pooled connections cannot cross loops."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            self._client = self._sdk.AsyncAnthropic(
                api_key=self._api_key, base_url=self.base_url, max_retries=0
            )
            self._client_loop = loop
        return self._client

    async def chat(self, messages: Sequence[ChatMessage], params: GenerationParams) -> ChatResponse:
        """One Messages API call; every failure is raised as a ``ModelError``."""
        client = self._client_for_loop()
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        turns = [{"role": m.role, "content": m.content} for m in messages if m.role != "system"]
        extra: dict[str, Any] = {}
        if system:
            extra["system"] = system
        sampling = {"temperature": params.temperature, "top_p": params.top_p}
        body = {key: value for key, value in sampling.items() if value is not None}
        started = time.perf_counter()
        try:
            raw = await client.messages.with_raw_response.create(
                model=self.model_id,
                messages=turns,
                max_tokens=params.max_tokens or DEFAULT_MAX_TOKENS,
                timeout=params.timeout_s,
                extra_body=body or None,
                **extra,
            )
            content: bytes = await raw.read()
        except self._sdk.AnthropicError as exc:
            raise self._map_error(exc, params) from exc
        return self._parse(content, time.perf_counter() - started)

    def _parse(self, content: bytes, latency: float) -> ChatResponse:
        try:
            message = _Message.model_validate(json.loads(content))
        except (ValueError, ValidationError) as exc:
            raise RetryableModelError(f"{self.name}: unparseable response body") from exc
        texts = [block.text for block in message.content if block.type == "text" and block.text]
        if not texts:
            raise RetryableModelError(f"{self.name}: response has no text content")
        usage = message.usage or _Usage()
        return ChatResponse(
            text="".join(texts),
            model=message.model or self.model_id,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            latency_s=latency,
            finish_reason=message.stop_reason,
        )

    def _map_error(self, exc: Exception, params: GenerationParams) -> ModelError:
        sdk = self._sdk
        if isinstance(exc, sdk.APITimeoutError):
            return RetryableModelError(f"{self.name}: no answer within {params.timeout_s:g} s")
        if isinstance(exc, sdk.APIConnectionError):
            return RetryableModelError(f"{self.name}: connection failed ({exc.message})")
        if isinstance(exc, sdk.APIStatusError):
            status: int = exc.status_code
            message = f"{self.name}: HTTP {status}: {error_detail(exc.body, exc.message)}"
            if status in RETRYABLE_STATUSES or status >= 500:
                retry_after = parse_retry_after(exc.response.headers)
                return RetryableModelError(message, retry_after=retry_after)
            return FatalModelError(message)
        if isinstance(exc, sdk.APIResponseValidationError):
            return RetryableModelError(f"{self.name}: invalid response ({exc.message})")
        return FatalModelError(f"{self.name}: {exc}")
