"""The one seam every model call goes through.

Providers (OpenAI-compatible servers, Anthropic, the fake server) implement
:class:`ChatModel`; retry, rate limiting and caching are *wrappers* around a
``ChatModel`` so that a provider adapter never grows policy code (the inspect_ai
split between provider and generate loop).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "user", "assistant"]


class ChatMessage(BaseModel):
    """One message of a chat-completions conversation."""

    model_config = ConfigDict(frozen=True)

    role: Role
    content: str


class GenerationParams(BaseModel):
    """Sampling options; recorded with every run so results can be reproduced."""

    model_config = ConfigDict(frozen=True)

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    timeout_s: float = Field(default=60.0, gt=0)


class ChatResponse(BaseModel):
    """What a provider returned, with the accounting the runner records."""

    text: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    latency_s: float = 0.0
    finish_reason: str | None = None
    attempts: int = Field(default=1, ge=1)
    """Calls it took to get this answer (set by the retry wrapper): failed attempts cost too."""


class ModelError(Exception):
    """A call failed; ``retryable`` tells the retry wrapper whether to try again."""

    retryable: bool = False

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RetryableModelError(ModelError):
    """429, 5xx, timeouts, dropped connections, malformed bodies: worth another try."""

    retryable = True


class FatalModelError(ModelError):
    """Authentication, bad request, unknown model: retrying cannot help."""

    retryable = False


class ConfigurationError(Exception):
    """The user must change something (a missing API key, an unknown provider).

    The message is one sentence meant to be printed as-is by the CLI.
    """


@runtime_checkable
class ChatModel(Protocol):
    """An async chat model named ``provider/model``."""

    @property
    def name(self) -> str: ...

    async def chat(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> ChatResponse: ...
