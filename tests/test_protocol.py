"""The ESRP protocol: actor prompts, round messages, answer limits (fake server for calls)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chatanime.backends.fake_server import FakeServer
from chatanime.backends.registry import get_model
from chatanime.backends.retry import RetryPolicy
from chatanime.benchmark import load_benchmark
from chatanime.characters import get_character
from chatanime.protocol import (
    EsrpProtocol,
    actor_prompt,
    actor_system_prompt,
    over_limit,
    round1_messages,
    round2_messages,
)
from chatanime.runner import CallContext, RunOptions, RunSpec, RunSummary, run_units
from chatanime.simulator import UserSimulator
from chatanime.store import open_store

ZH = load_benchmark("chatanime")
EN = load_benchmark("chatanime-en")
LUFFY = get_character("luffy")


def test_zh_actor_prompt_is_the_study_prompt_with_the_limit() -> None:
    text = actor_system_prompt(ZH, LUFFY)
    assert text.startswith("你是《海贼王》的蒙奇·D·路飞，是用户的好朋友，致力于")
    assert "情感支持" in text and "不超过150个字" in text
    assert "角色卡" not in text


def test_en_actor_prompt_begins_like_the_study() -> None:
    text = actor_system_prompt(EN, LUFFY)
    assert text.startswith(
        "You are Monkey D. Luffy, a good friend of the user, dedicated to offering a wonderful "
        "experience of emotional support while maintaining your distinctive knowledge"
    )
    assert f"within {EN.answer_limit} words" in text


@pytest.mark.parametrize("bench", [ZH, EN], ids=["zh", "en"])
def test_card_variant_quotes_the_card(bench: Any) -> None:
    card = LUFFY.card(bench.language)
    text = actor_system_prompt(bench, LUFFY, card=True)
    for part in (
        card.personality,
        card.speech_style.tone,
        *card.experiences,
        *card.behavioural_habits,
    ):
        assert part.strip() in text
    assert card.speech_style.catchphrases[0] in text
    plain, with_card = actor_prompt(bench.language), actor_prompt(bench.language, card=True)
    assert plain.ref != with_card.ref


def test_round2_is_a_multi_turn_chat() -> None:
    messages = round2_messages("SYS", "q1", "a1", "q2")
    assert [(m.role, m.content) for m in messages] == [
        ("system", "SYS"),
        ("user", "q1"),
        ("assistant", "a1"),
        ("user", "q2"),
    ]
    assert round1_messages("SYS", "q1") == messages[:2]


def test_over_limit_counts_characters_or_words() -> None:
    assert not over_limit("字" * 150, 150, "zh")
    assert over_limit("字" * 151, 150, "zh")
    assert not over_limit(" ".join(["word"] * 100), 100, "en")
    assert over_limit(" ".join(["word"] * 101), 100, "en")


@dataclass
class OneDialogue:
    """A runner unit around one protocol run (what generation does, minus storage)."""

    protocol: EsrpProtocol
    scenario: int = 1
    id: str = "d"

    async def run(self, ctx: CallContext) -> dict[str, Any]:
        outcome = await self.protocol.run(ctx, LUFFY, ZH.scenario(self.scenario))
        return outcome.model_dump(mode="json")


@pytest.fixture
def server(fake_server: FakeServer) -> FakeServer:
    """The shared fake server of tests/plugins/fake.py (reset for each test)."""
    return fake_server


async def run_one(tmp_path: Path, server: FakeServer, protocol: EsrpProtocol) -> RunSummary:
    store = open_store(str(tmp_path / "s.db"))
    options = RunOptions(progress=False, retry=RetryPolicy(base_delay=0.01))
    summary = await run_units(
        store,
        RunSpec("test", "p", {}),
        [OneDialogue(protocol)],
        models=lambda n: get_model(n, base_url=server.base_url),
        options=options,
    )
    store.dispose()
    return summary


def protocol(retry_over_limit: int = 0) -> EsrpProtocol:
    return EsrpProtocol(
        actor="fake/actor",
        simulator=UserSimulator("fake/user-sim", "zh"),
        benchmark=ZH,
        retry_over_limit=retry_over_limit,
    )


async def test_two_rounds_through_the_fake_server(tmp_path: Path, server: FakeServer) -> None:
    summary = await run_one(tmp_path, server, protocol())
    result = summary.results["d"]
    assert result["q1"] == ZH.scenario(1).question_r1
    assert result["a1"] and result["a2"] and result["q2"].endswith("？")
    assert result["sources"] == {
        "q1": "release",
        "a1": "model:fake/actor",
        "q2": "user-sim:fake/user-sim",
        "a2": "model:fake/actor",
    }
    assert result["over_limit_rounds"] == [] and result["usersim_attempts"] == 1
    assert server.stats()["requests_by_model"] == {"fake/actor": 2, "fake/user-sim": 1}


async def test_long_answer_is_kept_and_counted(tmp_path: Path, server: FakeServer) -> None:
    server.script("fake/actor", [{"text": "好" * 180}])
    result = (await run_one(tmp_path, server, protocol())).results["d"]
    assert result["a1"] == "好" * 180
    assert result["over_limit_rounds"] == [1] and result["actor_attempts"] == [1, 1]


async def test_retry_over_limit_re_asks(tmp_path: Path, server: FakeServer) -> None:
    server.script("fake/actor", [{"text": "好" * 180}, {"text": "好" * 120}])
    result = (await run_one(tmp_path, server, protocol(retry_over_limit=2))).results["d"]
    assert result["a1"] == "好" * 120
    assert result["over_limit_rounds"] == [] and result["actor_attempts"] == [2, 1]


async def test_when_every_retry_is_long_the_shortest_is_kept(
    tmp_path: Path, server: FakeServer
) -> None:
    server.script("fake/actor", [{"text": "好" * 190}, {"text": "好" * 160}])
    result = (await run_one(tmp_path, server, protocol(retry_over_limit=1))).results["d"]
    assert result["a1"] == "好" * 160
    assert result["over_limit_rounds"] == [1] and result["actor_attempts"] == [2, 1]
