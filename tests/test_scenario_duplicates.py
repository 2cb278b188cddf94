"""Near-duplicate removal: normalised shingles, greedy order, the vectorised similarity."""

from __future__ import annotations

import random

import pytest

from chatanime.scenario_duplicates import jaccard, remove_near_duplicates, shingles


def test_shingles_ignore_punctuation_case_and_width() -> None:
    assert shingles("我好难过！！", "zh") == shingles("我好难过!", "zh") == {"我好难", "好难过"}
    assert shingles("Hello,   WORLD", "en") == shingles("hello world", "en")
    assert shingles("", "zh") == frozenset()
    assert shingles("我", "zh") == {"我"}


def test_near_duplicates_on_hand_made_examples() -> None:
    texts = [
        "唉，今天在图书馆又被导师骂了一顿，我真的好难过，你说我该怎么办呀？",
        "唉，今天在食堂又被导师骂了一顿，我真的好难过，你说我该怎么办呀？",  # near-dup of 0
        "天哪，我投的实习终于有回音了，下周就去面试，你能帮我想想要准备什么吗？",
        "唉，今天在图书馆又被导师骂了一顿，我真的好难过，你说我该怎么办呀？",  # exact dup of 0
        "客户拖了两个月的尾款还没结，我连房租都快交不起了，真的气死我了！",
    ]
    result = remove_near_duplicates(texts, language="zh", threshold=0.6)
    assert result.kept == (0, 2, 4)
    assert [(d.index, d.of) for d in result.dropped] == [(1, 0), (3, 0)]
    assert result.dropped[1].similarity == 1.0
    assert 0.6 <= result.dropped[0].similarity < 1.0


def test_greedy_keeps_a_text_similar_only_to_a_dropped_one() -> None:
    a = "aaaa bbbb cccc dddd eeee ffff"
    b = "aaaa bbbb cccc dddd eeee gggg"  # close to a
    c = "hhhh bbbb cccc dddd eeee gggg"  # close to b, further from a
    sim = jaccard(shingles(a, "en"), shingles(c, "en"))
    threshold = (jaccard(shingles(b, "en"), shingles(c, "en")) + sim) / 2
    assert jaccard(shingles(a, "en"), shingles(b, "en")) >= threshold > sim
    result = remove_near_duplicates([a, b, c], language="en", threshold=threshold)
    assert result.kept == (0, 2)


def test_vectorised_similarity_equals_pairwise_reference() -> None:
    """Across the block boundary (512 rows), the sparse product finds exactly the pairs
    a plain pairwise Jaccard finds."""
    rng = random.Random(7)
    words = [f"w{i}" for i in range(40)]
    base = [" ".join(rng.sample(words, 12)) for _ in range(300)]
    texts = base + [t.replace(t.split()[0], "zz", 1) for t in rng.sample(base, 300)]
    rng.shuffle(texts)
    threshold = 0.5
    result = remove_near_duplicates(texts, language="en", threshold=threshold)
    sets = [shingles(t, "en") for t in texts]
    kept: list[int] = []
    for i in range(len(texts)):
        if not any(jaccard(sets[i], sets[j]) >= threshold for j in kept):
            kept.append(i)
    assert result.kept == tuple(kept)
    assert len(result.dropped) >= 300


def test_threshold_must_be_a_similarity() -> None:
    with pytest.raises(ValueError, match="threshold"):
        remove_near_duplicates(["a"], language="en", threshold=0.0)
