"""Report fixtures: a small slice of the real release and stores with planted scores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chatanime.corpus import Corpus, load_corpus
from chatanime.report.build import Report, build_report
from chatanime.store import Store, open_store
from tests.report.support import insert_judge_scores, insert_judged_diversity, insert_pairwise

CHARACTERS = ["luffy", "naruto", "gintoki", "levi"]
SCENARIOS = [1, 8, 16, 23, 31, 38, 46, 53]
# A planted order: qwen-max best, human second, doubao-rp last; the rest in between.
OFFSETS = {"qwen-max": 1.0, "human": 0.5, "doubao-rp": -1.0}
UNSCORED = [("gpt-4.1", "luffy", 1), ("gpt-4.1", "naruto", 8)]
LENGTH_BIAS = 0.4  # judge a rewards long answers; judge b does not
JUDGED_DIVERSITY = {"human": 4.5, "qwen-max": 2.0}  # every other system: 3.0


@pytest.fixture(scope="session")
def release_corpus(release_dir: Path) -> Corpus:
    return load_corpus(release_dir, download=False)


@pytest.fixture(scope="session")
def small_corpus(release_corpus: Corpus) -> Corpus:
    """11 systems x 4 characters x 8 scenarios of the real release."""
    return release_corpus.filter(characters=CHARACTERS, scenarios=SCENARIOS)


def seeded_store(url: str, corpus: Corpus) -> Store:
    """Two judges (a: planted offsets and length bias, 2 unscored items; b: same offsets, other
    noise), a pairwise judge that prefers gpt-4.1 to the fans, and judged diversity."""
    store = open_store(url)
    insert_judge_scores(
        store,
        corpus,
        "fake/judge-a",
        offsets=OFFSETS,
        unscored=UNSCORED,
        style_effect=LENGTH_BIAS,
    )
    insert_judge_scores(store, corpus, "fake/judge-b", offsets=OFFSETS, seed=1)
    insert_pairwise(store, corpus, "fake/judge-a", win_prob={"gpt-4.1": 0.7})
    diversity = {s: JUDGED_DIVERSITY.get(s, 3.0) for s in corpus.systems}
    insert_judged_diversity(store, corpus, "fake/judge-a", diversity, unscored=[("human", "levi")])
    return store


@pytest.fixture(scope="session")
def judged_store(tmp_path_factory: pytest.TempPathFactory, small_corpus: Corpus) -> Iterator[Store]:
    path = tmp_path_factory.mktemp("judged") / "store.db"
    store = seeded_store(f"sqlite:///{path}", small_corpus)
    yield store
    store.dispose()


@pytest.fixture(scope="session")
def judged_report(small_corpus: Corpus, judged_store: Store) -> Report:
    """Every section: two judges + ensemble, style control, pairwise, diversity, examples."""
    return build_report(small_corpus, judged_store, n_boot=200)


@pytest.fixture
def empty_store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(f"sqlite:///{tmp_path / 'empty.db'}")
    yield store
    store.dispose()
