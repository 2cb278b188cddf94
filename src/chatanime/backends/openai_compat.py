"""Adapter for every server that speaks OpenAI chat-completions (most of the study's LLMs).

The SDK's own retries are switched off (``max_retries=0``): retrying is the job of
:class:`~chatanime.backends.retry.RetryingModel`, and two retry loops stacked on
each other would multiply paid calls. The body is parsed here, strictly, instead
of trusting the SDK's lenient model construction, so a truncated or schema-breaking
reply becomes a retryable error rather than an empty answer stored as a result.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from typing import Any

import openai
from pydantic import BaseModel, ValidationError

from chatanime.backends.base import (
    ChatMessage,
    ChatResponse,
    FatalModelError,
    GenerationParams,
    ModelError,
    RetryableModelError,
)
from chatanime.backends.retry import parse_retry_after

# Statuses a later attempt can fix: request timeout, conflict, too early, rate limit, 5xx.
RETRYABLE_STATUSES = frozenset({408, 409, 425, 429})


class _Message(BaseModel):
    content: str | None = None


class _Choice(BaseModel):
    message: _Message
    finish_reason: str | None = None


class _Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class _Completion(BaseModel):
    model: str | None = None
    choices: list[_Choice]
    usage: _Usage | None = None


def _http_client() -> openai.DefaultAsyncHttpxClient | None:
    """The SDK's aiohttp transport when installed (the ``openai[aiohttp]`` extra).

    At 64+ concurrent calls on a small machine the client's HTTP stack, not the
    network, bounds throughput; aiohttp costs far less CPU per request than
    httpx's default transport. Falls back to the SDK default otherwise.
    """
    try:
        return openai.DefaultAioHttpClient()
    except RuntimeError:
        return None


class OpenAICompatModel:
    """A ``ChatModel`` for one model on one OpenAI-compatible server."""

    def __init__(self, name: str, *, model_id: str, base_url: str, api_key: str) -> None:
        self._name = name
        self.model_id = model_id
        self.base_url = base_url
        self._api_key = api_key
        self._client: openai.AsyncOpenAI | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    @property
    def name(self) -> str:
        return self._name

    def _client_for_loop(self) -> openai.AsyncOpenAI:
        """One client per event loop: pooled connections cannot cross loops."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            self._client = openai.AsyncOpenAI(
                api_key=self._api_key,
                base_url=self.base_url,
                max_retries=0,
                http_client=_http_client(),
            )
            self._client_loop = loop
        return self._client

    async def aclose(self) -> None:
        """Close pooled connections (optional; the pool is also dropped with the model)."""
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def chat(self, messages: Sequence[ChatMessage], params: GenerationParams) -> ChatResponse:
        """One chat-completions call; every failure is raised as a ``ModelError``."""
        client = self._client_for_loop()
        started = time.perf_counter()
        body = {
            "model": self.model_id,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            **_sampling(params),
        }
        try:
            # The SDK's documented raw route: same auth, errors and timeouts as
            # chat.completions.create, without re-validating our already-typed request
            # (that transform is most of the SDK's CPU per call at 64+ in flight).
            content = await client.post(
                "/chat/completions", body=body, cast_to=bytes, options={"timeout": params.timeout_s}
            )
        except openai.OpenAIError as exc:
            raise self._map_error(exc, params) from exc
        latency = time.perf_counter() - started
        return self._parse(content, latency)

    def _parse(self, content: bytes, latency: float) -> ChatResponse:
        try:
            completion = _Completion.model_validate(json.loads(content))
        except (ValueError, ValidationError) as exc:
            raise RetryableModelError(f"{self.name}: unparseable response body") from exc
        if not completion.choices:
            raise RetryableModelError(f"{self.name}: response has no choices")
        choice = completion.choices[0]
        if choice.message.content is None:
            raise RetryableModelError(f"{self.name}: response has no message content")
        usage = completion.usage or _Usage()
        return ChatResponse(
            text=choice.message.content,
            model=completion.model or self.model_id,
            input_tokens=usage.prompt_tokens,
            output_tokens=usage.completion_tokens,
            latency_s=latency,
            finish_reason=choice.finish_reason,
        )

    def _map_error(self, exc: openai.OpenAIError, params: GenerationParams) -> ModelError:
        if isinstance(exc, openai.APITimeoutError):
            return RetryableModelError(f"{self.name}: no answer within {params.timeout_s:g} s")
        if isinstance(exc, openai.APIConnectionError):
            return RetryableModelError(f"{self.name}: connection failed ({exc.message})")
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            message = f"{self.name}: HTTP {status}: {error_detail(exc.body, exc.message)}"
            if status in RETRYABLE_STATUSES or status >= 500:
                retry_after = parse_retry_after(exc.response.headers)
                return RetryableModelError(message, retry_after=retry_after)
            return FatalModelError(message)
        if isinstance(exc, openai.APIResponseValidationError):
            return RetryableModelError(f"{self.name}: invalid response ({exc.message})")
        return FatalModelError(f"{self.name}: {exc}")


def _sampling(params: GenerationParams) -> dict[str, Any]:
    """Only the options the caller set: some servers reject parameters they do not know."""
    values = {
        "temperature": params.temperature,
        "top_p": params.top_p,
        "max_tokens": params.max_tokens,
        "seed": params.seed,
    }
    return {key: value for key, value in values.items() if value is not None}


def error_detail(body: object, fallback: str) -> str:
    """The server's own error message (``{"error": {"message": ...}}``), else the SDK's."""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
    return fallback
