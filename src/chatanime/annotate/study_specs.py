"""Study specs from what an admin types: comma lists, scenario ranges, names or slugs.

The ``create-study`` commands (and any other front end) take text such as
``"human,gpt-4.1"``, ``"luffy,漩涡鸣人"`` and ``"1-10,15"``; reading that text into a
:class:`~chatanime.annotate.study.StudySpec` or a
:class:`~chatanime.annotate.collect_study.CollectSpec` is library work, so every front end
reads it the same way and the CLI stays a thin call. Errors are ``DataError`` sentences
naming the option, raised before anything is written to the store.
"""

from __future__ import annotations

from pathlib import Path

from chatanime.annotate.collect_quiz import load_quiz
from chatanime.annotate.collect_study import (
    CollectSpec,
    SimulatorSettings,
    parse_respondents,
    resolve_character,
)
from chatanime.annotate.study import CreatedStudy, StudySpec, create_study, parse_scenarios
from chatanime.benchmark import Benchmark, load_benchmark
from chatanime.corpus import Corpus
from chatanime.errors import DataError
from chatanime.selection import parse_names as parse_names
from chatanime.store import Store


def character_slugs(benchmark: Benchmark, text: str) -> tuple[str, ...]:
    """Comma-separated characters (slug, release key, Chinese or English name) -> slugs, so
    a study stores one spelling whatever the admin typed."""
    return tuple(resolve_character(benchmark, c).slug for c in parse_names(text))


def _known_systems(corpus: Corpus, text: str) -> tuple[str, ...]:
    """The systems asked for, each one present in ``corpus`` (a typo would rate nothing)."""
    wanted = parse_names(text)
    unknown = [s for s in wanted if s not in corpus.systems]
    if unknown:
        known = ", ".join(corpus.systems) or "none (add system files with --extra FILE)"
        raise DataError(f"unknown system {unknown[0]!r}; systems: {known}")
    return wanted


def rating_study_spec(
    corpus: Corpus,
    *,
    name: str,
    systems: str,
    characters: str,
    scenarios: str,
    annotators: str,
    overlap: int = 2,
    diversity_sets: int = 0,
    diversity_n: int = 5,
    language: str | None = None,
    seed: int | None = None,
) -> StudySpec:
    """A rating study over ``corpus`` from the ``annotate create-study`` options.

    ``language`` defaults to the benchmark's; the benchmark's own character cards are
    snapshotted (a user benchmark's characters are not built-ins).
    """
    bench = corpus.benchmark
    return StudySpec(
        name=name,
        systems=_known_systems(corpus, systems),
        characters=character_slugs(bench, characters),
        scenarios=parse_scenarios(scenarios),
        annotators=parse_names(annotators),
        overlap=overlap,
        diversity_sets=diversity_sets,
        diversity_n=diversity_n,
        language=language or bench.language,
        seed=seed,
        benchmark=bench.name,
        cards=bench.characters,
    )


def create_rating_study(store: Store, corpus: Corpus, spec: StudySpec) -> CreatedStudy:
    """Create ``spec`` with the dialogues of ``corpus`` it selects (systems x characters x
    scenarios); the items snapshot those dialogues."""
    selection = corpus.filter(
        systems=spec.systems, characters=spec.characters, scenarios=spec.scenarios
    )
    return create_study(store, spec, selection.dialogues)


def collection_spec(
    benchmark: Benchmark | str,
    *,
    name: str,
    user_sim: str,
    characters: str,
    scenarios: str | None = None,
    respondents: str = "",
    per_character: int = 1,
    limit: int | None = None,
    min_length: int = 5,
    quiz: Path | None = None,
    user_sim_attempts: int = 3,
    user_sim_timeout: float = 30.0,
    seed: int | None = None,
) -> CollectSpec:
    """A collection study from the ``collect create-study`` options (same defaults).

    ``scenarios`` defaults to all of the benchmark's; ``respondents`` are ``name:character``
    pairs or bare names; a ``quiz`` file is read and checked against the study's characters.
    """
    bench = load_benchmark(benchmark) if isinstance(benchmark, str) else benchmark
    slugs = character_slugs(bench, characters)
    ids = parse_scenarios(scenarios) if scenarios else tuple(s.id for s in bench.scenarios)
    return CollectSpec(
        name=name,
        benchmark=bench,
        characters=slugs,
        scenarios=ids,
        simulator=SimulatorSettings(
            user_sim, attempts=user_sim_attempts, timeout_s=user_sim_timeout
        ),
        respondents=parse_respondents(respondents),
        per_character=per_character,
        limit=limit,
        min_length=min_length,
        quiz=load_quiz(quiz, dict.fromkeys(slugs)) if quiz else None,
        seed=seed,
    )
