"""The ESRP two-round protocol of the ChatAnime study, for a new system.

Round 1: the actor (the system under test, told to be the character and the
user's supportive friend) answers the scenario's fixed opening line. Round 2:
the user simulator reacts to that answer with a follow-up question, and the actor
answers it as a real multi-turn chat (its round-1 answer in the history). This
mirrors how the study collected its 11 systems, so a generated dialogue can be
scored and compared like a released one.

Answers longer than the benchmark's limit (150 characters in the study) are kept
and counted, because silently truncating them would change what is scored;
``retry_over_limit`` re-asks instead, as a separate keyed call per attempt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from chatanime.backends.base import ChatMessage, GenerationParams
from chatanime.benchmark import Benchmark
from chatanime.characters import Character
from chatanime.dialogue import TurnSources
from chatanime.prompts import PromptTemplate, load_prompt
from chatanime.runner import CallContext
from chatanime.scenarios import Scenario
from chatanime.simulator import UserSimulator, text_length

ROLEPLAY_PROMPT = "roleplay"
ROLEPLAY_CARD_PROMPT = "roleplay-card"


def actor_prompt(language: str, *, card: bool = False) -> PromptTemplate:
    """The actor's system prompt template: plain, or with the character card."""
    return load_prompt(ROLEPLAY_CARD_PROMPT if card else ROLEPLAY_PROMPT, language)


def actor_system_prompt(benchmark: Benchmark, character: Character, *, card: bool = False) -> str:
    """The rendered system prompt for ``character`` in the benchmark's language."""
    text = character.card(benchmark.language)
    variables: dict[str, object] = {
        "character": text.name,
        "work": text.work,
        "answer_limit": benchmark.answer_limit,
    }
    if card:
        variables["card"] = text.model_dump(mode="json")
    return actor_prompt(benchmark.language, card=card).render(**variables)


def round1_messages(system: str, question_r1: str) -> list[ChatMessage]:
    return [
        ChatMessage(role="system", content=system),
        ChatMessage(role="user", content=question_r1),
    ]


def round2_messages(
    system: str, question_r1: str, answer_r1: str, question_r2: str
) -> list[ChatMessage]:
    """Round 2 is a real multi-turn chat: the actor sees its own round-1 answer."""
    return [
        *round1_messages(system, question_r1),
        ChatMessage(role="assistant", content=answer_r1),
        ChatMessage(role="user", content=question_r2),
    ]


def question_source(benchmark: Benchmark) -> str:
    """Round-1 questions are the release's on the built-in benchmark, else the benchmark's."""
    return "release" if benchmark.name == "chatanime" else f"benchmark:{benchmark.name}"


def over_limit(text: str, limit: int, language: str) -> bool:
    """Whether an answer is longer than the benchmark allows."""
    return text_length(text, language) > limit


class ActorAnswer(BaseModel):
    """One round's answer and how it was obtained."""

    model_config = ConfigDict(frozen=True)

    text: str
    attempts: int
    over_limit: bool


class DialogueOutcome(BaseModel):
    """A finished two-round dialogue plus the bookkeeping reports need."""

    model_config = ConfigDict(frozen=True)

    character: str
    scenario: int
    q1: str
    a1: str
    q2: str
    a2: str
    sources: TurnSources
    over_limit_rounds: tuple[int, ...] = ()
    actor_attempts: tuple[int, int] = (1, 1)
    usersim_attempts: int = 1
    lengths: dict[str, int] = Field(default_factory=dict)


@dataclass(frozen=True)
class EsrpProtocol:
    """Everything that decides what a generated dialogue says (one run's identity)."""

    actor: str
    simulator: UserSimulator
    benchmark: Benchmark
    card: bool = False
    params: GenerationParams = field(default_factory=GenerationParams)
    simulator_params: GenerationParams = field(default_factory=GenerationParams)
    retry_over_limit: int = 0

    @property
    def prompt(self) -> PromptTemplate:
        return actor_prompt(self.benchmark.language, card=self.card)

    async def _answer(
        self, ctx: CallContext, round_: int, messages: Sequence[ChatMessage]
    ) -> ActorAnswer:
        """Ask the actor; re-ask up to ``retry_over_limit`` times while over the limit.

        If every attempt is too long the shortest is kept (and counted as over).
        """
        best: ActorAnswer | None = None
        language, limit = self.benchmark.language, self.benchmark.answer_limit
        for attempt in range(1, self.retry_over_limit + 2):
            response = await ctx.call(
                step=f"actor{round_}#{attempt}",
                role="actor",
                model=self.actor,
                messages=messages,
                params=self.params,
                prompt_ref=self.prompt.ref,
            )
            text = response.text.strip()
            answer = ActorAnswer(
                text=text, attempts=attempt, over_limit=over_limit(text, limit, language)
            )
            if not answer.over_limit:
                return answer
            if best is None or text_length(text, language) < text_length(best.text, language):
                best = answer
        assert best is not None
        return best.model_copy(update={"attempts": self.retry_over_limit + 1})

    async def run(
        self, ctx: CallContext, character: Character, scenario: Scenario
    ) -> DialogueOutcome:
        """Both rounds for one (character, scenario)."""
        system = actor_system_prompt(self.benchmark, character, card=self.card)
        q1 = scenario.question_r1
        a1 = await self._answer(ctx, 1, round1_messages(system, q1))
        q2, sim_attempts = await self.simulator.ask(
            ctx,
            character=character,
            scenario=scenario,
            answer_r1=a1.text,
            params=self.simulator_params,
        )
        a2 = await self._answer(ctx, 2, round2_messages(system, q1, a1.text, q2))
        language = self.benchmark.language
        return DialogueOutcome(
            character=character.slug,
            scenario=scenario.id,
            q1=q1,
            a1=a1.text,
            q2=q2,
            a2=a2.text,
            sources=TurnSources(
                q1=question_source(self.benchmark),
                a1=f"model:{self.actor}",
                q2=f"user-sim:{self.simulator.model}",
                a2=f"model:{self.actor}",
            ),
            over_limit_rounds=tuple(r for r, a in ((1, a1), (2, a2)) if a.over_limit),
            actor_attempts=(a1.attempts, a2.attempts),
            usersim_attempts=sim_attempts,
            lengths={
                k: text_length(v, language)
                for k, v in (("a1", a1.text), ("q2", q2), ("a2", a2.text))
            },
        )
