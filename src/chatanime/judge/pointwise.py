"""The pointwise judge: one dialogue in, 9 integer scores per round (or *unscored*) out.

By default one call scores both rounds (the judge sees the whole dialogue once); the
``pointwise-round`` mode asks once per round, showing the dialogue up to that round.
A reply that is not a valid judgment is sent back once or twice with the validation
error (:func:`ask_valid`); each of those attempts is its own keyed runner step, so a
rerun after a kill replays them instead of paying again. What is finally stored is
either the validated integers or ``status='unscored'`` with the raw reply and the
error — never a guessed number.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from chatanime.backends.base import ChatMessage, GenerationParams, ModelError
from chatanime.characters import CardText
from chatanime.dialogue import Dialogue
from chatanime.judge.parse import ParseFailure, pointwise_parser
from chatanime.judge.prompt import JudgePrompt, pointwise_example, repair_conversation
from chatanime.runner import CallContext, stable_hash

PointwiseMode = Literal["pointwise", "pointwise-round"]
POINTWISE_MODES: tuple[str, ...] = ("pointwise", "pointwise-round")
ROLE = "judge"
NO_REPLY = "no reply: "
"""Prefix of ``judgments.error`` when the judge never answered (timeouts, 5xx after
retries, a refused request): such judgments are retried by a later run; a reply that
was received but invalid is final (asking again would replay the same answer)."""

T = TypeVar("T")


class JudgmentOutcome(BaseModel):
    """A finished judgment: the unit's result and the source of its stored rows."""

    model_config = ConfigDict(frozen=True)

    judgment_id: str
    mode: str
    judge_model: str
    prompt_ref: str
    rubric_ref: str
    benchmark: str
    system: str
    character: str
    scenario: int
    status: Literal["scored", "unscored"]
    rationale: str | None = None
    raw_text: str | None = None
    error: str | None = None
    scores: dict[int, dict[str, float]] = {}
    """Round (0 = the whole item) -> metric -> value; empty when unscored."""
    calls: int = 0
    repaired: bool = False
    """A repair request was needed (the first reply was unusable)."""

    @property
    def no_reply(self) -> bool:
        return self.status == "unscored" and (self.error or "").startswith(NO_REPLY)


@dataclass
class Asked(Generic[T]):
    """What :func:`ask_valid` got: a value, or the last raw reply and the reason."""

    value: T | None = None
    raw_text: str | None = None
    error: str | None = None
    calls: int = 0
    no_reply: bool = False


@dataclass(frozen=True)
class Request(Generic[T]):
    """One judge question: the model, messages, how to validate and how to re-ask."""

    model: str
    messages: Sequence[ChatMessage]
    params: GenerationParams
    prompt_ref: str
    parse: Callable[[str], T | ParseFailure]
    repair: Callable[[str], ChatMessage]
    """Error text -> the repair request message."""
    repairs: int = 2


async def ask_valid(ctx: CallContext, step: str, request: Request[T]) -> Asked[T]:
    """Ask; while the reply is invalid and repairs remain, re-ask quoting the error.

    Steps are ``{step}:try0``, ``{step}:try1`` ... so each attempt is keyed. A transport
    failure (after the runner's retries) ends the question as ``no_reply``.
    """
    out: Asked[T] = Asked()
    messages = list(request.messages)
    for attempt in range(request.repairs + 1):
        try:
            response = await ctx.call(
                step=f"{step}:try{attempt}",
                role=ROLE,
                model=request.model,
                messages=messages,
                params=request.params,
                prompt_ref=request.prompt_ref,
            )
        except ModelError as exc:
            earlier = "" if out.error is None else f" (after an unusable reply: {out.error})"
            out.error = f"{NO_REPLY}{type(exc).__name__}: {exc}{earlier}"
            out.no_reply = True
            return out
        out.calls += 1
        parsed = request.parse(response.text)
        if not isinstance(parsed, ParseFailure):
            out.value, out.raw_text, out.error = parsed, response.text, None
            return out
        out.raw_text, out.error = response.text, parsed.error
        messages = repair_conversation(
            request.messages, response.text, request.repair(parsed.error)
        )
    return out


def judgment_id(
    judge_model: str,
    mode: str,
    prompt_sha256: str,
    rubric_sha256: str,
    benchmark: str,
    system: str,
    character: str,
    scenario: int,
) -> str:
    """Deterministic id: the same judge, texts and item is the same judgment."""
    key = [judge_model, mode, prompt_sha256, rubric_sha256, benchmark, system, character, scenario]
    return f"j-{stable_hash(key, 32)}"


@dataclass(frozen=True)
class PointwiseJudge:
    """One judge model in one mode, with its prompt, rubric and sampling parameters."""

    model: str
    prompt: JudgePrompt
    benchmark: str
    mode: PointwiseMode = "pointwise"
    params: GenerationParams = field(default_factory=lambda: GenerationParams(temperature=0.0))
    repairs: int = 2

    @property
    def round_groups(self) -> tuple[tuple[int, ...], ...]:
        """The rounds each call scores: both at once, or one call per round."""
        return ((1, 2),) if self.mode == "pointwise" else ((1,), (2,))

    def judgment_id(self, dialogue: Dialogue) -> str:
        return judgment_id(
            self.model,
            self.mode,
            self.prompt.sha256,
            self.prompt.rubric_sha256,
            self.benchmark,
            dialogue.system,
            dialogue.character,
            dialogue.scenario,
        )

    def request(self, dialogue: Dialogue, card: CardText, rounds: Sequence[int]) -> Request[Any]:
        example = pointwise_example(rounds)
        return Request(
            model=self.model,
            messages=self.prompt.messages(dialogue, card, rounds),
            params=self.params,
            prompt_ref=self.prompt.ref,
            parse=pointwise_parser(rounds),
            repair=lambda error: self.prompt.repair_message(error, example),
            repairs=self.repairs,
        )


async def judge_dialogue(
    ctx: CallContext, judge: PointwiseJudge, dialogue: Dialogue, card: CardText
) -> JudgmentOutcome:
    """Score one dialogue; unscored (with raw text and error) if any round fails.

    In per-round mode a failed round stops the item (its other round is not paid for):
    the report counts an item with any unscored round as unscored anyway.
    """
    scores: dict[int, dict[str, float]] = {}
    rationales: list[str] = []
    calls, repaired = 0, False
    for rounds in judge.round_groups:
        step = "all" if len(judge.round_groups) == 1 else f"r{rounds[0]}"
        asked = await ask_valid(ctx, step, judge.request(dialogue, card, rounds))
        calls += asked.calls
        repaired = repaired or asked.calls > 1
        if asked.value is None:
            error = asked.error or "no judgment"
            if step != "all":
                error = f"{error} (round {rounds[0]})"
            return _outcome(
                judge, dialogue, "unscored", calls, repaired, raw_text=asked.raw_text, error=error
            )
        for round_, values in asked.value.scores().items():
            scores[round_] = {m: float(v) for m, v in values.items()}
        prefix = "" if step == "all" else f"[round {rounds[0]}] "
        rationales.append(prefix + asked.value.rationale)
    return _outcome(
        judge, dialogue, "scored", calls, repaired, rationale="\n".join(rationales), scores=scores
    )


def _outcome(
    judge: PointwiseJudge,
    dialogue: Dialogue,
    status: Literal["scored", "unscored"],
    calls: int,
    repaired: bool,
    **fields: Any,
) -> JudgmentOutcome:
    return JudgmentOutcome(
        judgment_id=judge.judgment_id(dialogue),
        mode=judge.mode,
        judge_model=judge.model,
        prompt_ref=judge.prompt.ref,
        rubric_ref=judge.prompt.rubric_ref,
        benchmark=judge.benchmark,
        system=dialogue.system,
        character=dialogue.character,
        scenario=dialogue.scenario,
        status=status,
        calls=calls,
        repaired=repaired,
        **fields,
    )
