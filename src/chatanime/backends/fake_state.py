"""The fake server's configuration, scripted replies and bookkeeping (no I/O).

Kept apart from the HTTP side so the rules of the fake — which reply comes next,
what counts as a repeated paid call, what the stats report — read and test on
their own.
"""

from __future__ import annotations

import random
import threading
from collections import Counter, defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from chatanime.backends.fake_behaviours import FAKE_PREFIX
from chatanime.backends.fake_faults import FAULTS as FAULTS
from chatanime.backends.fake_faults import Fault as Fault


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
    answered: set[bytes] = field(default_factory=set)
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

    def pop_script(self, model: str) -> Reply | None:
        """The next scripted reply for ``model`` (its own queue first, then ``"*"``)."""
        with self.lock:
            for key in (model, "*"):
                if self.scripts.get(key):
                    return self.scripts[key].popleft()
            return None

    def random_fault(self) -> Reply | None:
        """A fault drawn at ``fault_rate`` from ``faults`` (seeded), else ``None``."""
        cfg = self.config
        with self.lock:
            if cfg.fault_rate > 0 and cfg.faults and self.rng.random() < cfg.fault_rate:
                return Reply.model_validate({"fault": self.rng.choice(cfg.faults)})
            return None

    def enter(self) -> None:
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def record(self, model: str, outcome: str, request_key: bytes | None = None) -> None:
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
