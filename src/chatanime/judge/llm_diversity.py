"""LLM-judged Response Diversity: one 1..5 score for a set of one system's answers.

The study rates diversity over a character's whole set of answers, not per dialogue,
because a template ("我是X！……我相信你！") only shows across many answers. A unit per
(judge, system, character) shows the judge a seeded sample of ``size`` answers (default
10) as escaped data and asks for one integer with a rationale. The sample is seeded by
(seed, system, character), so every judge and every rerun sees the same set; the
sampled items are part of the judgment id. Rows: ``judgments`` with ``mode='diversity'``
and ``scenario=0`` (a set, not a dialogue), one ``scores`` row ``(round 0, 'diversity')``.

Automatic diversity measures (distinct-n, Self-BLEU) live in :mod:`chatanime.metrics`;
this is the optional judged counterpart.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chatanime.backends.base import ChatMessage, GenerationParams
from chatanime.benchmark import Benchmark
from chatanime.characters import CardText
from chatanime.corpus import Corpus
from chatanime.dialogue import Dialogue
from chatanime.judge.judgments import JudgeRun, ModelFactory, run_judge, unit_ids
from chatanime.judge.parse import diversity_parser
from chatanime.judge.pointwise import JudgmentOutcome, Request, ask_valid
from chatanime.judge.prompt import ANSWERS_TAG, REPAIR_PROMPT, data_block
from chatanime.judge.rubric import ANCHOR_SCORES, DIVERSITY, Rubric, load_rubric
from chatanime.pricing import PriceTable
from chatanime.prompts import PromptTemplate, load_prompt
from chatanime.runner import CallContext, RunOptions, RunSpec, stable_hash
from chatanime.store import Store

MODE = "diversity"
PROMPT_ID = "judge-diversity"
RUN_KIND = "judge-diversity"
DEFAULT_SIZE = 10


@dataclass(frozen=True)
class SampledAnswer:
    scenario: int
    round: int
    question: str
    answer: str


def sample_answers(
    dialogues: Sequence[Dialogue], size: int, seed: int, system: str, character: str
) -> list[SampledAnswer]:
    """A seeded sample of ``size`` answers (both rounds) of one system for one character."""
    pool = [
        SampledAnswer(d.scenario, r, d.question(r), d.answer(r))
        for d in dialogues
        if d.system == system and d.character == character
        for r in (1, 2)
    ]
    rng = random.Random(stable_hash([seed, system, character]))
    chosen = rng.sample(pool, min(size, len(pool)))
    return sorted(chosen, key=lambda a: (a.scenario, a.round))


def diversity_rubric_text(rubric: Rubric) -> str:
    """The diversity part of the rubric: what it measures and the 1/3/5 anchors."""
    div = rubric.spec.diversity
    lines = [f"{div.name} ({DIVERSITY}): {div.measures}"]
    lines += [f"- {score}: {div.anchors[score]}" for score in ANCHOR_SCORES]
    return "\n".join(lines)


def diversity_example() -> str:
    return json.dumps({"rationale": "...", "diversity": 0}, ensure_ascii=False, indent=2)


@dataclass(frozen=True)
class DiversityJudge:
    """One judge model rating answer sets, with its prompt, rubric and sample settings."""

    model: str
    benchmark: str
    language: str
    size: int = DEFAULT_SIZE
    seed: int = 0
    params: GenerationParams = field(default_factory=lambda: GenerationParams(temperature=0.0))
    repairs: int = 2

    @property
    def template(self) -> PromptTemplate:
        return load_prompt(PROMPT_ID, self.language)

    @property
    def repair(self) -> PromptTemplate:
        return load_prompt(REPAIR_PROMPT, self.language)

    @property
    def rubric(self) -> Rubric:
        return load_rubric(self.language)

    def judgment_id(self, system: str, character: str, sample: Sequence[SampledAnswer]) -> str:
        items = [[a.scenario, a.round] for a in sample]
        key = [self.model, MODE, self.template.sha256, self.rubric.sha256]
        return f"j-{stable_hash([*key, self.benchmark, system, character, items], 32)}"

    def messages(self, card: CardText, sample: Sequence[SampledAnswer]) -> list[ChatMessage]:
        payload = {
            "character": card.name,
            "work": card.work,
            "answers": [
                {"n": i, "user": a.question, "answer": a.answer} for i, a in enumerate(sample, 1)
            ],
        }
        text = self.template.render(
            diversity_rubric=diversity_rubric_text(self.rubric),
            count=len(sample),
            answers_block=data_block(payload, ANSWERS_TAG),
            output_example=diversity_example(),
        )
        return [ChatMessage(role="user", content=text)]

    def run_spec(self, benchmark: Benchmark, config: Mapping[str, Any]) -> RunSpec:
        identity = {
            "judge": self.model,
            "mode": MODE,
            "prompt": self.template.ref,
            "repair": self.repair.ref,
            "rubric": self.rubric.ref,
            "benchmark": {"name": benchmark.name, "sha256": benchmark.sha256},
            "params": self.params.model_dump(mode="json", exclude={"timeout_s"}),
            "size": self.size,
            "seed": self.seed,
        }
        config = {"repairs": self.repairs, **dict(config)}
        return RunSpec(RUN_KIND, f"{self.model}:{MODE}", identity, config)


@dataclass(frozen=True)
class DiversityUnit:
    """One (system, character) answer set judged by one judge."""

    id: str
    judgment_id: str
    judge: DiversityJudge
    system: str
    character: str
    card: CardText
    sample: tuple[SampledAnswer, ...]

    async def run(self, ctx: CallContext) -> dict[str, Any]:
        judge = self.judge
        request = Request(
            model=judge.model,
            messages=judge.messages(self.card, self.sample),
            params=judge.params,
            prompt_ref=judge.template.ref,
            parse=diversity_parser(),
            repair=lambda error: ChatMessage(
                role="user",
                content=judge.repair.render(error=error, output_example=diversity_example()),
            ),
            repairs=judge.repairs,
        )
        asked = await ask_valid(ctx, "set", request)
        scored = asked.value is not None
        outcome = JudgmentOutcome(
            judgment_id=self.judgment_id,
            mode=MODE,
            judge_model=judge.model,
            prompt_ref=judge.template.ref,
            rubric_ref=judge.rubric.ref,
            benchmark=judge.benchmark,
            system=self.system,
            character=self.character,
            scenario=0,
            status="scored" if scored else "unscored",
            rationale=asked.value.rationale if asked.value else None,
            raw_text=asked.raw_text if not scored else None,
            error=asked.error,
            scores={0: {DIVERSITY: float(asked.value.diversity)}} if asked.value else {},
            calls=asked.calls,
            repaired=asked.calls > 1,
        )
        return outcome.model_dump(mode="json")


@dataclass
class DiversityReport:
    """Every judge's diversity run, and the scores of this selection's sets."""

    runs: list[JudgeRun]
    sets: int
    scores: dict[tuple[str, str, str], float | None]
    """(judge, system, character) -> score, ``None`` when unscored or missing."""


def build_units(
    judge: DiversityJudge,
    spec: RunSpec,
    store: Store,
    corpus: Corpus,
    dialogues: Sequence[Dialogue],
) -> list[DiversityUnit]:
    """One unit per (system, character) present in ``dialogues``."""
    pairs = list(dict.fromkeys((d.system, d.character) for d in dialogues))
    samples = {p: sample_answers(dialogues, judge.size, judge.seed, *p) for p in pairs}
    ids = {p: judge.judgment_id(*p, samples[p]) for p in pairs}
    by_id = unit_ids(store, spec.id, list(ids.values()))
    bench = corpus.benchmark
    return [
        DiversityUnit(by_id[ids[p]], ids[p], judge, p[0], p[1], bench.card(p[1]), tuple(samples[p]))
        for p in pairs
    ]


async def judge_diversity_async(
    judges: Sequence[DiversityJudge],
    corpus: Corpus,
    dialogues: Sequence[Dialogue],
    store: Store,
    *,
    models: ModelFactory,
    options: RunOptions | None = None,
    prices: PriceTable | None = None,
    run_config: Mapping[str, Any] | None = None,
    limit: int | None = None,
) -> DiversityReport:
    """Rate every (system, character) set of ``dialogues`` with every judge."""
    runs, results = [], {}
    sets = 0
    for judge in judges:
        spec = judge.run_spec(corpus.benchmark, dict(run_config or {}))
        units = build_units(judge, spec, store, corpus, dialogues)[:limit]
        sets = len(units)
        ids = [u.judgment_id for u in units]
        run = await run_judge(
            store,
            spec,
            judge.model,
            units,
            ids,
            models=models,
            options=options or RunOptions(),
            prices=prices,
        )
        runs.append(run)
        for unit in units:
            value = run.summary.results.get(unit.id, {}).get("scores", {}).get("0", {})
            results[(judge.model, unit.system, unit.character)] = value.get(DIVERSITY)
    return DiversityReport(runs, sets, results)


def judge_diversity(*args: Any, **kwargs: Any) -> DiversityReport:
    """Synchronous :func:`judge_diversity_async`."""
    return asyncio.run(judge_diversity_async(*args, **kwargs))
