"""Diversity metrics of one group of answers, checked by hand and against brute force."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from chatanime.metrics.diversity_measures import (
    compression_ratio,
    distinct_n,
    distinct_n_equal_size,
    mattr,
    metrics_for,
    resolve_units,
)


def test_distinct_n_hand_computed() -> None:
    assert distinct_n(["aab", "ab"], 1) == pytest.approx(2 / 5)
    assert distinct_n(["aab", "ab"], 2) == pytest.approx(2 / 3)  # aa, ab, ab
    assert distinct_n(["ab", "cd"], 2) == 1.0  # no "bc": n-grams stay inside answers
    assert math.isnan(distinct_n(["a", "b"], 2))


def test_empty_groups_give_nan_not_errors() -> None:
    for value in (
        distinct_n([]),
        distinct_n(["", " "]),
        mattr([]),
        compression_ratio([]),
        distinct_n_equal_size([], 1, 3),
        distinct_n([], 1, "word"),
    ):
        assert math.isnan(value)
    with pytest.raises(ValueError, match="at least 1"):
        distinct_n_equal_size(["abc"], 1, 0)


def test_distinct_n_over_words() -> None:
    assert distinct_n(["we can do it", "we can"], 1, "word", "en") == pytest.approx(4 / 6)


def _brute_force_expected_distinct(tokens: list[str], size: int) -> float:
    draws = list(itertools.combinations(range(len(tokens)), size))
    return sum(len({tokens[i] for i in d}) for d in draws) / len(draws) / size


def test_equal_size_distinct_is_the_exact_expectation() -> None:
    # from {a, a, a, b, b}: P(miss a) = 1/10, P(miss b) = 3/10 -> E = 1.6 types in 2 draws
    assert distinct_n_equal_size(["aab", "ab"], 1, 2) == pytest.approx(0.8)
    assert distinct_n_equal_size(["aab", "ab"], 1, 5) == pytest.approx(2 / 5)
    assert distinct_n_equal_size(["aab", "ab"], 1, 1) == pytest.approx(1.0)
    assert math.isnan(distinct_n_equal_size(["aab", "ab"], 1, 6))
    answers = ["abcabd", "cadbb", "abc"]
    for n, size in [(1, 4), (1, 9), (2, 3), (2, 6)]:
        grams = [a[i : i + n] for a in answers for i in range(len(a) - n + 1)]
        assert distinct_n_equal_size(answers, n, size) == pytest.approx(
            _brute_force_expected_distinct(grams, size)
        )


def test_equal_size_distinct_removes_the_length_effect() -> None:
    rng = random.Random(5)
    text = "".join(rng.choice("abcdefghij") for _ in range(400))
    short, long_ = [text[:100]], [text]
    assert distinct_n(short, 1) > distinct_n(long_, 1)
    assert distinct_n_equal_size(short, 1, 100) == pytest.approx(
        distinct_n_equal_size(long_, 1, 100), abs=0.02
    )


def _brute_mattr(tokens: list[str], window: int) -> float:
    if len(tokens) < window:
        return len(set(tokens)) / len(tokens)
    ttrs = [len(set(tokens[i : i + window])) / window for i in range(len(tokens) - window + 1)]
    return sum(ttrs) / len(ttrs)


def test_mattr_hand_computed_and_across_answers() -> None:
    assert mattr(["abab"], 2) == 1.0
    assert mattr(["aabb"], 2) == pytest.approx(4 / 6)  # aa, ab, bb
    assert mattr(["aa", "bb"], 2) == pytest.approx(4 / 6)  # windows run across answers
    assert mattr(["aabb"], 3) == pytest.approx(2 / 3)
    assert mattr(["aab"], 10) == pytest.approx(2 / 3)  # shorter than the window: TTR


def test_mattr_equals_brute_force() -> None:
    rng = random.Random(8)
    for _ in range(20):
        answers = [
            "".join(rng.choice("abcdefg") for _ in range(rng.randint(0, 15)))
            for _ in range(rng.randint(1, 5))
        ]
        tokens = [c for a in answers for c in a]
        if not tokens:
            continue
        window = rng.randint(1, 12)
        assert mattr(answers, window) == pytest.approx(_brute_mattr(tokens, window))


def test_compression_ratio_falls_with_repetition() -> None:
    rng = random.Random(2)
    distinct = [
        "".join(rng.choice("的一是在不了有和人这中大为上个国我以要他") for _ in range(60))
        for _ in range(10)
    ]
    repeated = [distinct[0]] * 10
    half = distinct[:5] + distinct[:5]
    assert compression_ratio(repeated) < compression_ratio(half) < compression_ratio(distinct)
    assert compression_ratio(distinct[:1]) == 1.0


def test_metrics_for_language() -> None:
    zh = [m.id for m in metrics_for("zh")]
    assert zh[:3] == ["distinct_1_char", "distinct_2_char", "distinct_3_char"]
    assert "self_bleu_word" in zh and zh[-1] == "compression"
    en = [m.id for m in metrics_for("en")]
    assert not any(m.endswith("_char") or "_char_" in m for m in en)
    assert {m.id: m.higher_is_more_diverse for m in metrics_for("zh")}["self_bleu_char"] is False


def test_resolve_units_keeps_the_language_order_and_names_a_wrong_unit() -> None:
    assert resolve_units("zh", None) == ("char", "word")
    assert resolve_units("zh", ["word", "char"]) == ("char", "word")
    assert resolve_units("en", ["word"]) == ("word",)
    with pytest.raises(ValueError, match="unit 'char' is not used for 'en'"):
        resolve_units("en", ["word", "char"])
