"""Helpers of the annotation tests: synthetic dialogues, a study factory, a live server."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import httpx

from chatanime.annotate.study import CreatedStudy, StudySpec, create_study
from chatanime.dialogue import Dialogue
from chatanime.store import Store

SYSTEMS = ("human", "gpt-4.1", "deepseek-v3")
CHARACTERS = ("luffy", "naruto")
HOSTILE = '<script>alert("x")</script> & <b>bold</b>'
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')
ITEM_FIELD = re.compile(r'name="item" value="([^"]+)"')
METRIC_FIELD = re.compile(r'name="m_([a-z_]+)" value="1"')


def synthetic_dialogues(
    systems: tuple[str, ...] = SYSTEMS, characters: tuple[str, ...] = CHARACTERS, n: int = 6
) -> list[Dialogue]:
    """Distinguishable dialogues; scenario 2 of gpt-4.1 carries markup that must stay text."""
    out = []
    for system in systems:
        for character in characters:
            for scenario in range(1, n + 1):
                a1 = f"{character}对场景{scenario}的第一次回答（{system[:1]}{scenario}）"
                if system == "gpt-4.1" and scenario == 2:
                    a1 = HOSTILE
                out.append(
                    Dialogue(
                        system=system,
                        character=character,
                        scenario=scenario,
                        q1=f"用户的问题{scenario}",
                        a1=a1,
                        q2=f"追问{scenario}",
                        a2=f"第二轮回答{scenario}·{character}",
                    )
                )
    return out


def make_study(
    store: Store,
    annotators: tuple[str, ...] = ("alice", "bob", "carol"),
    *,
    name: str = "pilot",
    scenarios: tuple[int, ...] = (1, 2, 3),
    overlap: int = 2,
    diversity_sets: int = 1,
    systems: tuple[str, ...] = SYSTEMS,
    characters: tuple[str, ...] = CHARACTERS,
    seed: int = 7,
    dialogues: list[Dialogue] | None = None,
) -> CreatedStudy:
    spec = StudySpec(
        name=name,
        systems=systems,
        characters=characters,
        scenarios=scenarios,
        annotators=annotators,
        overlap=overlap,
        diversity_sets=diversity_sets,
        diversity_n=3,
        seed=seed,
    )
    source = (
        dialogues
        if dialogues is not None
        else synthetic_dialogues(systems, characters, max(scenarios))
    )
    return create_study(store, spec, source)


def release_dialogues(release_dir: Path) -> list[Dialogue]:
    """Real dialogues of the default study selection, with gpt-4.1/luffy/2 made hostile."""
    from chatanime.corpus import load_corpus

    corpus = load_corpus(release_dir, download=False).filter(
        systems=list(SYSTEMS), characters=list(CHARACTERS), scenarios=[1, 2, 3]
    )
    return [
        d.model_copy(update={"a1": HOSTILE})
        if (d.system, d.character, d.scenario) == ("gpt-4.1", "luffy", 2)
        else d
        for d in corpus.dialogues
    ]


def form_fields(html: str) -> tuple[str, str, list[str]]:
    """(csrf, item id, metric ids) of a task page."""
    csrf = CSRF_FIELD.search(html)
    item = ITEM_FIELD.search(html)
    assert csrf and item, "task page without csrf/item fields"
    return csrf.group(1), item.group(1), METRIC_FIELD.findall(html)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    """``chatanime.annotate.app.serve`` in a subprocess on a free loopback port."""

    store_url: str
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serve_options(self) -> str:
        """Extra keyword arguments of ``serve`` (Python source), for subclasses."""
        return ""

    def start(self, timeout: float = 30.0) -> Self:
        code = (
            "from chatanime.annotate.app import serve; "
            f"serve({self.store_url!r}, host='127.0.0.1', port={self.port}{self.serve_options()})"
        )
        log = self.log_path.open("ab")
        self.process = subprocess.Popen([sys.executable, "-c", code], stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(self.base_url + "/", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("server did not start in time")

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flushing: what a crash looks like."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")
