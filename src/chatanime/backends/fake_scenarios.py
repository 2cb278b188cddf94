"""Fake scenario writers: ``fake/scenario-writer`` and planted bad ones.

``scenario-writer`` answers the ``scenario-writer`` prompt with a JSON scenario
(a daily event and the user's opening line) that passes the checks of
:mod:`chatanime.scenario_checks`: it reads the persona, emotion, location,
variant and length range from the prompt's ``身份：`` / ``Persona:`` style lines,
and sometimes wraps the JSON in a code fence or a sentence of prose, as real
models do. Different variants of one cell get different events.

``scenario-writer-bad-<kind>`` always makes one planted mistake, so every check is
exercised end to end: ``names`` (mentions 路飞 and 小圆 / Luffy and Madoka),
``language`` (answers in the other language), ``long``, ``short``, ``narration``
(third person), ``meta`` (a label before the line), ``json`` (prose, no JSON) and
``repeat`` (the same opening line for every cell, a near-duplicate). Plain
``scenario-writer-bad`` picks a kind (or a good answer) per request. On a re-ask
(the prompt quotes the rejected answer) every bad writer answers well, except
``repeat``, whose answers pass the per-answer checks anyway.

Registered on import; the fake server imports this module as a plugin.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass, replace

from chatanime.backends.fake_behaviours import (
    FakeRequest,
    is_chinese,
    length_units,
    register_behaviour,
)
from chatanime.scenarios import Emotion, Persona

BAD_KINDS = ("names", "language", "long", "short", "narration", "meta", "json", "repeat")
_REASK = re.compile(r"上一次的输出不合格|previous answer was rejected")

# (first-person event for the user's line, third-person event for daily_event)
_ZH_EVENTS: dict[Persona, tuple[str, ...]] = {
    Persona.STUDENT: (
        "期末考试的成绩出来了",
        "小组作业的组员又放我鸽子",
        "我投的实习终于有了回音",
        "社团招新只来了两个人",
        "室友半夜打游戏吵得我睡不着",
        "导师把我的论文初稿退回来了",
    ),
    Persona.OFFICE_WORKER: (
        "老板临时让我周末加班",
        "我熬夜做的方案被同事抢了功劳",
        "年终考评的结果出来了",
        "部门聚餐大家都没叫我",
        "项目汇报被领导当众表扬了",
        "新来的同事什么事都来问我",
    ),
    Persona.FREELANCER: (
        "客户拖了两个月的尾款还没结",
        "一个大品牌主动找我约稿",
        "接的单子改到第八版还不满意",
        "我连续一周没接到新单子",
        "我的作品集被推荐上了首页",
        "截稿日期突然提前了三天",
    ),
    Persona.SELF_EMPLOYED: (
        "这个月的房租又涨了",
        "一位老顾客专门来夸我的手艺",
        "进的一批货全压在仓库卖不出去",
        "隔壁新开了一家一模一样的店",
        "周末的促销活动来了好多人",
        "供应商突然通知我要涨价",
    ),
}
_ZH_FEELINGS: dict[Emotion, tuple[str, ...]] = {
    Emotion.JOY: ("我开心得差点跳起来！", "现在嘴角都压不下去！"),
    Emotion.AFFECTION: ("心里暖暖的，好想抱抱大家。", "我真的好喜欢这种被在乎的感觉。"),
    Emotion.SURPRISE: ("我整个人都愣住了！", "完全没想到事情会变成这样！"),
    Emotion.CONFUSION: ("我真搞不懂到底哪里出了问题。", "我脑子里一团乱麻。"),
    Emotion.ANGER: ("我气得手都在抖！", "凭什么要这样对我！"),
    Emotion.WORRY: ("我心里一直七上八下的。", "越想越担心，晚上都睡不着。"),
    Emotion.LONELINESS: ("身边连个能说话的人都没有。", "突然觉得自己好孤单。"),
    Emotion.SADNESS: ("我难过得想哭。", "心里空落落的，好难受。"),
    Emotion.DISAPPOINTMENT: ("努力了这么久，结果还是这样。", "我本来抱了很大希望的。"),
}
_ZH_OPENERS = ("唉，", "天哪，", "哎，", "跟你说，", "嘿，", "你知道吗，")
_ZH_ASKS = (
    "你说我该怎么办呀？",
    "你觉得我是不是想太多了？",
    "你能陪我聊一会儿吗？",
    "换作是你会怎么做？",
    "我是不是该换个心态呢？",
)
_ZH_FILLERS = (
    "这几天我一直在想这件事。",
    "我也不知道该跟谁说。",
    "其实之前我就有点预感。",
    "回来的路上我一直在发呆。",
    "我都不敢跟家里人说。",
)

_EN_EVENTS: dict[Persona, tuple[tuple[str, str], ...]] = {
    Persona.STUDENT: (
        ("my final exam grades just came out", "the user's final exam grades came out"),
        ("my group project partners bailed on me again", "the user's project group bailed"),
        ("I finally heard back about my internship", "the user heard back about an internship"),
        ("only two people came to our club fair", "only two people came to the user's club fair"),
        ("my roommate gamed until three in the morning", "the user's roommate gamed all night"),
        ("my advisor sent my thesis draft back", "the user's advisor returned a thesis draft"),
    ),
    Persona.OFFICE_WORKER: (
        ("my boss asked me to work this weekend", "the user's boss asked for weekend work"),
        ("a coworker took credit for my proposal", "a coworker took credit for the user's work"),
        ("my yearly review results came in", "the user's yearly review results came in"),
        ("nobody invited me to the team dinner", "the team dinner happened without the user"),
        ("my manager praised my talk in front of everyone", "the user's talk was praised"),
        ("the new hire keeps asking me everything", "a new hire keeps asking the user for help"),
    ),
    Persona.FREELANCER: (
        ("a client still hasn't paid me after two months", "a client has not paid the user"),
        ("a big brand reached out to hire me", "a big brand reached out to the user"),
        ("a client rejected my eighth revision", "a client rejected the user's eighth revision"),
        ("I haven't landed a new gig all week", "the user has had no new gig all week"),
        ("my portfolio got featured on the front page", "the user's portfolio was featured"),
        ("my deadline just moved up by three days", "the user's deadline moved up three days"),
    ),
    Persona.SELF_EMPLOYED: (
        ("my landlord raised the rent again", "the landlord raised the rent of the user's shop"),
        ("a regular came in just to praise my work", "a regular came in to praise the user"),
        ("a whole batch of stock just won't sell", "a batch of the user's stock will not sell"),
        ("a copycat shop opened right next door", "a copycat shop opened next to the user's"),
        ("tons of people showed up for my weekend sale", "the user's weekend sale was crowded"),
        ("my supplier suddenly raised prices", "the user's supplier suddenly raised prices"),
    ),
}
_EN_FEELINGS: dict[Emotion, tuple[str, ...]] = {
    Emotion.JOY: ("I'm so happy I could dance!", "I can't stop smiling right now!"),
    Emotion.AFFECTION: ("It made my heart feel so warm.", "I really love feeling cared about."),
    Emotion.SURPRISE: ("I'm honestly stunned!", "I did not see that coming at all!"),
    Emotion.CONFUSION: ("I really don't get what went wrong.", "My head is all over the place."),
    Emotion.ANGER: ("I'm so mad my hands are shaking!", "Why would anyone treat me like this!"),
    Emotion.WORRY: ("I can't stop worrying about it.", "The more I think, the more anxious I get."),
    Emotion.LONELINESS: ("There's nobody around to talk to.", "I suddenly feel so alone."),
    Emotion.SADNESS: ("I kind of want to cry.", "I just feel empty and sad."),
    Emotion.DISAPPOINTMENT: ("All that effort for this.", "I had such high hopes for it."),
}
_EN_OPENERS = ("Ugh,", "Oh man,", "Guess what,", "Hey,", "Okay so,", "Honestly,")
_EN_ASKS = (
    "What would you do?",
    "Am I overthinking this?",
    "Can you talk with me for a bit?",
    "How do I even deal with this?",
    "Should I just let it go?",
)
_EN_FILLERS = (
    "I've been thinking about it all day.",
    "I don't really know who else to tell.",
    "Part of me kind of saw it coming.",
    "I spent the whole ride home just staring out the window.",
)


def _field(prompt: str, *patterns: str) -> str:
    for pattern in patterns:
        found = re.search(pattern, prompt)
        if found:
            return found.group(1).strip()
    return ""


_PERSONAS = {label: p for p in Persona for label in (p.label_zh, p.label_en, p.value)}
_EMOTIONS = {label: e for e in Emotion for label in (e.label_zh, e.label_en, e.value)}


def _cell_index(*parts: str) -> int:
    return int(hashlib.sha256("|".join(parts).encode()).hexdigest()[:8], 16)


@dataclass(frozen=True)
class _Setting:
    """What the writer prompt asks for."""

    chinese: bool
    persona: Persona
    emotion: Emotion
    location: str
    variant: int
    low: int
    high: int
    reask: bool

    @classmethod
    def of(cls, request: FakeRequest) -> _Setting:
        prompt = "\n".join(m.content for m in request.messages)
        persona = _field(prompt, r"身份：(.+)", r"Persona: (.+)")
        emotion = _field(prompt, r"情绪：(.+)", r"Emotion: (.+)")
        bounds = re.search(r"长度(\d+)到(\d+)个字|Use (\d+) to (\d+) words", prompt)
        numbers = [int(g) for g in (bounds.groups() if bounds else ()) if g]
        low, high = numbers if len(numbers) == 2 else (20, 160)
        return cls(
            chinese=is_chinese(prompt),
            persona=_PERSONAS.get(persona, Persona.STUDENT),
            emotion=_EMOTIONS.get(emotion, Emotion.WORRY),
            location=_field(prompt, r"地点：(.+)", r"Location: (.+)") or "家里",
            variant=int(_field(prompt, r"第(\d+)个", r"Number: (\d+)") or 1),
            low=low,
            high=high,
            reask=_REASK.search(prompt) is not None,
        )

    @property
    def event_index(self) -> int:
        """Variants of one cell take consecutive events, so they never share one."""
        return _cell_index(self.persona, self.emotion, self.location) + self.variant


def _pad(text: str, ask: str, fillers: tuple[str, ...], s: _Setting, rng: random.Random) -> str:
    joiner = "" if s.chinese else " "
    for filler in rng.sample(fillers, len(fillers)):
        if length_units(joiner.join([text, ask]), s.chinese) >= s.low:
            break
        if length_units(joiner.join([text, filler, ask]), s.chinese) <= s.high:
            text = joiner.join([text, filler])
    return joiner.join([text, ask])


def _good_zh(s: _Setting, rng: random.Random) -> dict[str, str]:
    events = _ZH_EVENTS[s.persona]
    event = events[s.event_index % len(events)]
    feeling = rng.choice(_ZH_FEELINGS[s.emotion])
    head = f"{rng.choice(_ZH_OPENERS)}今天在{s.location}，{event}。{feeling}"
    question = _pad(head, rng.choice(_ZH_ASKS), _ZH_FILLERS, s, rng)
    daily = f"用户今天在{s.location}时，{event.replace('我', '用户')}，感到{s.emotion.label_zh}。"
    return {"daily_event": daily, "question_r1": question}


def _place(location: str) -> str:
    bare = location.startswith(("home", "the ", "a ", "my ", "an "))
    return f"at {location}" if bare else f"at the {location}"


def _good_en(s: _Setting, rng: random.Random) -> dict[str, str]:
    events = _EN_EVENTS[s.persona]
    first, third = events[s.event_index % len(events)]
    head = (
        f"{rng.choice(_EN_OPENERS)} I'm {_place(s.location)} and {first}. "
        f"{rng.choice(_EN_FEELINGS[s.emotion])}"
    )
    question = _pad(head, rng.choice(_EN_ASKS), _EN_FILLERS, s, rng)
    daily = f"While {_place(s.location)} today, {third}, and the user feels {s.emotion.value}."
    return {"daily_event": daily[0].upper() + daily[1:], "question_r1": question}


def _good(s: _Setting, rng: random.Random) -> dict[str, str]:
    return _good_zh(s, rng) if s.chinese else _good_en(s, rng)


def _wrap(payload: dict[str, str], rng: random.Random, chinese: bool) -> str:
    """JSON as models send it: bare, in a code fence, or after a line of prose."""
    text = json.dumps(payload, ensure_ascii=False)
    style = rng.randrange(3)
    if style == 1:
        return f"```json\n{text}\n```"
    if style == 2:
        return ("好的，场景如下：\n" if chinese else "Sure! Here it is:\n") + text
    return text


def _planted(kind: str, s: _Setting, rng: random.Random) -> dict[str, str] | str:
    good = _good(s, rng)
    zh = s.chinese
    if kind == "names":
        extra = "要是路飞和小圆在就好了。" if zh else " I wish Luffy and Madoka were here."
        return {**good, "question_r1": good["question_r1"] + extra}
    if kind == "language":
        other = ("library", 8, 100) if zh else ("图书馆", 20, 160)
        flipped = replace(s, chinese=not zh, location=other[0], low=other[1], high=other[2])
        return _good(flipped, rng)
    if kind == "long":
        fillers = _ZH_FILLERS if zh else _EN_FILLERS
        text, index = good["question_r1"], 0
        while length_units(text, zh) <= s.high:
            text += ("" if zh else " ") + fillers[index % len(fillers)]
            index += 1
        return {**good, "question_r1": text}
    if kind == "short":
        return {**good, "question_r1": "好烦。" if zh else "Ugh."}
    if kind == "narration":
        third = good["daily_event"]
        return {**good, "question_r1": third if zh else f"The user is upset. {third}"}
    if kind == "meta":
        label = "开场白：" if zh else "Opening line: "
        return {**good, "question_r1": label + good["question_r1"]}
    if kind == "json":
        return ("好的，场景是这样的：" if zh else "Sure, here is a scenario: ") + good[
            "question_r1"
        ]
    repeat = (
        f"唉，今天在{s.location}又被骂了一顿，我真的好难过，你说我该怎么办呀？"
        if zh
        else f"Ugh, I got yelled at again today {_place(s.location)} and I feel awful. "
        "What should I do?"
    )
    return {**good, "question_r1": repeat}


def scenario_writer(request: FakeRequest) -> str:
    """A scenario that passes the checks, as JSON (sometimes fenced or after prose)."""
    rng = request.rng()
    setting = _Setting.of(request)
    return _wrap(_good(setting, rng), rng, setting.chinese)


def bad_scenario_writer(request: FakeRequest) -> str:
    """A planted mistake named by the model suffix (``-names``, ``-long`` ...), else random."""
    rng = request.rng()
    setting = _Setting.of(request)
    kind = request.behaviour.removeprefix("scenario-writer-bad").lstrip("-")
    if not kind:
        kind = rng.choice((*BAD_KINDS, "good", "good"))
    if kind not in BAD_KINDS:
        kind = "good"
    if kind == "good" or (setting.reask and kind != "repeat"):
        return _wrap(_good(setting, rng), rng, setting.chinese)
    planted = _planted(kind, setting, rng)
    return planted if isinstance(planted, str) else json.dumps(planted, ensure_ascii=False)


register_behaviour("scenario-writer", scenario_writer)
register_behaviour("scenario-writer-bad*", bad_scenario_writer)
