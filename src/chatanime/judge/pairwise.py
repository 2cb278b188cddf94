"""The ``pairwise-vs-fans`` judge: a system's dialogue against the fans', per dimension.

Why pairwise: a plain pointwise judge put the fans last on every dimension because its
scores rose with length, and fans write short. Asking "which of these two is better?" for
the *same* character and scenario removes the item's difficulty and most scale-use habits,
and reporting against the fans answers the question people actually ask ("does the model
beat the fans?"). Round 1 is matched exactly (same opening line); round 2 is shown as each
conversation happened, so each answer is judged within its own conversation.

Position bias is cancelled by design: every pair is judged twice, ``AB`` (system shown
first) and ``BA`` (fans first), each its own stored judgment (``judgments.order``,
``opponent='human'``). Verdicts are stored per dimension as ``scores`` rows (round 0,
metric = dimension id) valued from the *system's* point of view: +1 system better, 0 tie,
-1 fans better; :func:`system_value` does the translation. Running it over a corpus is
:mod:`chatanime.judge.pairwise_job`; aggregation (win / tie / loss with intervals, flip
share) is :mod:`chatanime.judge.pairwise_summary`.

The judge sees the rubric's dimension descriptions and its do-not-reward guidance, never
which dialogue is the fans'. Invalid replies are re-asked with the validation error, then
stored unscored with the raw text (shared machinery of :mod:`chatanime.judge.pointwise`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from sqlalchemy import Connection

from chatanime.backends.base import ChatMessage, GenerationParams
from chatanime.characters import CardText
from chatanime.corpus import HUMAN
from chatanime.dialogue import Dialogue
from chatanime.judge.judgments import judgment_persister
from chatanime.judge.modes import PAIRWISE_VS_FANS
from chatanime.judge.parse import ReplyParser
from chatanime.judge.pointwise import JudgmentOutcome, Request, ask_valid
from chatanime.judge.prompt import (
    CARD_TAG,
    DIALOGUE_TAG,
    JudgeTexts,
    data_block,
    dialogue_payload,
)
from chatanime.judge.rubric import DIMENSION_IDS, DIMENSION_METRICS, Rubric
from chatanime.runner import CallContext, Persist, stable_hash
from chatanime.store.schema import judgments

MODE = PAIRWISE_VS_FANS
OPPONENT = HUMAN
Order = Literal["AB", "BA"]
ORDERS: tuple[Order, Order] = ("AB", "BA")
"""``AB``: the system's dialogue is A (shown first); ``BA``: the fans' dialogue is A."""
PAIRWISE_PROMPT = "judge-pairwise"
PAIRWISE_REPAIR = "judge-pairwise-repair"


def _verdict(value: Any) -> Any:
    """``"a"``, ``" Tie "`` -> ``"A"``, ``"tie"``: case and spaces are not worth a repair."""
    if isinstance(value, str):
        text = value.strip()
        return text.upper() if text.upper() in ("A", "B") else text.lower()
    return value


Verdict = Annotated[Literal["A", "B", "tie"], BeforeValidator(_verdict)]


class Verdicts(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    basic: Verdict
    roleplay: Verdict
    emotional: Verdict

    def as_dict(self) -> dict[str, str]:
        return {d: str(getattr(self, d)) for d in DIMENSION_IDS}


class PairwiseReply(BaseModel):
    """``{"rationale": "...", "verdicts": {"basic": "A"|"B"|"tie", ...}}``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    rationale: str = Field(min_length=1)
    verdicts: Verdicts


def pairwise_parser() -> ReplyParser[PairwiseReply]:
    return ReplyParser(PairwiseReply, "verdicts")


def system_value(verdict: str, order: Order) -> int:
    """+1 if the system's dialogue won, -1 if the fans' did, 0 for a tie."""
    if verdict == "tie":
        return 0
    system_slot = "A" if order == "AB" else "B"
    return 1 if verdict == system_slot else -1


def pairwise_example() -> str:
    example = {"rationale": "...", "verdicts": dict.fromkeys(DIMENSION_IDS, "?")}
    return json.dumps(example, ensure_ascii=False, indent=2)


def _bullets(lines: Sequence[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)


def dimensions_text(rubric: Rubric) -> str:
    """Each dimension with its description and the metrics it covers (no anchors)."""
    sep = "：" if rubric.language == "zh" else ": "
    lines = []
    for dim_id in DIMENSION_IDS:
        dim = rubric.dimension(dim_id)
        lines.append(f"- {dim.name} ({dim.id}){sep}{dim.description}")
        for metric_id in DIMENSION_METRICS[dim_id]:
            metric = rubric.metric(metric_id)
            lines.append(f"  - {metric.name}{sep}{metric.measures}")
    return "\n".join(lines)


def pair_payload(first: Dialogue, second: Dialogue, card: CardText) -> dict[str, Any]:
    """``{"A": first, "B": second}``, each as the pointwise judge sees a dialogue."""
    return {
        "A": dialogue_payload(first, card, (1, 2)),
        "B": dialogue_payload(second, card, (1, 2)),
    }


@dataclass(frozen=True)
class PairwisePrompt(JudgeTexts):
    """The pairwise templates and the rubric they quote (all hashed)."""

    PROMPT_ID: ClassVar[str] = PAIRWISE_PROMPT
    REPAIR_ID: ClassVar[str] = PAIRWISE_REPAIR

    def render(self, first: Dialogue, second: Dialogue, card: CardText) -> str:
        guidance = self.rubric.spec.guidance
        return self.template.render(
            guidance_do_not=_bullets(guidance.do_not_reward),
            guidance_do=_bullets(guidance.do_reward),
            dimensions=dimensions_text(self.rubric),
            card_block=data_block(card.model_dump(mode="json"), CARD_TAG),
            dialogue_block=data_block(pair_payload(first, second, card), DIALOGUE_TAG),
            output_example=pairwise_example(),
        )

    def repair_message(self, error: str) -> ChatMessage:
        text = self.repair.render(error=error, output_example=pairwise_example())
        return ChatMessage(role="user", content=text)


class PairwiseOutcome(JudgmentOutcome):
    """A judgment of one pair in one order; ``scores`` = ``{0: {dimension: +1|0|-1}}``."""

    opponent: str
    order: Order
    verdicts: dict[str, str] = Field(default_factory=dict)
    """The judge's raw verdicts (``A`` / ``B`` / ``tie``), before mapping to the system."""


@dataclass(frozen=True)
class PairwiseJudge:
    """One judge model comparing systems with the fans, with its prompt and parameters."""

    model: str
    prompt: PairwisePrompt
    benchmark: str
    params: GenerationParams = field(default_factory=lambda: GenerationParams(temperature=0.0))
    repairs: int = 2
    opponent: str = OPPONENT

    def judgment_id(self, dialogue: Dialogue, order: Order) -> str:
        judge = (self.model, MODE, self.prompt.sha256, self.prompt.rubric.sha256, self.benchmark)
        item = (dialogue.system, self.opponent, dialogue.character, dialogue.scenario, order)
        return f"j-{stable_hash([*judge, *item], 32)}"

    def request(
        self, system: Dialogue, fans: Dialogue, card: CardText, order: Order
    ) -> Request[PairwiseReply]:
        first, second = (system, fans) if order == "AB" else (fans, system)
        text = self.prompt.render(first, second, card)
        return Request(
            model=self.model,
            messages=[ChatMessage(role="user", content=text)],
            params=self.params,
            prompt_ref=self.prompt.ref,
            parse=pairwise_parser(),
            repair=self.prompt.repair_message,
            repairs=self.repairs,
        )


async def judge_pair(
    ctx: CallContext,
    judge: PairwiseJudge,
    system: Dialogue,
    fans: Dialogue,
    card: CardText,
    order: Order,
) -> PairwiseOutcome:
    """Judge one pair in one order: verdicts mapped to the system's view, or unscored."""
    asked = await ask_valid(ctx, "all", judge.request(system, fans, card, order))
    common: dict[str, Any] = {
        "judgment_id": judge.judgment_id(system, order),
        "mode": MODE,
        "judge_model": judge.model,
        "prompt_ref": judge.prompt.ref,
        "rubric_ref": judge.prompt.rubric.ref,
        "benchmark": judge.benchmark,
        "system": system.system,
        "opponent": judge.opponent,
        "order": order,
        "character": system.character,
        "scenario": system.scenario,
        "calls": asked.calls,
        "repaired": asked.calls > 1,
    }
    if asked.value is None:
        error = asked.error or "no judgment"
        return PairwiseOutcome(status="unscored", raw_text=asked.raw_text, error=error, **common)
    verdicts = asked.value.verdicts.as_dict()
    values = {dim: float(system_value(v, order)) for dim, v in verdicts.items()}
    return PairwiseOutcome(
        status="scored",
        rationale=asked.value.rationale,
        verdicts=verdicts,
        scores={0: values},
        **common,
    )


@dataclass(frozen=True)
class PairwiseUnit:
    """One (system dialogue, fans' dialogue, order) judged by one judge."""

    id: str
    judge: PairwiseJudge
    dialogue: Dialogue
    fans: Dialogue
    card: CardText
    order: Order

    async def run(self, ctx: CallContext) -> dict[str, Any]:
        outcome = await judge_pair(ctx, self.judge, self.dialogue, self.fans, self.card, self.order)
        return outcome.model_dump(mode="json")


def pairwise_persister(run_id: str) -> Persist:
    """The shared judgment persister, plus the pairwise columns ``opponent`` and ``order``."""
    base = judgment_persister(run_id)

    def persist(conn: Connection, unit_id: str, result: Mapping[str, Any]) -> None:
        base(conn, unit_id, result)
        outcome = PairwiseOutcome.model_validate(result)
        conn.execute(
            judgments.update()
            .where(judgments.c.id == outcome.judgment_id)
            .values(opponent=outcome.opponent, order=outcome.order)
        )

    return persist
