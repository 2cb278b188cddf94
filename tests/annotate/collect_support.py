"""Helpers of the collection tests: a study factory, page fields, polling, a live server."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chatanime.annotate.collect_quiz import Quiz
from chatanime.annotate.collect_study import (
    CollectSpec,
    CreatedCollection,
    SimulatorSettings,
    create_collection,
)
from chatanime.benchmark import load_benchmark
from chatanime.store import Store
from tests.annotate.support import LiveServer

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
DIALOGUE = re.compile(r'name="dialogue" value="([^"]+)"')
FAST_SIM = SimulatorSettings(
    "fake/user-sim",
    timeout_s=5.0,
    max_retries=3,
    base_delay=0.01,
    max_delay=0.05,
    deadline_s=30.0,
    auto_retries=1,
    auto_retry_after_s=1.0,
)


def make_collection(
    store: Store,
    *,
    name: str = "fans-test",
    characters: tuple[str, ...] = ("luffy", "naruto"),
    scenarios: tuple[int, ...] = (1, 2, 3),
    per_character: int = 1,
    respondents: tuple[tuple[str, str | None], ...] = (),
    limit: int | None = None,
    min_length: int = 1,
    quiz: Quiz | None = None,
    simulator: SimulatorSettings = FAST_SIM,
    benchmark: str = "chatanime",
    seed: int = 3,
) -> CreatedCollection:
    spec = CollectSpec(
        name=name,
        benchmark=load_benchmark(benchmark),
        characters=characters,
        scenarios=scenarios,
        simulator=simulator,
        respondents=respondents,
        per_character=per_character,
        limit=limit,
        min_length=min_length,
        quiz=quiz,
        seed=seed,
    )
    return create_collection(store, spec)


def fields(html: str) -> tuple[str, str]:
    """(csrf, dialogue id) of a dialogue page."""
    csrf, dialogue = CSRF.search(html), DIALOGUE.search(html)
    assert csrf and dialogue, "dialogue page without csrf/dialogue fields"
    return csrf.group(1), dialogue.group(1)


def answer(i: int, round_: int = 1) -> str:
    """A distinguishable in-character answer (well under the 150-character limit)."""
    return f"听好了第{i}号伙伴！这是第{round_}轮：吃饱了饭再想办法，我们一起上吧！"


def wait_status(
    client: Any,
    path: str,
    states: tuple[str, ...] = ("ready",),
    timeout: float = 30.0,
    until: Callable[[dict[str, Any]], bool] | None = None,
) -> dict[str, Any]:
    """Poll ``path/status`` (as the page does) until the state is one of ``states`` (and
    ``until`` holds)."""
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = client.get(f"{path}/status")
        assert response.status_code == 200, response.text
        last = response.json()
        if last["state"] in states and (until is None or until(last)):
            return last
        time.sleep(0.05)
    raise AssertionError(f"status of {path} stayed {last} (wanted {states})")


@dataclass
class CollectServer(LiveServer):
    """The app in a subprocess with a short simulator lease (so a restart resumes quickly)."""

    lease_s: float = 2.0

    def serve_options(self) -> str:
        return f", sim_lease_s={self.lease_s}"
