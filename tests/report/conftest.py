"""Report fixtures: a small slice of the real release and stores with planted scores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chatanime.corpus import Corpus, load_corpus
from chatanime.store import Store, open_store
from tests.report.support import insert_judge_scores, insert_pairwise

CHARACTERS = ["luffy", "naruto", "gintoki", "levi"]
SCENARIOS = [1, 8, 16, 23, 31, 38, 46, 53]
# A planted order: qwen-max best, human second, doubao-rp last; the rest in between.
OFFSETS = {"qwen-max": 1.0, "human": 0.5, "doubao-rp": -1.0}
UNSCORED = [("gpt-4.1", "luffy", 1), ("gpt-4.1", "naruto", 8)]


@pytest.fixture(scope="session")
def release_corpus(release_dir: Path) -> Corpus:
    return load_corpus(release_dir, download=False)


@pytest.fixture(scope="session")
def small_corpus(release_corpus: Corpus) -> Corpus:
    """11 systems x 4 characters x 8 scenarios of the real release."""
    return release_corpus.filter(characters=CHARACTERS, scenarios=SCENARIOS)


def seeded_store(url: str, corpus: Corpus) -> Store:
    """Two judges (a: planted offsets, 2 unscored items; b: same offsets, other noise) and a
    pairwise judge that prefers gpt-4.1 to the fans."""
    store = open_store(url)
    insert_judge_scores(store, corpus, "fake/judge-a", offsets=OFFSETS, unscored=UNSCORED)
    insert_judge_scores(store, corpus, "fake/judge-b", offsets=OFFSETS, seed=1)
    insert_pairwise(store, corpus, "fake/judge-a", win_prob={"gpt-4.1": 0.7})
    return store


@pytest.fixture(scope="module")
def judged_store(tmp_path_factory: pytest.TempPathFactory, small_corpus: Corpus) -> Iterator[Store]:
    path = tmp_path_factory.mktemp("judged") / "store.db"
    store = seeded_store(f"sqlite:///{path}", small_corpus)
    yield store
    store.dispose()


@pytest.fixture
def empty_store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(f"sqlite:///{tmp_path / 'empty.db'}")
    yield store
    store.dispose()
