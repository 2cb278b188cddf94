"""What the report shows without any scores: the corpus, its style, and example dialogues.

These sections need nothing but the release, so a fresh machine's report is never empty.

Example dialogues: a self-contained HTML file cannot hold all 20 x 60 dialogues of every
system comfortably (about 9 MB), so the browser covers two scenarios per persona -- the first
and the middle one of the persona's scenarios in the corpus (:func:`example_scenarios`) -- for
every character, with every system's two rounds side by side. The rule is the benchmark's, not
the release's ids, so a user benchmark gets examples of each of its personas too; on the full
release it gives :data:`EXAMPLE_SCENARIOS` (the first and the eighth of each block of 15),
i.e. 160 character x scenario pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from chatanime.corpus import Corpus, SystemSummary, length_unit, summarise
from chatanime.metrics.style import FEATURE_NAMES

EXAMPLE_SCENARIOS: tuple[int, ...] = (1, 8, 16, 23, 31, 38, 46, 53)
"""What :func:`example_scenarios` picks on the full release (and the built-in benchmarks)."""
EXAMPLE_RULE = "the first and the middle scenario of each persona"


@dataclass(frozen=True)
class CharacterLabel:
    slug: str
    name: str  # in the benchmark's language
    name_en: str
    work: str


@dataclass(frozen=True)
class SystemOverview:
    """One system's counts, lengths, 150-char compliance and mean style features."""

    summary: SystemSummary
    style: dict[str, float]


@dataclass(frozen=True)
class Overview:
    benchmark: str
    benchmark_ref: str
    language: str
    answer_limit: int
    length_unit: str  # what lengths and the limit count: characters (zh) or words (en)
    n_characters: int
    n_scenarios: int
    systems: tuple[SystemOverview, ...]
    n_items: int  # character x scenario pairs
    round2_shared: int  # pairs whose round-2 question is the same for every system


@dataclass(frozen=True)
class ExampleAnswer:
    system: str
    q2: str
    a1: str
    a2: str


@dataclass(frozen=True)
class ExampleItem:
    character: str
    scenario: int
    persona: str
    emotion: str
    location: str
    q1: str
    answers: tuple[ExampleAnswer, ...]


def character_labels(corpus: Corpus) -> list[CharacterLabel]:
    """The benchmark's characters in its order, named in its language."""
    lang = corpus.benchmark.language
    return [
        CharacterLabel(c.slug, c.card(lang).name, c.name_en, c.card(lang).work)
        for c in corpus.benchmark.characters
    ]


def round2_shared(corpus: Corpus) -> tuple[int, int]:
    """(pairs whose round-2 question is identical across systems, pairs seen)."""
    questions: dict[tuple[str, int], set[str]] = {}
    for d in corpus.dialogues:
        questions.setdefault((d.character, d.scenario), set()).add(d.q2)
    return sum(1 for qs in questions.values() if len(qs) == 1), len(questions)


def build_overview(corpus: Corpus, style_means: pd.DataFrame) -> Overview:
    """Counts, lengths and style per system (``style_means``: system x feature means)."""
    means: dict[str, dict[str, float]] = {
        str(system): {f: float(row[f]) for f in FEATURE_NAMES}
        for system, row in style_means.iterrows()
    }
    rows = [SystemOverview(s, means.get(s.system, {})) for s in summarise(corpus)]
    shared, pairs = round2_shared(corpus)
    bench = corpus.benchmark
    return Overview(
        benchmark=bench.name,
        benchmark_ref=bench.ref,
        language=bench.language,
        answer_limit=bench.answer_limit,
        length_unit=length_unit(bench.language),
        n_characters=len({d.character for d in corpus.dialogues}),
        n_scenarios=len({d.scenario for d in corpus.dialogues}),
        systems=tuple(rows),
        n_items=pairs,
        round2_shared=shared,
    )


def example_scenarios(corpus: Corpus) -> tuple[int, ...]:
    """Two scenario ids per persona: the first and the middle of its scenarios in ``corpus``.

    Only scenarios with dialogues count, so a filtered corpus still gets examples; on the
    release's 60 (15 per persona) this is :data:`EXAMPLE_SCENARIOS`.
    """
    present = {d.scenario for d in corpus.dialogues}
    by_persona: dict[str, list[int]] = {}
    for s in sorted(corpus.benchmark.scenarios, key=lambda s: s.id):
        if s.id in present:
            by_persona.setdefault(s.persona, []).append(s.id)
    chosen = {ids[k] for ids in by_persona.values() for k in (0, len(ids) // 2)}
    return tuple(sorted(chosen))


def build_examples(
    corpus: Corpus, scenarios: Sequence[int] | None = None
) -> tuple[ExampleItem, ...]:
    """Every system's dialogue for each character x scenario of ``scenarios`` (that exists).

    ``None`` picks them with :func:`example_scenarios`.
    """
    if scenarios is None:
        scenarios = example_scenarios(corpus)
    bench = corpus.benchmark
    lang = bench.language
    known = {s.id: s for s in bench.scenarios}
    out = []
    for char in bench.characters:
        for sid in scenarios:
            scen = known.get(sid)
            answers = tuple(
                ExampleAnswer(d.system, d.q2, d.a1, d.a2)
                for system in corpus.systems
                if (d := corpus.get(system, char.slug, sid)) is not None
            )
            if scen is None or not answers:
                continue
            q1 = corpus.get(answers[0].system, char.slug, sid)
            out.append(
                ExampleItem(
                    character=char.slug,
                    scenario=sid,
                    persona=scen.persona.label(lang),
                    emotion=scen.emotion.label(lang),
                    location=scen.location,
                    q1=q1.q1 if q1 is not None else scen.question_r1,
                    answers=answers,
                )
            )
    return tuple(out)
