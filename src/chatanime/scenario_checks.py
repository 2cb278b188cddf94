"""Checks on model-written scenarios.

A generated benchmark is only as good as its worst scenario: one opening line in
the wrong language, narrated in the third person, or naming the very character
who will answer it, measures the model that wrote it rather than the one being
evaluated. So every candidate goes through :func:`check_scenario`, a pure
function returning reason codes (:class:`ScenarioProblem`) that the generator
feeds back to the model and the report counts.

Near-duplicates across the whole grid are a different job (one candidate cannot be
judged alone) and live in :mod:`chatanime.scenario_duplicates`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from enum import StrEnum
from functools import cache

from pydantic import BaseModel, ConfigDict, Field

from chatanime.characters import Character
from chatanime.simulator import text_length


class ScenarioProblem(StrEnum):
    """Why a candidate scenario was rejected (the report counts these)."""

    UNPARSEABLE = "unparseable"
    EMPTY = "empty"
    WRONG_LANGUAGE = "wrong-language"
    TOO_SHORT = "too-short"
    TOO_LONG = "too-long"
    NOT_USER_VOICE = "not-user-voice"
    META = "meta"
    NAMES_CHARACTER = "names-character"
    NEAR_DUPLICATE = "near-duplicate"


class ScenarioRules(BaseModel):
    """Length bounds in :func:`~chatanime.simulator.text_length` units (characters / words).

    The Chinese defaults accept every built-in question (29-139 characters) and
    event (25-49); the English ones every translated question (18-82 words) and
    event (14-33), with room either side for a model's own style.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    language: str = Field(default="zh", pattern=r"^(zh|en)$")
    question_min: int = Field(default=20, ge=1)
    question_max: int = Field(default=160, ge=1)
    event_min: int = Field(default=10, ge=1)
    event_max: int = Field(default=80, ge=1)
    min_han_share: float = Field(default=0.7, ge=0.0, le=1.0)
    """Chinese: Han characters / (Han characters + Latin letters) at least this."""

    @classmethod
    def for_language(cls, language: str, **overrides: int) -> ScenarioRules:
        if language == "en":
            base = {"question_min": 8, "question_max": 100, "event_min": 6, "event_max": 60}
            return cls(language="en", **{**base, **overrides})
        return cls(language=language, **overrides)


class Candidate(BaseModel):
    """What the writer model answers: the event and the user's opening line."""

    model_config = ConfigDict(frozen=True)

    daily_event: str
    question_r1: str


class ScenarioVerdict(BaseModel):
    """The outcome of checking one candidate; ``reasons`` are for people (and the re-ask)."""

    model_config = ConfigDict(frozen=True)

    problems: tuple[ScenarioProblem, ...] = ()
    reasons: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


# ---------------------------------------------------------------- parsing

_FENCE = re.compile(r"```[a-zA-Z]*\s*|```")
_KEYS = ("daily_event", "question_r1")


def parse_candidate(text: str) -> Candidate | str:
    """The first JSON object with both fields in ``text`` (fenced or wrapped in prose).

    Returns the candidate, or an error sentence: models often add "Here you go:" or a
    code fence around otherwise good JSON, and that should not cost a re-ask.
    """
    cleaned = _FENCE.sub("", text).strip()
    decoder = json.JSONDecoder()
    found_object = False
    for start in (m.start() for m in re.finditer(r"[{\[]", cleaned)):
        try:
            value, _ = decoder.raw_decode(cleaned, start)
        except json.JSONDecodeError:
            continue
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if not isinstance(value, dict):
            continue
        found_object = True
        missing = [k for k in _KEYS if not isinstance(value.get(k), str)]
        if not missing:
            return Candidate(daily_event=value["daily_event"], question_r1=value["question_r1"])
    if found_object:
        return f"the JSON object lacks string fields {', '.join(_KEYS)}"
    return "no JSON object found in the answer"


# ---------------------------------------------------------------- names

_COMMON_ZH = "妈妈 爸爸 哥哥 姐姐 妹妹 弟弟 助手 船长 老虎 闪光 老师 小不点 小矮子 副团长 副代表"
_COMMON_ZH_MORE = "天才少女 蛞蝓 黑猫 大河 中原 日向 琉璃 五更"
COMMON_FORMS: frozenset[str] = frozenset(
    [
        *_COMMON_ZH.split(),
        *_COMMON_ZH_MORE.split(),
        *("Captain", "Papa", "Mama", "Assistant", "Tiger", "Big Brother", "My King"),
        *("Vice Commander", "Vice Representative"),
    ]
)
"""Forms of address that are everyday words ("妈妈", "Captain"): a user may say them
about their own life, so they do not count as naming the character."""
_NAME_SPLIT = re.compile(r"[·・\s]+")
_PARENS = re.compile(r"[（()）]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_KANA = re.compile(r"[\u3040-\u30ff]")


def _name_terms(text: str, *, split: bool) -> list[str]:
    """A name and its parts (``蒙奇·D·路飞`` -> 路飞; ``Saber (Artoria Pendragon)`` -> Artoria)."""
    terms: list[str] = []
    for part in (p.strip() for p in _PARENS.split(text)):
        terms.append(part)
        if split:
            terms.extend(_NAME_SPLIT.split(part))
    return terms


def _is_proper(term: str) -> bool:
    if not term or term in COMMON_FORMS:
        return False
    if _HAN.search(term) or _KANA.search(term):
        return len(term) >= 2
    letters = re.sub(r"[^A-Za-z]", "", term)
    return len(letters) >= 3 and term[0].isupper()


def forbidden_names(characters: Iterable[Character]) -> tuple[str, ...]:
    """Names a scenario must not contain, from both language blocks of each card, longest first.

    Full names, their parts, and forms of address that are proper nouns: at least two
    Chinese/Japanese characters, or a capitalised Latin word of three letters or more,
    and not one of :data:`COMMON_FORMS`.
    """
    names: set[str] = set()
    for character in characters:
        for card in character.blocks:
            names.update(_name_terms(card.name, split=True))
            for form in card.forms_of_address:
                names.update(_name_terms(form, split=False))
    return tuple(sorted((n for n in names if _is_proper(n)), key=lambda n: (-len(n), n)))


@cache
def _names_pattern(names: tuple[str, ...]) -> re.Pattern[str] | None:
    """One alternation for all names, longest first; Latin names only as whole words."""
    parts = [
        re.escape(n)
        if _HAN.search(n) or _KANA.search(n)
        else rf"(?<![A-Za-z]){re.escape(n)}(?![A-Za-z])"
        for n in sorted(names, key=len, reverse=True)
    ]
    return re.compile("|".join(parts)) if parts else None


def find_names(text: str, names: Sequence[str]) -> list[str]:
    """The names in ``text``: Chinese as substrings, Latin as whole words (case kept).

    Longest match first, so ``蒙奇·D·路飞`` is reported once, not also as ``路飞``.
    """
    pattern = _names_pattern(tuple(names))
    if pattern is None:
        return []
    return list(dict.fromkeys(m.group(0) for m in pattern.finditer(text)))


# ---------------------------------------------------------------- single checks

_KANA_HANGUL = re.compile(r"[\u3040-\u30ff\uac00-\ud7af]")
_CJK_ANY = re.compile(
    r"[\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uff00-\uffef]"
)
_LATIN = re.compile(r"[A-Za-z]")
_ZH_FIRST = re.compile(r"[我咱俺]")
_ZH_SECOND = re.compile(r"[你您]")
_ZH_SPOKEN = re.compile(r"[啊吧呢吗嘛呀哎唉哇哈嘿喂哦诶！？!?…]")
_ZH_THIRD_START = re.compile(r"^[他她](?!们)")
_EN_PERSON = re.compile(r"\b(i|i'm|i've|i'd|i'll|me|my|mine|myself|we|us|our|you|your)\b", re.I)
_ZH_NARRATION = re.compile(r"用户|主人公|当事人|这位(?:学生|上班族|自由职业者|个体户?)")
_EN_NARRATION = re.compile(r"\bthe user\b|\buser's\b|\bthe protagonist\b|\bthe narrator\b", re.I)
_META: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p, re.I | re.M), why)
    for p, why in (
        (
            r"^\s*(场景|事件|日常事件|开场白|问题|用户|回答|地点|情绪|身份|daily[ _]event|"
            r"question[ _]r1|opening line|scenario|user|question|event|answer)\s*[:：]",
            "starts with a label",
        ),
        (
            r"(作为|身为|我是|我只是)(一个|一名|一款)?\s*"
            r"(AI助手|AI语言模型|AI模型|人工智能助手|语言模型|大模型|AI|人工智能)(?!\w)",
            "AI self-reference",
        ),
        (r"\bas an? (ai|language model|assistant)\b|\blanguage model\b", "AI self-reference"),
        (r"daily_event|question_r1|[{}]", "JSON left in the text"),
        (r"以下是|下面是|^\s*here(?: is|'s) (?:a|an|the|my)\b", "contains a preamble"),
        (r"\*\*|^\s*#{1,6}\s|^\s*[-*•]\s", "contains Markdown"),
    )
)
_QUOTES = {'"': '"', "“": "”", "「": "」", "『": "』", "'": "'"}


def _language_reason(text: str, rules: ScenarioRules) -> str | None:
    if rules.language == "en":
        return "contains Chinese/Japanese/Korean text" if _CJK_ANY.search(text) else None
    if len(_KANA_HANGUL.findall(text)) >= 2:
        return "contains Japanese kana or Korean hangul"
    han, latin = len(_HAN.findall(text)), len(_LATIN.findall(text))
    if han == 0 or han / (han + latin) < rules.min_han_share:
        return f"not mostly Chinese ({han} Han characters, {latin} Latin letters)"
    return None


def _voice_reason(question: str, language: str) -> str | None:
    """An opening line is the user talking, not a narrator describing the user.

    English needs a first or second person pronoun. Chinese speakers drop pronouns
    (six of the 60 built-in questions have no 我/你), so there a line without one
    passes if it sounds spoken (a particle, an exclamation or a question); a narrator's
    word (用户, 主人公) or a leading 他/她 only counts when there is no 我.
    """
    if language == "en":
        found = _EN_NARRATION.search(question)
        if found and not _EN_PERSON.search(question):
            return f"narrates the user ({found.group(0)!r}) instead of speaking as the user"
        return None if _EN_PERSON.search(question) else "has no first or second person (I/you)"
    first = _ZH_FIRST.search(question) is not None
    found = _ZH_NARRATION.search(question)
    if found and not first:
        return f"narrates the user ({found.group(0)!r}) instead of speaking as the user"
    second = _ZH_SECOND.search(question) is not None
    if _ZH_THIRD_START.search(question) and not (first or second):
        return "is told in the third person (他/她) instead of by the user"
    if not (first or second or _ZH_SPOKEN.search(question)):
        return "does not sound spoken (no 我/你, no particle, exclamation or question)"
    return None


def _meta_reasons(text: str) -> list[str]:
    reasons = [why for pattern, why in _META if pattern.search(text)]
    if len(text) > 1 and _QUOTES.get(text[0]) == text[-1]:
        reasons.append("wrapped in quotation marks")
    return reasons


def _field_problems(
    field: str, text: str, bounds: tuple[int, int], rules: ScenarioRules, names: Sequence[str]
) -> list[tuple[ScenarioProblem, str]]:
    if not text:
        return [(ScenarioProblem.EMPTY, f"{field} is empty")]
    found: list[tuple[ScenarioProblem, str]] = []
    language = _language_reason(text, rules)
    if language:
        found.append((ScenarioProblem.WRONG_LANGUAGE, f"{field} {language}"))
    length, (low, high) = text_length(text, rules.language), bounds
    unit = "words" if rules.language == "en" else "characters"
    if length < low:
        found.append((ScenarioProblem.TOO_SHORT, f"{field} has {length} {unit} (< {low})"))
    if length > high:
        found.append((ScenarioProblem.TOO_LONG, f"{field} has {length} {unit} (> {high})"))
    found += [(ScenarioProblem.META, f"{field} {why}") for why in _meta_reasons(text)]
    hits = find_names(text, names)
    if hits:
        named = ", ".join(repr(n) for n in hits)
        found.append((ScenarioProblem.NAMES_CHARACTER, f"{field} names {named}"))
    return found


def check_scenario(
    candidate: Candidate, *, rules: ScenarioRules | None = None, names: Sequence[str] = ()
) -> ScenarioVerdict:
    """Check one candidate against ``rules``; ``names`` from :func:`forbidden_names`. Pure."""
    rules = rules or ScenarioRules()
    event, question = candidate.daily_event.strip(), candidate.question_r1.strip()
    found = _field_problems(
        "daily_event", event, (rules.event_min, rules.event_max), rules, names
    ) + _field_problems(
        "question_r1", question, (rules.question_min, rules.question_max), rules, names
    )
    if question:
        voice = _voice_reason(question, rules.language)
        if voice:
            found.append((ScenarioProblem.NOT_USER_VOICE, f"question_r1 {voice}"))
    problems = tuple(dict.fromkeys(p for p, _ in found))
    return ScenarioVerdict(problems=problems, reasons=tuple(r for _, r in found))
