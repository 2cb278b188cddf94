"""Tokenisation by language and the integer n-gram tables."""

from __future__ import annotations

import itertools
import random
import subprocess
import sys
import threading

import numpy as np
import pytest

from chatanime.metrics.tokens import (
    UNITS,
    Encoded,
    GroupedCounts,
    char_tokens,
    chunks,
    encode_chars,
    encode_tokens,
    encode_words,
    encode_words_async,
    fold_width,
    fork_pool,
    grouped_ngrams,
    merge_encoded,
    ngram_levels,
    tokenize,
    word_tokens,
)


def test_fold_width_maps_full_width_ascii_and_ideographic_space() -> None:
    assert fold_width("～！Ａ１　，。") == "~!A1 ,。"


def test_char_tokens_drop_whitespace_and_fold() -> None:
    assert char_tokens("加油！ a\u3000b\n") == ["加", "油", "!", "a", "b"]


def test_chinese_words_come_from_jieba() -> None:
    assert word_tokens("我爱北京天安门") == ["我", "爱", "北京", "天安门"]
    assert word_tokens("别担心， 我在！") == ["别", "担心", ",", "我", "在", "!"]


def test_english_words_are_lower_cased_regex_words() -> None:
    assert word_tokens("Don't worry, Luffy!", "en") == ["don't", "worry", ",", "luffy", "!"]
    assert tokenize("Hi  there", "word", "en") == ["hi", "there"]


def test_units_per_language_and_unknown_inputs() -> None:
    assert UNITS["zh"] == ("char", "word")
    assert UNITS["en"] == ("word",)
    with pytest.raises(ValueError, match="unknown language"):
        word_tokens("x", "fr")
    with pytest.raises(ValueError, match="unknown unit"):
        tokenize("x", "byte", "zh")  # type: ignore[arg-type]


def test_jieba_initialises_silently() -> None:
    code = "from chatanime.metrics.tokens import word_tokens; print(word_tokens('我爱北京'))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr == ""
    assert "北京" in done.stdout


def test_vectorised_char_encoding_equals_per_text_tokens() -> None:
    rng = random.Random(3)
    alphabet = "我你他好！～ \u3000\nAaＡ,，"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(50)]
    texts += ["", "   "]
    enc = encode_chars(texts)
    assert enc.n_answers == len(texts)
    for i, text in enumerate(texts):
        assert enc.tokens(i) == char_tokens(text)
    assert len(set(enc.vocab)) == len(enc.vocab)


def test_encode_tokens_and_merge_keep_answers_apart() -> None:
    left = encode_tokens([["a", "b"], [], ["b"]])
    right = encode_tokens([["c", "a"]])
    merged = merge_encoded([left, right])
    assert [merged.tokens(i) for i in range(4)] == [["a", "b"], [], ["b"], ["c", "a"]]
    assert merged.lengths.tolist() == [2, 0, 1, 2]


def test_chunks_cover_all_texts_in_order() -> None:
    texts = ["a" * n for n in (5, 1, 1, 1, 5, 3, 0, 2)]
    parts = chunks(texts, 3)
    assert [t for part in parts for t in part] == texts
    assert len(parts) == 3


def test_word_encoding_in_forked_workers_equals_in_process() -> None:
    texts = ["别担心，我们一起想办法！", "今天的训练很辛苦吧？", "", "我绝对不会放弃的。"] * 3
    pool = fork_pool(2)
    assert pool is not None
    try:
        parallel = encode_words_async(texts, "zh", pool, parts=3)()
    finally:
        pool.shutdown()
    serial = encode_words(texts, "zh")
    assert [parallel.tokens(i) for i in range(len(texts))] == [
        serial.tokens(i) for i in range(len(texts))
    ]
    assert encode_words_async(texts, "zh")().tokens(0) == word_tokens(texts[0])


def test_a_threaded_process_does_not_fork() -> None:
    texts = ["别担心，我们一起想办法！", "今天的训练很辛苦吧？"] * 2
    stop = threading.Event()
    helper = threading.Thread(target=stop.wait)
    helper.start()
    try:
        pool = fork_pool(2)
        assert pool is not None
        assert pool._mp_context.get_start_method() == "forkserver"  # type: ignore[attr-defined]
        try:
            words = encode_words_async(texts, "zh", pool, parts=2)()
        finally:
            pool.shutdown()
    finally:
        stop.set()
        helper.join()
    assert words.tokens(1) == word_tokens(texts[1])


def _segments(table: GroupedCounts, enc: Encoded) -> dict[tuple[int, str], dict[int, int]]:
    """{(group, unigram): {answer: count}}, read back from the table's rows and positions."""
    out: dict[tuple[int, str], dict[int, int]] = {}
    bounds = [*table.seg_start.tolist(), len(table.counts)]
    seg_first_pos = table.positions[table.first]
    for k, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        start = int(seg_first_pos[k])
        gram = "".join(enc.vocab[i] for i in enc.ids[start : start + table.n])
        rows = range(lo, hi)
        assert len({int(table.groups[r]) for r in rows}) == 1
        key = (int(table.groups[lo]), gram)
        out[key] = {int(table.answers[r]): int(table.counts[r]) for r in rows}
    return out


@pytest.mark.parametrize("groups", [[0, 0, 1], [1, 0, 0]])
def test_grouped_ngrams_count_per_group_type_and_answer(groups: list[int]) -> None:
    enc = encode_tokens([list("aab"), list("ab"), list("ab")])
    uni, bi = grouped_ngrams(enc, np.array(groups), 2, 2)
    a, b, c = groups
    if a == b:
        expected = {
            (a, "a"): {0: 2, 1: 1},
            (a, "b"): {0: 1, 1: 1},
            (c, "a"): {2: 1},
            (c, "b"): {2: 1},
        }
    else:
        expected = {
            (a, "a"): {0: 2},
            (a, "b"): {0: 1},
            (b, "a"): {1: 1, 2: 1},
            (b, "b"): {1: 1, 2: 1},
        }
    assert _segments(uni, enc) == expected
    assert sorted(uni.seg_group.tolist()) == [0, 0, 1, 1]
    # bigrams never cross answers: "aa" and "ab" in answer 0, "ab" in answers 1 and 2
    rows = sorted(zip(bi.groups.tolist(), bi.answers.tolist(), bi.counts.tolist(), strict=True))
    assert rows == sorted([(a, 0, 1), (a, 0, 1), (b, 1, 1), (c, 2, 1)])
    assert len(bi.seg_start) == 3
    assert len(bi.positions) == 0  # positions are kept for unigrams only
    assert uni.first.sum() == 4 and len(uni.positions) == 7


def test_ngram_levels_number_types_densely() -> None:
    enc = encode_tokens([list("abab"), list("ba")])
    uni, bi, tri = ngram_levels(enc, 3)
    assert uni.types.max() == 1 and bi.types.max() == 1  # ab, ba
    assert tri.types.max() == 1 and len(tri.positions) == 2  # aba, bab
    assert bi.positions.tolist() == [0, 2, 1, 4]  # ab at 0, 2; ba at 1 and in answer 1


def test_grouped_ngrams_leave_out_answers_without_group() -> None:
    enc = encode_tokens([list("xyz"), list("ab")])
    (uni,) = grouped_ngrams(enc, np.array([-1, 0]), 1, 1)
    assert sorted(uni.answers.tolist()) == [1, 1]
    assert uni.first.sum() == 2
