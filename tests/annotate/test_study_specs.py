"""Study specs from typed options: comma lists, character names, scenario ranges, defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from chatanime.annotate.study_specs import (
    character_slugs,
    collection_spec,
    create_rating_study,
    parse_names,
    rating_study_spec,
)
from chatanime.annotate.tables import items
from chatanime.benchmark import load_benchmark
from chatanime.corpus import Corpus
from chatanime.errors import DataError
from chatanime.store import Store
from tests.annotate.support import synthetic_dialogues


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    """human, gpt-4.1, deepseek-v3 x luffy, naruto x scenarios 1-6 (synthetic answers)."""
    return Corpus(synthetic_dialogues(), load_benchmark("chatanime"))


def test_parse_names_drops_blanks() -> None:
    assert parse_names(" a, b,,c ,") == ("a", "b", "c")
    assert parse_names("") == ()


def test_characters_by_any_name_become_slugs(corpus: Corpus) -> None:
    bench = corpus.benchmark
    naruto = bench.character("naruto")
    typed = f"luffy, {naruto.zh.name}, {naruto.key}, {naruto.en.name.upper()}"
    assert character_slugs(bench, typed) == ("luffy", "naruto", "naruto", "naruto")
    with pytest.raises(DataError, match="nobody"):
        character_slugs(bench, "luffy,nobody")


def test_rating_spec_reads_every_option(corpus: Corpus) -> None:
    spec = rating_study_spec(
        corpus,
        name="pilot",
        systems=" human, gpt-4.1 ",
        characters="luffy,漩涡鸣人",
        scenarios="1-2,5",
        annotators="alice, bob,,carol",
        overlap=3,
        diversity_sets=1,
        diversity_n=4,
        seed=9,
    )
    assert spec.systems == ("human", "gpt-4.1")
    assert spec.characters == ("luffy", "naruto")
    assert spec.scenarios == (1, 2, 5)
    assert spec.annotators == ("alice", "bob", "carol")
    assert (spec.overlap, spec.diversity_sets, spec.diversity_n, spec.seed) == (3, 1, 4, 9)
    assert spec.language == "zh" and spec.benchmark == "chatanime"  # the benchmark's
    assert spec.cards == corpus.benchmark.characters
    english = rating_study_spec(
        corpus, name="p", systems="human", characters="luffy", scenarios="1", annotators="a",
        language="en",
    )  # fmt: skip
    assert english.language == "en"


def test_unknown_system_names_the_known_ones(corpus: Corpus) -> None:
    options = dict(name="x", characters="luffy", scenarios="1", annotators="a,b")
    with pytest.raises(DataError) as err:
        rating_study_spec(corpus, systems="human,gpt-5", **options)
    assert str(err.value) == ("unknown system 'gpt-5'; systems: human, deepseek-v3, gpt-4.1")
    empty = Corpus([], corpus.benchmark)
    with pytest.raises(DataError, match=r"none \(add system files with --extra FILE\)"):
        rating_study_spec(empty, systems="human", **options)


def test_rating_study_snapshots_only_the_selected_dialogues(
    corpus: Corpus, sqlite_store: Store
) -> None:
    spec = rating_study_spec(
        corpus, name="pilot", systems="human,gpt-4.1", characters="naruto", scenarios="2-3",
        annotators="alice,bob", seed=1,
    )  # fmt: skip
    created = create_rating_study(sqlite_store, corpus, spec)
    assert (created.n_items, created.n_assignments) == (4, 8)
    with sqlite_store.engine.connect() as conn:
        rows = conn.execute(select(items.c.system, items.c.character, items.c.scenario)).all()
    assert sorted(tuple(r) for r in rows) == [
        ("gpt-4.1", "naruto", 2),
        ("gpt-4.1", "naruto", 3),
        ("human", "naruto", 2),
        ("human", "naruto", 3),
    ]


def test_collection_spec_defaults_match_the_command() -> None:
    luffy = load_benchmark("chatanime").character("luffy").zh.name
    spec = collection_spec("chatanime", name="fans", user_sim="fake/user-sim", characters=luffy)
    assert spec.benchmark.name == "chatanime" and spec.characters == ("luffy",)
    assert spec.scenarios == tuple(range(1, 61))  # every scenario of the benchmark
    assert (spec.per_character, spec.min_length, spec.limit, spec.quiz) == (1, 5, None, None)
    assert spec.answer_limit == spec.benchmark.answer_limit
    assert (spec.simulator.model, spec.simulator.attempts, spec.simulator.timeout_s) == (
        "fake/user-sim",
        3,
        30.0,
    )
    assert spec.respondents == () and spec.seed is None


def test_collection_spec_reads_every_option(tmp_path: Path) -> None:
    quiz = tmp_path / "quiz.yaml"
    quiz.write_text("characters:\n  luffy:\n    - {question: q, accept: [a]}\n", encoding="utf-8")
    bench = load_benchmark("chatanime-en")
    spec = collection_spec(
        bench, name="fans", user_sim="fake/user-sim", characters="luffy,naruto",
        scenarios="3-4", respondents="alice:luffy,bob", per_character=2, limit=40,
        min_length=2, quiz=quiz, user_sim_attempts=2, user_sim_timeout=5.0, seed=4,
    )  # fmt: skip
    assert spec.benchmark is bench and spec.scenarios == (3, 4)
    assert spec.respondents == (("alice", "luffy"), ("bob", None))
    assert (spec.per_character, spec.limit, spec.min_length, spec.seed) == (2, 40, 2, 4)
    assert spec.answer_limit == 40
    assert (spec.simulator.attempts, spec.simulator.timeout_s) == (2, 5.0)
    assert spec.quiz is not None and set(spec.quiz.characters) == {"luffy"}


def test_collection_spec_refuses_bad_options(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="provider/model"):
        collection_spec("chatanime", name="x", user_sim="nomodel", characters="luffy")
    with pytest.raises(DataError, match="--scenarios"):
        collection_spec("chatanime", name="x", user_sim="f/x", characters="luffy", scenarios="a")
    quiz = tmp_path / "quiz.yaml"
    quiz.write_text("characters:\n  levi:\n    - {question: q, accept: [a]}\n", encoding="utf-8")
    with pytest.raises(DataError, match="levi"):
        collection_spec("chatanime", name="x", user_sim="f/x", characters="luffy", quiz=quiz)
