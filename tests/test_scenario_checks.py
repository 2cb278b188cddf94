"""Scenario checks: lenient parsing, reason codes, and which names a scenario may not use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatanime.benchmark import load_benchmark
from chatanime.characters import builtin_characters, get_character
from chatanime.scenario_checks import (
    Candidate,
    ScenarioProblem,
    ScenarioRules,
    check_scenario,
    find_names,
    forbidden_names,
    parse_candidate,
)

P = ScenarioProblem
EXAMPLE = Path(__file__).resolve().parent.parent / (
    "src/chatanime/data/benchmarks/examples/original-character"
)
ZH_NAMES = forbidden_names([get_character("luffy"), get_character("madoka")])
ZH_RULES = ScenarioRules.for_language("zh")
EN_RULES = ScenarioRules.for_language("en")
ZH_EVENT = "用户在图书馆复习时发现期末考试提前了一周，很担心复习不完。"
ZH_LINE = "唉，期末考试突然提前了一周，我还有三门课没复习，你说我该怎么办呀？"
EN_EVENT = "The user found out at the library that the final exam was moved a week earlier."
EN_LINE = "My final got moved up a whole week and I still have three classes to review. Help?"


# ---------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    "text",
    [
        json.dumps({"daily_event": "e", "question_r1": "q"}),
        '```json\n{"daily_event": "e", "question_r1": "q"}\n```',
        'Sure! Here it is:\n{"daily_event": "e", "question_r1": "q"}\nHope it helps.',
        '好的：{"note": 1} 然后 {"daily_event": "e", "question_r1": "q"}',
        '[{"daily_event": "e", "question_r1": "q"}]',
    ],
)
def test_parse_candidate_is_lenient(text: str) -> None:
    assert parse_candidate(text) == Candidate(daily_event="e", question_r1="q")


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("just prose, no braces", "no JSON object"),
        ('{"daily_event": "e"', "no JSON object"),
        ('{"daily_event": "e", "question": "q"}', "lacks string fields"),
        ('{"daily_event": "e", "question_r1": 3}', "lacks string fields"),
    ],
)
def test_parse_candidate_errors(text: str, error: str) -> None:
    result = parse_candidate(text)
    assert isinstance(result, str) and error in result


# ---------------------------------------------------------------- checks


def verdict(event: str, line: str, rules: ScenarioRules = ZH_RULES) -> set[ScenarioProblem]:
    candidate = Candidate(daily_event=event, question_r1=line)
    return set(check_scenario(candidate, rules=rules, names=ZH_NAMES).problems)


@pytest.mark.parametrize(
    ("event", "line", "rules", "expected"),
    [
        (ZH_EVENT, ZH_LINE, ZH_RULES, set()),
        (EN_EVENT, EN_LINE, EN_RULES, set()),
        # no pronoun, but spoken (a particle): Chinese users drop pronouns
        (ZH_EVENT, "唉，期末考试突然提前了一周，还有三门课没复习，这可怎么办啊", ZH_RULES, set()),
        ("", ZH_LINE, ZH_RULES, {P.EMPTY}),
        (ZH_EVENT, "   ", ZH_RULES, {P.EMPTY}),
        (ZH_EVENT, EN_LINE, ZH_RULES, {P.WRONG_LANGUAGE}),
        (
            ZH_EVENT,
            "今日は試験が一週間早まった、どうしよう！私は本当に困っている",
            ZH_RULES,
            {P.WRONG_LANGUAGE},
        ),
        (
            EN_EVENT,
            "I just failed 考试 again and I feel awful, what do I do?",
            EN_RULES,
            {P.WRONG_LANGUAGE},
        ),
        (
            EN_EVENT,
            "I failed my exam（again）and feel awful, what now?",
            EN_RULES,
            {P.WRONG_LANGUAGE},
        ),
        (ZH_EVENT, "我好烦啊！", ZH_RULES, {P.TOO_SHORT}),
        (ZH_EVENT, ZH_LINE * 5, ZH_RULES, {P.TOO_LONG}),
        (EN_EVENT, "I am sad.", EN_RULES, {P.TOO_SHORT}),
        (EN_EVENT, EN_LINE + " I keep thinking about it" * 20, EN_RULES, {P.TOO_LONG}),
        (
            ZH_EVENT,
            "用户今天在图书馆得知期末考试提前了一周，感到非常担忧。",
            ZH_RULES,
            {P.NOT_USER_VOICE},
        ),
        (
            ZH_EVENT,
            "她今天在图书馆得知期末考试提前了一周，感到非常担忧。",
            ZH_RULES,
            {P.NOT_USER_VOICE},
        ),
        (
            ZH_EVENT,
            "期末考试提前了一周，三门课没有复习，时间非常紧张。",
            ZH_RULES,
            {P.NOT_USER_VOICE},
        ),
        (
            EN_EVENT,
            "The user learns the exam moved up and feels worried about it.",
            EN_RULES,
            {P.NOT_USER_VOICE},
        ),
        (
            EN_EVENT,
            "The exam moved up a week and three classes still need review.",
            EN_RULES,
            {P.NOT_USER_VOICE},
        ),
        (ZH_EVENT, "开场白：" + ZH_LINE, ZH_RULES, {P.META}),
        (ZH_EVENT, "作为AI，我觉得" + ZH_LINE, ZH_RULES, {P.META}),
        (ZH_EVENT, "我是行政助手，" + ZH_LINE, ZH_RULES, set()),
        (ZH_EVENT, "我是AI工程师，" + ZH_LINE, ZH_RULES, set()),
        (ZH_EVENT, "“" + ZH_LINE + "”", ZH_RULES, {P.META}),
        (EN_EVENT, "Opening line: " + EN_LINE, EN_RULES, {P.META}),
        (EN_EVENT, '{"question_r1": "' + EN_LINE + '"}', EN_RULES, {P.META}),
        (ZH_EVENT, "路飞，" + ZH_LINE, ZH_RULES, {P.NAMES_CHARACTER}),
        (ZH_EVENT, ZH_LINE + "要是小圆在就好了。", ZH_RULES, {P.NAMES_CHARACTER}),
        ("用户跟蒙奇·D·路飞说考试提前了一周，很担心。", ZH_LINE, ZH_RULES, {P.NAMES_CHARACTER}),
        (EN_EVENT, "Luffy, " + EN_LINE, EN_RULES, {P.NAMES_CHARACTER}),
        (EN_EVENT, EN_LINE + " What would Madoka's friends say?", EN_RULES, {P.NAMES_CHARACTER}),
    ],
)
def test_check_scenario_reasons(
    event: str, line: str, rules: ScenarioRules, expected: set[ScenarioProblem]
) -> None:
    assert verdict(event, line, rules) == expected


def test_reasons_name_the_field_and_detail() -> None:
    candidate = Candidate(daily_event=ZH_EVENT, question_r1="路飞，" + ZH_LINE)
    result = check_scenario(candidate, rules=ZH_RULES, names=ZH_NAMES)
    assert not result.ok
    assert result.reasons == ("question_r1 names '路飞'",)


def test_everyday_forms_of_address_are_not_names() -> None:
    names = forbidden_names(builtin_characters())
    for name in ("路飞", "蒙奇·D·路飞", "Luffy", "草帽路飞", "Madoka", "小圆", "Saber", "Artoria"):
        assert name in names
    for word in (
        "船长",
        "Captain",
        "妈妈",
        "Mama",
        "哥哥",
        "助手",
        "Assistant",
        "圆",
        "悟",
        "shorty",
    ):
        assert word not in names
    hana = load_benchmark(EXAMPLE).character("hana")
    assert {"朝日花", "Hana", "Asahi", "Hana Asahi", "Boss Hana"} <= set(forbidden_names([hana]))


def test_latin_names_match_whole_words_only() -> None:
    names = ("Hana", "Rem")
    assert find_names("I met Hana's cousin", names) == ["Hana"]
    assert find_names("Hanamura station and REM sleep", names) == []
    assert find_names("蒙奇·D·路飞来了", ("蒙奇·D·路飞", "路飞")) == ["蒙奇·D·路飞"]


@pytest.mark.parametrize("name", ["chatanime", "chatanime-en"])
def test_builtin_scenarios_pass_the_checks(name: str) -> None:
    """Real, human-checked scenarios must not be rejected (no false positives)."""
    bench = load_benchmark(name)
    names = forbidden_names(bench.characters)
    rules = ScenarioRules.for_language(bench.language)
    for scenario in bench.scenarios:
        candidate = Candidate(daily_event=scenario.daily_event, question_r1=scenario.question_r1)
        assert check_scenario(candidate, rules=rules, names=names).reasons == (), scenario.id
