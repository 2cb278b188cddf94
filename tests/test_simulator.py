"""The user simulator's output check and prompt (pure; no model calls)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatanime.benchmark import load_benchmark
from chatanime.characters import character_by_key, get_character
from chatanime.errors import DataError
from chatanime.prompts import load_prompt
from chatanime.simulator import (
    UserSimulator,
    UserTurnProblem,
    UserTurnRules,
    character_names,
    check_user_turn,
    text_length,
)

LUFFY = get_character("luffy")
NAMES = character_names(LUFFY)

GOOD = [
    # real round-2 questions of the release (deepseek-v3.json, human.json)
    "谢谢你的鼓励，路飞！你每次遇到挑战都很乐观，真的让我有点受鼓舞。只是我总觉得自己一开口就很尴尬，"
    "怕被同学笑话。下课想去找同桌一起练习口语，但又怕开不了口。你当初第一次用新招式的时候，会紧张吗？",
    "路飞你说得倒是轻松，风暴来了还能冒险，我碰到突击测验只能坐在教室里背书，哪里都去不了。说真的，"
    "你每次遇到危险都这么乐观吗？你难道就不会因为计划被打乱而生气吗？",
    # a question followed by one short closing sentence (31 release turns look like this)
    "谢谢你，路飞！你的话让我更有动力了。每一次画完复杂的作品，都像打赢一场属于自己的战役。"
    "你在战斗后会怎么庆祝自己的胜利？我通常会给自己泡一杯咖啡。",
    # ends with a question and a decoration
    "哈哈，路飞你还是这么有精神！被你这么一说我也想去吃顿好的了。可是明天还有考试，"
    "我是不是应该先复习完再去奖励自己呢？😊",
    # jobs that merely contain "AI" or "模型" are not AI self-references
    "作为AI产品经理，我每天都要开好几个会，真的很累。路飞，你觉得我应该怎么调整自己的节奏，"
    "才能不被这些会议拖垮呢？",
    "我是模型设计师，最近接了个大单子，客户一直改需求，真的很头疼。路飞你要是遇到这种反复无常的人，"
    "会怎么办呢？",
    "路飞，你这句话我记住了。你说「我是要成为海贼王的男人」的时候，真的一点都不怕失败吗？"
    "我现在连开口问老师问题都会犹豫好久，你觉得我该怎么迈出第一步呢～",
]

BAD = [
    ("", UserTurnProblem.EMPTY),
    ("   \n ", UserTurnProblem.EMPTY),
    (
        "路飞：哈哈，别担心！我当初学霸气的时候也控制不好，只要坚持练习就一定能行！你要相信自己，"
        "多练习口语，肯定能通过的！你觉得呢？",
        UserTurnProblem.AS_CHARACTER,
    ),
    (
        "作为蒙奇·D·路飞，我要告诉你别放弃！我当初在司法岛也是靠着不断尝试才掌握了二档和三档。"
        "你也要相信自己，多练习口语，你觉得怎么样？",
        UserTurnProblem.AS_CHARACTER,
    ),
    (
        "我是路飞！嘻嘻嘻，考试算什么，我们一起去冒险吧！一边冒险一边复习，保证比坐在房间里有趣多了，"
        "你要不要和我一起出发呢？",
        UserTurnProblem.AS_CHARACTER,
    ),
    (
        "<think>用户应该表达感谢并追问</think>谢谢你路飞，你的话让我轻松了不少，可是我还是很担心"
        "口语考试，你当初是怎么克服紧张的呢？",
        UserTurnProblem.META,
    ),
    (
        "以下是用户的第二轮提问：谢谢你路飞，你的话让我轻松了不少，可是我还是很担心口语考试，"
        "你当初是怎么克服紧张的呢？",
        UserTurnProblem.META,
    ),
    (
        "用户：谢谢你路飞，你的话让我轻松了不少，可是我还是很担心口语考试，一想到要开口就紧张，"
        "你当初是怎么克服紧张的呢？",
        UserTurnProblem.META,
    ),
    (
        "作为AI，我无法真正参加考试，但我可以模拟用户的回复：谢谢你路飞，你的话让我轻松了不少，"
        "你当初是怎么克服紧张的呢？",
        UserTurnProblem.META,
    ),
    (
        "“谢谢你路飞，你的话让我轻松了不少，可是我还是很担心口语考试，一想到要开口就紧张得说不出话，"
        "你当初是怎么克服紧张的呢？”",
        UserTurnProblem.META,
    ),
    (
        "Round 2: 谢谢你路飞，你的话让我轻松了不少，可是我还是很担心口语考试，一想到要开口就紧张，"
        "你当初是怎么克服紧张的呢？",
        UserTurnProblem.META,
    ),
    (
        "Sure, here is the user's reply in Chinese as requested by the prompt: 谢谢你路飞，"
        "你的话让我轻松了不少，你当初是怎么克服紧张的呢？",
        UserTurnProblem.META,
    ),
    (
        "谢谢你的鼓励，路飞！你每次遇到挑战都很乐观，真的让我有点受鼓舞。只是我总觉得自己一开口就很尴尬，"
        "怕被同学笑话。下课我想去找同桌一起练习口语。",
        UserTurnProblem.NO_QUESTION,
    ),
    (
        "谢谢你的鼓励，路飞！你会紧张吗？只是我总觉得自己一开口就很尴尬，怕被同学笑话。下课想去找同桌"
        "一起练习口语，但又怕开不了口，感觉自己真的很没用，心里乱糟糟的。",
        UserTurnProblem.NO_QUESTION,
    ),
    ("谢谢你，路飞！你会紧张吗？", UserTurnProblem.TOO_SHORT),
    ("谢谢你，路飞！" + "我真的很紧张，" * 40 + "你会紧张吗？", UserTurnProblem.TOO_LONG),
]


@pytest.mark.parametrize("text", GOOD)
def test_good_user_turns_pass(text: str) -> None:
    verdict = check_user_turn(text, names=NAMES)
    assert verdict.ok, verdict.reasons


@pytest.mark.parametrize(("text", "problem"), BAD)
def test_bad_user_turns_are_rejected_with_reason(text: str, problem: UserTurnProblem) -> None:
    verdict = check_user_turn(text, names=NAMES)
    assert not verdict.ok
    assert problem in verdict.problems
    assert len(verdict.reasons) >= len(verdict.problems)


def test_english_rules_reject_chinese_text_and_count_words() -> None:
    rules = UserTurnRules.for_language("en")
    names = character_names(LUFFY)
    good = (
        "Thanks, Luffy, that actually helps a little. I still freeze up whenever I have to "
        "speak English in front of the class, and my classmates are so much better than me. "
        "Were you ever scared the first time you tried a brand-new technique in a real fight?"
    )
    assert check_user_turn(good, names=names, rules=rules).ok
    mixed = good.replace("Thanks", "谢谢")
    assert UserTurnProblem.META in check_user_turn(mixed, names=names, rules=rules).problems
    as_char = "I'm Luffy! " + good
    assert (
        UserTurnProblem.AS_CHARACTER in check_user_turn(as_char, names=names, rules=rules).problems
    )
    assert text_length("one two three", "en") == 3
    assert text_length("一 二三", "zh") == 3


def test_every_release_round2_question_passes(release_dir: Path) -> None:
    """The check must accept what people actually wrote: all 13,200 round-2 turns."""
    total, rejected = 0, []
    for path in sorted(release_dir.glob("*.json")):
        for key, records in json.loads(path.read_text(encoding="utf-8")).items():
            character = character_by_key(key)
            assert character is not None, key
            names = character_names(character)
            for record in records:
                total += 1
                verdict = check_user_turn(record["question_r2"], names=names)
                if not verdict.ok:
                    rejected.append((path.name, key, record["dialog_id"], verdict.reasons))
    assert total == 13_200
    assert rejected == []


def test_simulator_prompt_holds_scenario_and_round1() -> None:
    bench = load_benchmark("chatanime")
    scenario = bench.scenario(1)
    sim = UserSimulator("fake/user-sim", "zh")
    (message,) = sim.messages(LUFFY, scenario, "别担心啦！")
    assert message.role == "user"
    for part in (scenario.question_r1, scenario.daily_event, scenario.location, "别担心啦！"):
        assert part in message.content
    assert "《海贼王》的蒙奇·D·路飞" in message.content
    assert "90到110" in message.content


def test_prompt_with_a_missing_variable_is_an_error() -> None:
    prompt = load_prompt("user-sim", "zh")
    with pytest.raises(DataError, match="missing variables"):
        prompt.render(character="路飞")


def test_a_retry_names_what_was_wrong() -> None:
    bench = load_benchmark("chatanime")
    sim = UserSimulator("fake/user-sim", "zh")
    first = sim.messages(LUFFY, bench.scenario(1), "别担心啦！")[0].content
    retry = sim.messages(LUFFY, bench.scenario(1), "别担心啦！", [UserTurnProblem.AS_CHARACTER])[
        0
    ].content
    assert "不合格" not in first
    assert retry.startswith(first) and "不合格" in retry and "不要以蒙奇·D·路飞的身份" in retry
    assert "问号结尾" not in retry.removeprefix(first)  # only the named problem
