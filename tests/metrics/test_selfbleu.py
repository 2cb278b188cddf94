"""Self-BLEU: hand-computed values, and the fast version against the pairwise reference."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from chatanime.metrics.selfbleu import (
    closest_reference_lengths,
    group_means,
    self_bleu,
    self_bleu_naive,
    self_bleu_scores,
    sentence_bleu,
)
from chatanime.metrics.tokens import char_tokens, encode_tokens, grouped_ngrams


def test_sentence_bleu_hand_computed() -> None:
    # p1 = 3/4, p2 = 2/3, p3 = 1/2, p4 = 0 -> 0.1 (method1); equal lengths -> no penalty
    expected = (0.75 * (2 / 3) * 0.5 * 0.1) ** 0.25
    assert sentence_bleu([list("abce")], list("abcd")) == pytest.approx(expected)


def test_sentence_bleu_brevity_penalty_and_short_hypothesis() -> None:
    # p1 = p2 = 1; no 3-/4-grams -> 0.1 / 1 each; c = 2, r = 4 -> exp(1 - 2)
    expected = math.exp(-1) * (1 * 1 * 0.1 * 0.1) ** 0.25
    assert sentence_bleu([list("abcd")], list("ab")) == pytest.approx(expected)


def test_sentence_bleu_closest_reference_length_prefers_the_shorter_on_ties() -> None:
    # c = 4; references of length 2 and 6 are equally close -> r = 2 -> no penalty
    hyp = list("abcd")
    assert sentence_bleu([list("ab"), list("abcdef")], hyp) == sentence_bleu(
        [list("ab"), list("abcd")], hyp
    )


def test_self_bleu_extremes() -> None:
    same = "今天也要好好吃饭哦"
    assert self_bleu([same, same, same]) == pytest.approx(1.0)
    assert self_bleu(["abcd", "efgh"]) == 0.0
    assert math.isnan(self_bleu(["只有一个回答"]))


def test_self_bleu_falls_as_answers_differ() -> None:
    close = ["我们一起加油吧", "我们一起努力吧", "我们一起前进吧"]
    apart = ["我们一起加油吧", "明天去看海", "先休息一下"]
    assert self_bleu(apart) < self_bleu(close)


def test_self_bleu_words_and_english() -> None:
    answers = ["Keep going, you can do it!", "Keep going, you will make it!"]
    value = self_bleu(answers, "word", "en")
    tokens = [a.lower().replace(",", " ,").replace("!", " !").split() for a in answers]
    assert value == pytest.approx(np.mean(self_bleu_naive(tokens)))


def _random_groups(seed: int) -> tuple[list[list[str]], np.ndarray]:
    rng = random.Random(seed)
    texts = []
    groups = []
    for g in range(6):
        for _ in range(rng.randint(1, 7)):
            texts.append([rng.choice("abcdeff") for _ in range(rng.randint(0, 14))])
            groups.append(g)
    texts.append(list("abc"))  # an answer outside every group
    groups.append(-1)
    return texts, np.array(groups)


@pytest.mark.parametrize("seed", range(8))
def test_fast_self_bleu_equals_pairwise_reference(seed: int) -> None:
    texts, groups = _random_groups(seed)
    enc = encode_tokens(texts)
    tables = grouped_ngrams(enc, groups, 6, 4)
    fast = self_bleu_scores(tables, enc.lengths, groups)
    for g in range(6):
        members = [i for i, x in enumerate(groups) if x == g]
        naive = self_bleu_naive([texts[i] for i in members])
        if len(members) == 1:
            assert np.isnan(fast[members[0]])
        else:
            np.testing.assert_allclose(fast[members], naive, rtol=1e-12, atol=1e-15)
    assert np.isnan(fast[-1])


def test_fast_self_bleu_on_real_sized_chinese_answers() -> None:
    rng = random.Random(11)
    vocab = "我你他的了是在有不这就也都要和好吧呢啊！，。"
    texts = ["".join(rng.choice(vocab) for _ in range(rng.randint(20, 80))) for _ in range(30)]
    naive = np.mean(self_bleu_naive([char_tokens(t) for t in texts]))
    assert self_bleu(texts) == pytest.approx(naive, rel=1e-12)


def test_closest_reference_lengths_excludes_self_and_breaks_ties_low() -> None:
    lengths = np.array([4, 2, 6, 4, 9, 1])
    groups = np.array([0, 0, 0, 1, 1, -1])
    # answer 0 (4): others 2 and 6 tie -> 2; answer 1 (2): 4; answer 2 (6): 4
    assert closest_reference_lengths(lengths, groups, 2).tolist() == [2, 4, 4, 9, 4, -1]


def test_group_means_skip_nan() -> None:
    values = np.array([1.0, np.nan, 3.0, 5.0])
    means = group_means(values, np.array([0, 0, 0, 2]), 3)
    assert means[0] == 2.0
    assert np.isnan(means[1])
    assert means[2] == 5.0
