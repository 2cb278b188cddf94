"""Rule-based "models" served by the fake server, chosen by the name after ``fake/``.

They let the whole pipeline run offline with answers that look like the real thing:
``actor`` answers in character, ``user-sim`` writes a round-2 user turn, ``echo``
repeats. Each is deterministic given the request (seeded by a hash of it), so reruns
reproduce, yet different requests get different wording, so diversity metrics have
something to measure. Other modules plug in more with :func:`register_behaviour` (a
name ending in ``*`` serves a family of models); the server imports every
``chatanime.backends.fake_*`` module (``fake_judges``, ``fake_scenarios``, ...) and any
module given with ``--plugin``, so plugins register themselves on import.

What the behaviours look for in a request (write prompts so these are present):

- the character's name: ``你是X，`` / ``You are X,`` in the actor's system prompt; for
  ``user-sim`` one of ``《作品》的X``, ``角色：X`` / ``Character: X``, ``与X聊天|对话``,
  ``talking to X,``.
- the character's round-1 answer (``user-sim``): the last assistant message, else the
  text after a ``回答：`` / ``Answer:`` style label in the last user message, else the
  last paragraph of that message.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chatanime.backends.base import ChatMessage

FAKE_PREFIX = "fake/"


@dataclass(frozen=True)
class FakeRequest:
    """What a behaviour sees: the canonical model name and the conversation."""

    model: str
    messages: tuple[ChatMessage, ...]
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def behaviour(self) -> str:
        return self.model.removeprefix(FAKE_PREFIX)

    @property
    def system(self) -> str:
        return "\n".join(m.content for m in self.messages if m.role == "system")

    @property
    def last_user(self) -> str:
        return next((m.content for m in reversed(self.messages) if m.role == "user"), "")

    def rng(self) -> random.Random:
        """A generator seeded by the request, so the same request gets the same answer."""
        payload = json.dumps(
            [self.model, [[m.role, m.content] for m in self.messages], self.params.get("seed")],
            ensure_ascii=False,
        )
        return random.Random(hashlib.sha256(payload.encode()).hexdigest())


Behaviour = Callable[[FakeRequest], str]
_BEHAVIOURS: dict[str, Behaviour] = {}


def register_behaviour(name: str, fn: Behaviour, *, replace: bool = False) -> None:
    """Serve ``fake/<name>`` with ``fn``; ``name`` may end in ``*`` (e.g. ``judge-*``)."""
    name = name.removeprefix(FAKE_PREFIX)
    if name in _BEHAVIOURS and _BEHAVIOURS[name] is not fn and not replace:
        raise ValueError(f"fake behaviour {name!r} is already registered")
    _BEHAVIOURS[name] = fn


def find_behaviour(name: str) -> Behaviour | None:
    """Exact name first, then the longest ``*`` family that matches."""
    name = name.removeprefix(FAKE_PREFIX)
    if name in _BEHAVIOURS:
        return _BEHAVIOURS[name]
    families = [key for key in _BEHAVIOURS if key.endswith("*") and name.startswith(key[:-1])]
    return _BEHAVIOURS[max(families, key=len)] if families else None


def behaviour_names() -> list[str]:
    """Registered names, sorted (``GET /v1/models`` lists them)."""
    return sorted(_BEHAVIOURS)


# ---------------------------------------------------------------- text helpers

_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")
_CLAUSE_END = re.compile(r"[，。！？；,.!?;\n]")


def is_chinese(text: str) -> bool:
    """Chinese when CJK ideographs outnumber Latin words (names may be in either script)."""
    return len(_CJK.findall(text)) >= max(1, len(_LATIN_WORD.findall(text)))


def first_clause(text: str, limit: int) -> str:
    """The first non-empty clause of ``text``, at most ``limit`` characters."""
    for clause in _CLAUSE_END.split(text):
        clause = clause.strip(" 「」“”\"'：:")
        if clause:
            return clause[:limit]
    return text.strip()[:limit]


def actor_name(system: str) -> str | None:
    """``你是《作品》的X，`` -> X; ``You are X,`` -> X."""
    zh = re.search(r"你是([^，,。！？!?\s、：:（(]{1,30})", system)
    if zh:
        return re.sub(r"^《[^》]*》的?", "", zh.group(1)) or None
    en = re.search(r"You are ([^,\n]{1,60}?)(?:,|\n)", system) or re.search(
        r"You are ([^,.\n]{1,40})", system
    )
    return en.group(1).strip() if en else None


def clip(text: str, limit: int) -> str:
    """Cut at the last sentence end within ``limit`` characters (hard cut if none)."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    ends = [head.rfind(mark) for mark in "。！？!?."]
    cut = max(ends)
    return head[: cut + 1] if cut >= limit // 2 else head


# ---------------------------------------------------------------- actor

_ZH_ACTOR = (
    (
        "我是{name}！",
        "嘿，{name}在这儿！",
        "别怕，有我{name}在！",
        "喂，{name}来了！",
        "{name}都听到了。",
        "交给{name}吧！",
        "嗯，我是{name}。",
        "{name}可不会丢下你！",
    ),
    (
        "听你说「{q}」，",
        "你说「{q}」，",
        "「{q}」——这事我懂，",
        "关于「{q}」，",
        "原来是「{q}」啊，",
        "「{q}」？",
    ),
    (
        "换作是我也会难受的。",
        "这种心情一点都不奇怪。",
        "你已经很努力了。",
        "会累是很正常的。",
        "能说出来就很了不起。",
        "我能感觉到你的不安。",
        "谁都会有低谷的时候。",
        "你的委屈我都听到了。",
    ),
    (
        "我以前也摔过很多跟头，后来都挺过来了。",
        "我也有过想放弃的时候，是伙伴拉了我一把。",
        "我也曾迷茫过，但一步步走出来了。",
        "我也经历过被否定的日子，现在想想都是养分。",
        "我见过比这更难的坎，最后都跨过去了。",
        "我失败的次数可多了，可每次都能重新站起来。",
    ),
    (
        "先好好吃顿饭，睡一觉再说！",
        "把大问题拆成小步，一步一步来。",
        "找个信得过的朋友聊聊吧。",
        "今天先做好一件小事就够了。",
        "别一个人硬扛，求助不丢人。",
        "把烦恼写下来，会清楚很多。",
        "出去走走，吹吹风再回来想。",
        "给自己定个小目标，完成就奖励自己。",
    ),
    (
        "我相信你！",
        "加油，我一直都在！",
        "下次要笑着告诉我好消息哦！",
        "你一定可以的！",
        "我们一起加油！",
        "别忘了，你不是一个人。",
    ),
)
_EN_ACTOR = (
    (
        "I'm {name}!",
        "Hey, {name} here!",
        "{name} heard you.",
        "Leave it to {name}!",
        "It's {name}.",
    ),
    ('"{q}"? I get it.', 'You said "{q}".', 'So it\'s "{q}"...', 'About "{q}": I hear you.'),
    (
        "Anyone would feel that way.",
        "You've worked so hard.",
        "It's okay to be tired.",
        "I almost gave up once too.",
        "I've been lost before as well.",
    ),
    (
        "Eat well and sleep first.",
        "Take one small step today.",
        "Talk to someone you trust.",
        "I believe in you!",
        "You've got this!",
    ),
)


def actor(request: FakeRequest) -> str:
    """An in-character supportive answer of at most 150 characters that names the character.

    It greets as the character, quotes the start of the user's last message, then picks
    empathy, a shared experience, advice and encouragement from small pools.
    """
    rng = request.rng()
    chinese = is_chinese(request.system) or not request.system
    name = actor_name(request.system) or ("我" if chinese else "I")
    if chinese:
        q = first_clause(request.last_user, 14) or "这件事"
        parts = [rng.choice(pool).format(name=name, q=q) for pool in _ZH_ACTOR]
        if rng.random() < 0.5:  # vary the order of empathy and experience sharing
            parts[2], parts[3] = parts[3], parts[2]
        return clip("".join(parts), 150)
    q = " ".join(first_clause(request.last_user, 60).split()[:6]) or "that"
    parts = [rng.choice(pool).format(name=name, q=q) for pool in _EN_ACTOR]
    return clip(" ".join(parts), 150)


# ---------------------------------------------------------------- user simulator

_NAME_PATTERNS = (
    r"《[^》]+》的([^\s，,。：:、（(」”\"]{1,16})",
    r"(?:角色|人物)[：:]\s*([^\s，,。、（(]{1,16})",
    r"(?:与|和|跟)([^\s，,。、]{1,12}?)(?:聊天|对话|交谈)",
    r"[Cc]haracter:\s*([^,\n]{1,40}?)(?:,|\n)",
    r"talking (?:to|with) ([^,\n]{1,40}?)(?:,|\n)",
)
_ANSWER_LABEL = re.compile(
    r"(?:角色的回答|角色回答|回答|回复|[Aa]nswer|[Rr]eply|[Rr]esponse)\s*[：:]\s*(.+?)(?:\n\s*\n|$)",
    re.S,
)
_ZH_TARGET = re.compile(r"约\s*(\d+)\s*(?:到|至|-|~)\s*(\d+)\s*个?字")
_EN_TARGET = re.compile(r"about (\d+) to (\d+) words", re.I)
_ZH_SIM = {
    "react": ("你说「{a}」，", "听到你说「{a}」，", "「{a}」这句话，", "你刚才说「{a}」，"),
    "feel": ("我心里好受多了。", "我有点被说动了。", "我想了很久。", "我其实还是有点怕。"),
    "filler": (
        "可是我还是会担心自己做不好。",
        "身边的人好像都过得比我轻松。",
        "其实我已经偷偷试过好几次了。",
        "晚上一个人的时候总会想很多。",
        "我也不想一直这样消沉下去。",
        "我最怕的是又让大家失望。",
        "今天回家的路上我一直在想这件事。",
    ),
    "ask": (
        "如果第一步就失败了，我该怎么办呢？",
        "你当时是怎么坚持下来的？",
        "我真的可以像你说的那样做到吗？",
        "要是别人不理解我，该怎么办？",
        "你觉得我应该先从哪里开始？",
    ),
}
_EN_SIM = {
    "react": ('you said "{a}",', 'when you said "{a}",', 'hearing "{a}" from you,'),
    "feel": (
        "and it actually helped a bit.",
        "I thought about it for a while.",
        "but honestly I'm still scared.",
    ),
    "filler": (
        "I have tried to change things before, and it never seemed to stick for long.",
        "Everyone around me looks like they are handling life so much better than me.",
        "The nights are the worst, because that is when all the worries come back at once.",
        "I really don't want to stay stuck like this for another whole year.",
        "What scares me most is letting down the people who believe in me.",
        "On the way home today I kept going over it again and again in my head.",
    ),
    "ask": (
        "How did you keep going when it got that hard?",
        "Where do you think I should start tomorrow?",
        "What should I do if I fail again on the very first step?",
    ),
}


def character_answer(request: FakeRequest) -> str:
    """The character's round-1 answer as the simulator's prompt presents it."""
    for message in reversed(request.messages):
        if message.role == "assistant":
            return message.content
    text = request.last_user
    labelled = _ANSWER_LABEL.findall(text)
    if labelled:
        return str(labelled[-1]).strip()
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    return paragraphs[-1].strip() if paragraphs else text


def character_name(text: str) -> str | None:
    """The character the simulated user is talking to, if the prompt names one."""
    for pattern in _NAME_PATTERNS:
        found = re.search(pattern, text)
        if found:
            return found.group(1).strip()
    return None


def length_units(text: str, chinese: bool) -> int:
    """Length as the study counts it: non-space characters in Chinese, words in English."""
    return len("".join(text.split())) if chinese else len(text.split())


def length_target(prompt: str, chinese: bool) -> tuple[int, int]:
    """The length the prompt asks for ("约90到110个字" / "about 55 to 70 words")."""
    found = (_ZH_TARGET if chinese else _EN_TARGET).search(prompt)
    if found:
        return int(found.group(1)), int(found.group(2))
    return (90, 110) if chinese else (55, 70)


def user_sim(request: FakeRequest) -> str:
    """A round-2 user turn to the character, of the requested length, ending with a question.

    It addresses the character by name, quotes the start of the character's answer and
    adds worries until the length target is met (about 90-110 characters in Chinese).
    """
    rng = request.rng()
    everything = "\n".join(m.content for m in request.messages)
    chinese = is_chinese(everything)
    words = _ZH_SIM if chinese else _EN_SIM
    joiner = "" if chinese else " "
    low, high = length_target(everything, chinese)
    name = character_name(everything) or ("你" if chinese else "you")
    quote = first_clause(character_answer(request), 16 if chinese else 48)
    ask = rng.choice(words["ask"])
    text = joiner.join(
        [
            f"{name}，" if chinese else f"{name},",
            rng.choice(words["react"]).format(a=quote),
            rng.choice(words["feel"]),
        ]
    )
    for filler in rng.sample(words["filler"], len(words["filler"])):
        if length_units(joiner.join([text, ask]), chinese) >= low:
            break
        if length_units(joiner.join([text, filler, ask]), chinese) <= high:
            text = joiner.join([text, filler])
    return joiner.join([text, ask])


def echo(request: FakeRequest) -> str:
    """The last user message, verbatim."""
    return request.last_user


register_behaviour("actor", actor)
register_behaviour("user-sim", user_sim)
register_behaviour("echo", echo)
