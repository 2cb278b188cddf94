"""A real OpenAI-compatible HTTP server on loopback, for offline dry runs and tests.

``chatanime fake-server`` (or :class:`FakeServer` in a background thread) answers
``POST /v1/chat/completions`` (non-streaming) and ``GET /v1/models`` with the rule-based
behaviours of :mod:`chatanime.backends.fake_behaviours`, and ``POST /v1/messages`` in
Anthropic's format so that adapter is tested for real too. It is a small asyncio
HTTP/1.1 server with keep-alive rather than an ASGI app because the ``drop`` fault must
really close the TCP connection without a response, and because 64+ slow requests in
flight must cost coroutines, not threads.

Faults (random at ``fault_rate`` from ``faults``, seeded, or scripted):
``429`` (with ``Retry-After``), ``500``, ``503``, ``400``, ``401``, ``timeout`` (answer
only after ``timeout_sleep_s``), ``malformed`` (200 with a truncated JSON body), ``empty``
(200 with no choices), ``drop`` (close the connection without answering).

Control endpoints (JSON):

- ``POST /_fake/script`` ``{"model": "fake/actor" | "*", "responses": [{"fault": "429",
  "retry_after": 1}, {"text": "..."}, {"fault": "timeout", "sleep_s": 2}, ...]}`` queues
  replies consumed in order (the model's queue first, then ``"*"``) before behaviours
  and random faults apply.
- ``GET /_fake/stats``: ``requests``, ``by_model`` (model -> outcome -> count),
  ``by_outcome``, ``repeated_ok`` (successful answers to a request already answered
  successfully: a repeated paid call), ``in_flight``, ``max_in_flight``.
- ``POST /_fake/reset``: forget scripts and stats.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib
import json
import random
import threading
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from chatanime.backends.base import ChatMessage
from chatanime.backends.fake_behaviours import (
    FAKE_PREFIX,
    FakeRequest,
    behaviour_names,
    find_behaviour,
)
from chatanime.pricing import MESSAGE_OVERHEAD_TOKENS, estimate_tokens

Fault = Literal["429", "500", "503", "400", "401", "timeout", "malformed", "empty", "drop"]
FAULTS: tuple[str, ...] = Fault.__args__  # type: ignore[attr-defined]
PLUGIN_MODULES: tuple[str, ...] = ("chatanime.judge.fake_judges",)
"""Modules that register more behaviours, imported when present (the judge's biases)."""
MAX_BODY = 16 * 1024 * 1024


@dataclass(frozen=True)
class FakeServerConfig:
    """Server options; ``port=0`` picks a free port."""

    host: str = "127.0.0.1"
    port: int = 0
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    fault_rate: float = 0.0
    faults: tuple[str, ...] = ("429", "500")
    seed: int = 0
    retry_after_s: float = 1.0
    timeout_sleep_s: float = 30.0
    api_key: str | None = None
    """When set, requests must send ``Authorization: Bearer <api_key>`` (else 401)."""
    plugins: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = sorted(set(self.faults) - set(FAULTS))
        if unknown:
            raise ValueError(f"unknown fault kinds {unknown}; known: {', '.join(FAULTS)}")
        if not 0.0 <= self.fault_rate <= 1.0:
            raise ValueError("fault_rate must be between 0 and 1")


class Reply(BaseModel):
    """One scripted reply: a text, or a fault."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = None
    fault: Fault | None = None
    retry_after: float | None = None
    sleep_s: float | None = None
    finish_reason: str = "stop"

    @model_validator(mode="after")
    def _one_of(self) -> Reply:
        if (self.text is None) == (self.fault is None):
            raise ValueError("a scripted reply has exactly one of 'text' or 'fault'")
        return self


class Script(BaseModel):
    """The body of ``POST /_fake/script``."""

    model: str = "*"
    responses: list[Reply]


def canonical_model(model: str) -> str:
    """``actor`` and ``fake/actor`` are the same fake model."""
    return model if model.startswith(FAKE_PREFIX) or model == "*" else FAKE_PREFIX + model


@dataclass
class FakeState:
    """Scripts and statistics; shared by the server loop and the controlling thread."""

    config: FakeServerConfig
    scripts: dict[str, deque[Reply]] = field(default_factory=lambda: defaultdict(deque))
    by_model: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    answered: set[str] = field(default_factory=set)
    repeated_ok: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.config.seed)

    def script(self, model: str, responses: Sequence[Reply]) -> int:
        with self.lock:
            self.scripts[canonical_model(model)].extend(responses)
            return len(responses)

    def next_reply(self, model: str) -> Reply | None:
        """The next scripted reply, else a random fault (or ``None``: behave normally)."""
        with self.lock:
            for key in (model, "*"):
                if self.scripts.get(key):
                    return self.scripts[key].popleft()
            cfg = self.config
            if cfg.fault_rate > 0 and cfg.faults and self.rng.random() < cfg.fault_rate:
                return Reply(fault=self.rng.choice(cfg.faults))  # type: ignore[arg-type]
            return None

    def record(self, model: str, outcome: str, request_key: str | None = None) -> None:
        with self.lock:
            self.by_model[model][outcome] += 1
            if request_key is not None:
                if request_key in self.answered:
                    self.repeated_ok += 1
                self.answered.add(request_key)

    def stats(self) -> dict[str, Any]:
        with self.lock:
            by_outcome: Counter[str] = Counter()
            for counts in self.by_model.values():
                by_outcome.update(counts)
            return {
                "requests": sum(by_outcome.values()),
                "by_model": {m: dict(c) for m, c in sorted(self.by_model.items())},
                "requests_by_model": {m: sum(c.values()) for m, c in sorted(self.by_model.items())},
                "by_outcome": dict(by_outcome),
                "repeated_ok": self.repeated_ok,
                "in_flight": self.in_flight,
                "max_in_flight": self.max_in_flight,
            }

    def reset(self) -> None:
        with self.lock:
            self.scripts.clear()
            self.by_model.clear()
            self.answered.clear()
            self.repeated_ok = 0
            self.max_in_flight = self.in_flight
            self.rng = random.Random(self.config.seed)


# ---------------------------------------------------------------- HTTP/1.1 wire


class _Drop(Exception):
    """Close the connection without a response."""


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def keep_alive(self) -> bool:
        return self.headers.get("connection", "").lower() != "close"


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(cls, status: int, payload: Any, headers: tuple[tuple[str, str], ...] = ()) -> HttpResponse:
        return cls(status, json.dumps(payload, ensure_ascii=False).encode(), headers)


async def read_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> HttpRequest | None:
    """Parse one request; ``None`` when the client closed the connection between requests."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower()] = value.strip()
    if headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = await _read_chunked(reader)
    else:
        length = int(headers.get("content-length", "0"))
        if length > MAX_BODY:
            raise _Drop
        body = await reader.readexactly(length)
    return HttpRequest(method.upper(), target.split("?", 1)[0], headers, body)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks = bytearray()
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return bytes(chunks)
        chunks += await reader.readexactly(size + 2)
        del chunks[-2:]
        if len(chunks) > MAX_BODY:
            raise _Drop


def encode_response(response: HttpResponse, keep_alive: bool) -> bytes:
    reason = HTTPStatus(response.status).phrase
    lines = [
        f"HTTP/1.1 {response.status} {reason}",
        "Content-Type: application/json",
        f"Content-Length: {len(response.body)}",
        f"Connection: {'keep-alive' if keep_alive else 'close'}",
        *(f"{key}: {value}" for key, value in response.headers),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + response.body
