"""The user simulator: writes the user's round-2 turn, and checks that it is one.

In the ChatAnime study every round-2 question was written by a person reacting to
the round-1 answer. A new system has no such person, so a second model plays the
user. That model fails in recognisable ways — it slips into the character's voice,
leaks its reasoning or a "Here is the user's reply:" preamble, forgets to ask
anything — and a bad question poisons the round-2 answer that will be scored. So
every simulated turn goes through :func:`check_user_turn` (a pure function that
returns a verdict with reasons), is retried under a new call key when rejected,
and becomes a recorded failure when every attempt was rejected.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from pydantic import BaseModel, ConfigDict

from chatanime.backends.base import ChatMessage, GenerationParams
from chatanime.characters import Character
from chatanime.prompts import PromptTemplate, load_prompt
from chatanime.runner import CallContext
from chatanime.scenarios import Scenario

USER_SIM_PROMPT = "user-sim"
USER_SIM_RETRY_PROMPT = "user-sim-retry"
LENGTH_TARGETS: dict[str, tuple[int, int]] = {"zh": (90, 110), "en": (55, 70)}
"""The release's round-2 questions average 91-106 characters per system; English runs
~0.63 words per Chinese character (the chatanime-en translations), hence 55-70 words."""
_WORD = re.compile(r"[A-Za-z0-9]+(?:['’-][A-Za-z0-9]+)*")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


def text_length(text: str, language: str) -> int:
    """Length as the study counts it: characters for Chinese, words for English.

    The release's 150-character limit is a Chinese-character count; whitespace
    is not counted. An English answer of the same content is ~100 words, so the
    English benchmark counts words (its limit reads "150 words").
    """
    if language == "en":
        return len(_WORD.findall(text))
    return len("".join(text.split()))


class UserTurnProblem(StrEnum):
    """Why a simulated user turn was rejected."""

    EMPTY = "empty"
    AS_CHARACTER = "as-character"
    META = "meta"
    NO_QUESTION = "no-question"
    TOO_SHORT = "too-short"
    TOO_LONG = "too-long"


class UserTurnVerdict(BaseModel):
    """The outcome of checking one simulated turn; ``reasons`` are for people."""

    model_config = ConfigDict(frozen=True)

    text: str
    problems: tuple[UserTurnProblem, ...] = ()
    reasons: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


class UserTurnRules(BaseModel):
    """Bounds for an acceptable turn; lengths in :func:`text_length` units.

    The release's round-2 questions are 53-175 characters (mean 91-106 per
    system) and at most 23 characters follow their last question mark, so the
    Chinese defaults accept all of them while rejecting one-liners and essays.
    """

    model_config = ConfigDict(frozen=True)

    language: str = "zh"
    min_length: int = 30
    max_length: int = 200
    max_after_question: int = 30
    """Characters allowed after the last question mark (a short closing sentence)."""

    @classmethod
    def for_language(cls, language: str) -> UserTurnRules:
        if language == "en":
            return cls(language="en", min_length=12, max_length=130, max_after_question=80)
        return cls(language=language)


# Text no user would write: reasoning tags, AI self-references, preambles, labels.
_META_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p, re.IGNORECASE | re.MULTILINE), why)
    for p, why in (
        (r"<\s*/?\s*(think|thinking|reasoning|analysis)\s*>", "contains a reasoning tag"),
        (r"(思考|推理|分析)(过程)?\s*[:：]", "contains labelled reasoning"),
        (
            r"(作为|身为|我是|我只是)(一个|一名|一款)?\s*"
            r"(AI助手|AI语言模型|AI模型|人工智能助手|语言模型|大模型|AI|人工智能)(?!\w)",
            "AI self-reference",
        ),
        (r"\bas an? (ai|language model|assistant)\b", "AI self-reference"),
        (r"\b(language model|ai assistant)\b", "AI self-reference"),
        (
            r"^\s*(用户|使用者|提问|问题|回复|回答|第[一二两]轮|Q\d?|A\d?|User|Assistant|Question|"
            r"Reply|Response|Answer|Round\s*\d)\s*[:：]",
            "starts with a speaker or section label",
        ),
        (r"(用户|User)\s*[:：]", "contains a speaker label"),
        (r"\bround\s*[12]\b|第[一二两]轮", "mentions the dialogue rounds"),
        (r"(以下是|下面是|如下[:：])", "contains a preamble"),
        (r"^\s*(sure|certainly|of course|okay)[,!.]?\s+(here|below)\b", "contains a preamble"),
        (r"\bhere(?: is|'s) (?:the|my|a|an) (?:user|reply|response|question|turn)", "preamble"),
        (r"\b(note|explanation|analysis)\s*:", "contains a note or explanation"),
        (r"\*\*|^\s*#{1,6}\s|^\s*[-*•]\s|^\s*\d+[.、)]\s", "contains Markdown formatting"),
    )
)
_QUOTE_PAIRS = {'"': '"', "“": "”", "「": "」", "『": "』", "'": "'", "‘": "’"}
_ENGLISH_RUN = re.compile(r"[A-Za-z]+(?:[\s,'’-]+[A-Za-z]+){7,}")
_TRAILING_DECOR = "～~…。.!！ \t\n\"'”’」』)）" + "\U0001f300-\U0001faff"
_QUESTION_PARTICLES = ("吗", "呢", "么")
_GENERIC_LABELS = ("角色", "Character", "Assistant", "助手", "AI")


def character_names(character: Character) -> tuple[str, ...]:
    """Every name the character goes by in each block of its card, longest first.

    Includes the last part of a dotted name (``蒙奇·D·路飞`` -> ``路飞``),
    since that is how people actually write it.
    """
    names: set[str] = set()
    for card in character.blocks:
        names.update([card.name, *card.forms_of_address])
        for sep in ("·", "・", " "):
            if sep in card.name:
                names.add(card.name.split(sep)[-1])
    return tuple(sorted((n.strip() for n in names if n.strip()), key=len, reverse=True))


_QUOTED = re.compile(r"「[^」]*」|“[^”]*”|『[^』]*』|\"[^\"\n]*\"")


@lru_cache(maxsize=256)
def _character_patterns(names: tuple[str, ...]) -> tuple[re.Pattern[str], re.Pattern[str] | None]:
    """One speaker-label regex and one self-reference regex per set of names (compiled
    once: this check runs for every simulated turn)."""
    labels = "|".join(re.escape(n) for n in (*names, *_GENERIC_LABELS))
    label = re.compile(rf"^\s*[【\[(（]?({labels})[】\])）]?\s*[:：]", re.MULTILINE)
    long_names = "|".join(re.escape(n) for n in names if len(n) >= 2)
    if not long_names:
        return label, None
    self_ref = re.compile(
        rf"(?:作为|身为|我是|我就是|我可是|本人就?是)({long_names})"
        rf"|\b(?:as|I am|I'm)\s+({long_names})\b",
        re.IGNORECASE,
    )
    return label, self_ref


def _as_character_reasons(text: str, names: Sequence[str]) -> list[str]:
    """Speaker labels, and self-references outside quotes (quoting the character's
    own words back, 「我是路飞」, is something users do)."""
    ordered = tuple(sorted(set(names), key=len, reverse=True))
    label, self_ref = _character_patterns(ordered)
    reasons = [f"a line starts with the speaker label {m.group(1)!r}" for m in label.finditer(text)]
    if self_ref is not None:
        unquoted = _QUOTED.sub("", text)
        for match in self_ref.finditer(unquoted):
            reasons.append(f"refers to itself as {match.group(1) or match.group(2)!r}")
    return list(dict.fromkeys(reasons))


def _meta_reasons(text: str, language: str) -> list[str]:
    reasons = [why for pattern, why in _META_PATTERNS if pattern.search(text)]
    first, last = text[:1], text[-1:]
    if first in _QUOTE_PAIRS and last == _QUOTE_PAIRS[first]:
        reasons.append("the whole turn is wrapped in quotation marks")
    if language == "zh" and _ENGLISH_RUN.search(text):
        reasons.append("contains an English passage in a Chinese benchmark")
    if language == "en" and _CJK.search(text):
        reasons.append("contains Chinese/Japanese/Korean text in an English benchmark")
    return list(dict.fromkeys(reasons))


def _question_reason(text: str, rules: UserTurnRules) -> str | None:
    """A turn ends with a question: a question mark, possibly followed by decoration or
    one short sentence, or a Chinese question particle (``…呢～``) at the very end."""
    bare = re.sub(f"[{_TRAILING_DECOR}]+$", "", text)
    if bare.endswith(_QUESTION_PARTICLES):
        return None
    cut = max(text.rfind("？"), text.rfind("?"))
    if cut < 0:
        return "asks no question"
    tail = re.sub(f"[{_TRAILING_DECOR}]+$", "", text[cut + 1 :])
    if len(tail) > rules.max_after_question:
        return f"does not end with its question ({len(tail)} characters follow it)"
    return None


def check_user_turn(
    text: str, *, names: Iterable[str] = (), rules: UserTurnRules | None = None
) -> UserTurnVerdict:
    """Check a simulated user turn; ``names`` are the character's names (see
    :func:`character_names`). Pure: the same text always gets the same verdict."""
    rules = rules or UserTurnRules()
    clean = text.strip()
    if not clean:
        return UserTurnVerdict(text=clean, problems=(UserTurnProblem.EMPTY,), reasons=("empty",))
    found: list[tuple[UserTurnProblem, str]] = []
    found += [(UserTurnProblem.AS_CHARACTER, r) for r in _as_character_reasons(clean, list(names))]
    found += [(UserTurnProblem.META, r) for r in _meta_reasons(clean, rules.language)]
    question = _question_reason(clean, rules)
    if question:
        found.append((UserTurnProblem.NO_QUESTION, question))
    length = text_length(clean, rules.language)
    if length < rules.min_length:
        found.append((UserTurnProblem.TOO_SHORT, f"length {length} < {rules.min_length}"))
    if length > rules.max_length:
        found.append((UserTurnProblem.TOO_LONG, f"length {length} > {rules.max_length}"))
    problems = tuple(dict.fromkeys(p for p, _ in found))
    return UserTurnVerdict(text=clean, problems=problems, reasons=tuple(r for _, r in found))


class UserSimulatorFailed(Exception):
    """Every attempt of the simulator was rejected; the message lists why."""

    def __init__(self, verdicts: Sequence[UserTurnVerdict]) -> None:
        self.verdicts = tuple(verdicts)
        detail = "; ".join(
            f"attempt {i}: {', '.join(v.reasons)} (text: {v.text[:80]!r})"
            for i, v in enumerate(self.verdicts, 1)
        )
        super().__init__(f"user simulator failed after {len(self.verdicts)} attempts: {detail}")


@dataclass(frozen=True)
class UserSimulator:
    """A model playing the user, with its prompt, rules and number of attempts."""

    model: str
    language: str = "zh"
    attempts: int = 3
    rules: UserTurnRules | None = None
    length_target: tuple[int, int] | None = None
    """Length asked of the model, in :func:`text_length` units (default per language)."""

    @property
    def prompt(self) -> PromptTemplate:
        return load_prompt(USER_SIM_PROMPT, self.language)

    @property
    def retry_prompt(self) -> PromptTemplate:
        return load_prompt(USER_SIM_RETRY_PROMPT, self.language)

    def effective_rules(self) -> UserTurnRules:
        return self.rules or UserTurnRules.for_language(self.language)

    def messages(
        self,
        character: Character,
        scenario: Scenario,
        answer_r1: str,
        problems: Sequence[UserTurnProblem] = (),
    ) -> list[ChatMessage]:
        """The simulator's request: one user message holding situation and round 1.

        ``problems`` of a rejected attempt are named in the retry's prompt, so a retry
        differs from the attempt it replaces even at temperature 0.
        """
        card = character.card(self.language)
        lo, hi = self.length_target or LENGTH_TARGETS.get(self.language, LENGTH_TARGETS["zh"])
        text = self.prompt.render(
            character=card.name,
            work=card.work,
            persona=scenario.persona.label(self.language),
            emotion=scenario.emotion.label(self.language),
            location=scenario.location,
            daily_event=scenario.daily_event,
            question_r1=scenario.question_r1,
            answer_r1=answer_r1,
            length_min=lo,
            length_max=hi,
        )
        if problems:
            note = self.retry_prompt.render(
                character=card.name,
                problems=[str(p) for p in problems],
                length_min=lo,
                length_max=hi,
            )
            text = f"{text}\n\n{note}"
        return [ChatMessage(role="user", content=text)]

    async def ask(
        self,
        ctx: CallContext,
        *,
        character: Character,
        scenario: Scenario,
        answer_r1: str,
        params: GenerationParams,
    ) -> tuple[str, int]:
        """The user's round-2 turn and the attempt that produced it.

        Each attempt is its own step (``usersim#1``, ``usersim#2``...), so a rerun
        replays the stored attempts instead of paying for them again.
        """
        names = character_names(character)
        rules = self.effective_rules()
        verdicts: list[UserTurnVerdict] = []
        for attempt in range(1, self.attempts + 1):
            previous = verdicts[-1].problems if verdicts else ()
            messages = self.messages(character, scenario, answer_r1, previous)
            response = await ctx.call(
                step=f"usersim#{attempt}",
                role="user-sim",
                model=self.model,
                messages=messages,
                params=params,
                prompt_ref=self.prompt.ref,
            )
            verdict = check_user_turn(response.text, names=names, rules=rules)
            if verdict.ok:
                return verdict.text, attempt
            verdicts.append(verdict)
        raise UserSimulatorFailed(verdicts)
