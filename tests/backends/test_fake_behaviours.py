"""The rule-based fake models, on the project's real prompts."""

from __future__ import annotations

import pytest

from chatanime.backends.base import ChatMessage
from chatanime.backends.fake_behaviours import (
    FakeRequest,
    actor,
    actor_name,
    character_answer,
    echo,
    find_behaviour,
    length_units,
    register_behaviour,
    user_sim,
)
from chatanime.prompts import load_prompt
from chatanime.simulator import UserTurnRules, check_user_turn

QUESTIONS = [
    "最近考试压力好大，晚上总是睡不着，怎么办？",
    "老板又当众批评我了，我觉得自己什么都做不好。",
    "接的单子被客户退回来三次了，我是不是不适合这一行？",
    "店里这个月又亏了，我不知道还要不要坚持下去。",
    "和最好的朋友吵架了，现在谁也不理谁。",
    "面试又失败了，已经是第五次了。",
]
ANSWER_R1 = "别灰心！我也失败过很多次，但只要还活着就能重新开始。先吃顿好的，明天再出发吧！"


def req(model: str, *messages: tuple[str, str], seed: int | None = None) -> FakeRequest:
    msgs = tuple(ChatMessage(role=r, content=c) for r, c in messages)  # type: ignore[arg-type]
    return FakeRequest(model, msgs, {"seed": seed} if seed is not None else {})


def zh_system() -> str:
    prompt = load_prompt("roleplay", "zh")
    return prompt.render(character="蒙奇·D·路飞", work="海贼王", answer_limit=150)


def en_system() -> str:
    prompt = load_prompt("roleplay", "en")
    return prompt.render(character="Monkey D. Luffy", work="One Piece", answer_limit=150)


def test_actor_name_extraction() -> None:
    assert actor_name(zh_system()) == "蒙奇·D·路飞"
    assert actor_name(en_system()) == "Monkey D. Luffy"
    assert actor_name("你是路飞。") == "路飞"
    assert actor_name("no persona here") is None


def test_actor_answers_in_character_within_150_chars() -> None:
    for question in QUESTIONS:
        text = actor(req("fake/actor", ("system", zh_system()), ("user", question)))
        assert len(text) <= 150
        assert "蒙奇·D·路飞" in text
        assert question[:4] in text  # reacts to what the user said


def test_actor_speaks_english_to_an_english_prompt() -> None:
    text = actor(req("fake/actor", ("system", en_system()), ("user", "I failed my exam again.")))
    assert "Monkey D. Luffy" in text
    assert "I failed my exam again" in text
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in text)
    assert len(text) <= 150


def test_actor_is_deterministic_but_varied() -> None:
    requests = [req("fake/actor", ("system", zh_system()), ("user", q)) for q in QUESTIONS]
    assert [actor(r) for r in requests] == [actor(r) for r in requests]
    seeded = {
        actor(req("fake/actor", ("system", zh_system()), ("user", QUESTIONS[0]), seed=s))
        for s in range(12)
    }
    assert len(seeded) >= 8  # same question, different seeds -> different wording


def user_sim_prompt(language: str) -> str:
    names = {"zh": ("蒙奇·D·路飞", "海贼王"), "en": ("Monkey D. Luffy", "One Piece")}
    character, work = names[language]
    low, high = (90, 110) if language == "zh" else (55, 70)
    situation = (
        {"persona": "学生", "emotion": "焦虑", "location": "宿舍", "daily_event": "考试没考好"}
        if language == "zh"
        else {
            "persona": "student",
            "emotion": "anxious",
            "location": "dorm",
            "daily_event": "failed an exam",
        }
    )
    return load_prompt("user-sim", language).render(
        character=character,
        work=work,
        question_r1=QUESTIONS[0] if language == "zh" else "I failed my exam again.",
        answer_r1=ANSWER_R1 if language == "zh" else "Don't give up! I failed a lot too.",
        length_min=low,
        length_max=high,
        **situation,
    )


@pytest.mark.parametrize("seed", range(8))
def test_user_sim_passes_the_simulator_checks_in_chinese(seed: int) -> None:
    text = user_sim(req("fake/user-sim", ("user", user_sim_prompt("zh")), seed=seed))
    assert text.startswith("蒙奇·D·路飞")  # speaks to the character by name
    assert "别灰心" in text  # reacts to the round-1 answer
    assert text.endswith("？")
    assert 90 <= length_units(text, chinese=True) <= 110
    verdict = check_user_turn(text, names=["蒙奇·D·路飞", "路飞"])
    assert verdict.ok, verdict.reasons


def test_user_sim_passes_the_simulator_checks_in_english() -> None:
    text = user_sim(req("fake/user-sim", ("user", user_sim_prompt("en"))))
    assert text.startswith("Monkey D. Luffy,")
    assert "Don't give up" in text
    assert text.endswith("?")
    assert 55 <= length_units(text, chinese=False) <= 70
    verdict = check_user_turn(text, names=["Luffy"], rules=UserTurnRules.for_language("en"))
    assert verdict.ok, verdict.reasons


def test_user_sim_finds_the_answer_in_an_assistant_message() -> None:
    request = req(
        "fake/user-sim",
        ("system", "你在和路飞聊天。"),
        ("user", QUESTIONS[0]),
        ("assistant", ANSWER_R1),
    )
    assert character_answer(request) == ANSWER_R1
    assert user_sim(request).startswith("路飞，")


def test_echo_repeats_the_last_user_message() -> None:
    request = req("fake/echo", ("user", "first"), ("assistant", "x"), ("user", "second"))
    assert echo(request) == "second"


def test_registry_exact_names_and_families() -> None:
    def plain(_: FakeRequest) -> str:
        return "plain"

    def family(_: FakeRequest) -> str:
        return "family"

    register_behaviour("test-fam-*", family, replace=True)
    register_behaviour("test-fam-exact", plain, replace=True)
    assert find_behaviour("fake/test-fam-lenient") is family
    assert find_behaviour("test-fam-exact") is plain
    assert find_behaviour("fake/test-other") is None
    with pytest.raises(ValueError, match="already registered"):
        register_behaviour("test-fam-exact", family)
