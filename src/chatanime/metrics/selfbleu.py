"""Self-BLEU: how much each answer of a group repeats the others (lower = more diverse).

Definition (Zhu et al. 2018, "Texygen", which calls NLTK's ``sentence_bleu``): every answer of a
group is a hypothesis, and *all other* answers of the group are its references; the group's
self-BLEU is the mean of these sentence BLEU-4 scores. For one hypothesis:

* ``m_n`` = sum over its n-grams of ``min(count in hypothesis, max count in any reference)``,
  ``t_n`` = its number of n-grams, n = 1..4, uniform weights;
* ``p_n = m_n / max(t_n, 1)``, or ``0.1 / max(t_n, 1)`` when ``m_n = 0`` (NLTK's smoothing
  ``method1``, epsilon 0.1); BLEU is 0 when ``m_1 = 0`` (as NLTK);
* brevity penalty with the closest reference length (ties: the shorter):
  ``1`` if ``c > r``, ``0`` if ``c = 0``, else ``exp(1 - r / c)``.

Tokens are characters or words (see :mod:`chatanime.metrics.tokens`; characters by default for
Chinese). Report ``1 - self-BLEU`` if you need "higher = more diverse".

Why a fast version: the straightforward implementation (:func:`self_bleu_naive`) re-counts every
reference's n-grams for every hypothesis, O(G² · length) per group of G answers. The exact fast
version needs, for each n-gram of a hypothesis, only the maximum count among the *other*
answers; keeping per (group, n-gram) the largest and second-largest count (as a multiset) gives
it in O(1): ``second`` if the hypothesis holds the largest, else ``largest``. Everything is
vectorised over all groups at once; the closest reference length comes from each answer's
neighbours in its group's sorted lengths. Tests check both agree to floating-point precision.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from chatanime.metrics.tokens import GroupedCounts, Int64s, Unit, encode_texts, grouped_ngrams

MAX_N = 4
EPSILON = 0.1
Floats = NDArray[np.float64]


def _ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def sentence_bleu(references: Sequence[Sequence[str]], hypothesis: Sequence[str]) -> float:
    """BLEU-4 of one hypothesis against references, as defined in the module docstring.

    A straightforward transcription of NLTK's ``sentence_bleu`` with ``method1`` smoothing;
    the reference implementation the fast version is tested against.
    """
    log_sum = 0.0
    for n in range(1, MAX_N + 1):
        hyp = _ngrams(hypothesis, n)
        best: dict[tuple[str, ...], int] = {}
        for ref in references:
            ref_counts = _ngrams(ref, n)
            for gram in hyp:
                best[gram] = max(best.get(gram, 0), ref_counts.get(gram, 0))
        matches = sum(min(c, best.get(g, 0)) for g, c in hyp.items())
        total = max(1, sum(hyp.values()))
        if n == 1 and matches == 0:
            return 0.0
        log_sum += math.log((matches if matches else EPSILON) / total) / MAX_N
    c = len(hypothesis)
    r = min((len(ref) for ref in references), key=lambda x: (abs(x - c), x))
    penalty = 1.0 if c > r else math.exp(1 - r / c)
    return penalty * math.exp(log_sum)


def self_bleu_naive(token_lists: Sequence[Sequence[str]]) -> list[float]:
    """Each answer's BLEU against all the others: the straightforward pairwise reference."""
    return [
        sentence_bleu([t for j, t in enumerate(token_lists) if j != i], hyp)
        for i, hyp in enumerate(token_lists)
    ]


def clipped_counts(table: GroupedCounts) -> Int64s:
    """Per row: min(its count, the largest count of its n-gram in the group's *other* answers).

    Only n-grams shared by two or more answers of a group can match; for them, with the
    largest count ``top1`` and the second largest ``top2`` (as a multiset), that minimum is
    ``top2`` for a row holding ``top1`` and the row's own count otherwise.
    """
    counts = table.counts
    clipped = np.zeros(len(counts), dtype=np.int64)
    seg_len = np.diff(table.seg_start, append=len(counts))
    rows = np.flatnonzero(seg_len[table.segment] > 1)
    if not rows.size:
        return clipped
    c, seg = counts[rows], table.segment[rows]
    new = np.ones(len(rows), dtype=bool)
    new[1:] = seg[1:] != seg[:-1]
    starts, local = np.flatnonzero(new), np.cumsum(new) - 1
    top1 = np.maximum.reduceat(c, starts)
    is_top = c == top1[local]
    ties = np.add.reduceat(is_top.astype(np.int64), starts)
    second = np.maximum.reduceat(np.where(is_top, 0, c), starts)
    top2 = np.where(ties >= 2, top1, second)
    clipped[rows] = np.where(is_top, top2[local], c)
    return clipped


def closest_reference_lengths(lengths: Int64s, group_of_answer: Int64s, n_groups: int) -> Int64s:
    """Per answer, the length of the other answer of its group closest to its own (ties: the
    shorter); -1 for answers alone in their group or outside every group."""
    order = np.lexsort((lengths, np.where(group_of_answer < 0, n_groups, group_of_answer)))
    g, x = group_of_answer[order], lengths[order]
    lo = np.full(len(x), -1, dtype=np.int64)
    hi = np.full(len(x), -1, dtype=np.int64)
    same_prev = np.zeros(len(x), dtype=bool)
    same_prev[1:] = g[1:] == g[:-1]
    lo[1:][same_prev[1:]] = x[:-1][same_prev[1:]]
    hi[:-1][same_prev[1:]] = x[1:][same_prev[1:]]
    use_lo = (lo >= 0) & ((hi < 0) | (x - lo <= hi - x))
    closest = np.where(use_lo, lo, hi)
    closest[g < 0] = -1
    out = np.empty_like(closest)
    out[order] = closest
    return out


def self_bleu_scores(
    tables: Sequence[GroupedCounts], lengths: Int64s, group_of_answer: Int64s
) -> Floats:
    """Per answer, BLEU-4 against the other answers of its group (NaN if it has none).

    ``tables`` are the grouped n-gram counts for n = 1..4 of the same grouping.
    """
    n_answers = len(lengths)
    log_p = np.zeros(n_answers)
    unigram_matches = np.zeros(n_answers)
    for n, table in enumerate(tables, start=1):
        clipped = clipped_counts(table)
        matches = np.bincount(table.answers, weights=clipped, minlength=n_answers)
        total = np.maximum(lengths - n + 1, 1)
        log_p += np.log(np.where(matches > 0, matches, EPSILON) / total) / MAX_N
        if n == 1:
            unigram_matches = matches.astype(np.float64)
    ref = closest_reference_lengths(lengths, group_of_answer, tables[0].n_groups)
    c = lengths.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        penalty = np.where(c > ref, 1.0, np.exp(1 - ref / c))
    scores = np.where(unigram_matches > 0, penalty * np.exp(log_p), 0.0)
    return np.where(ref < 0, np.nan, scores)


def group_means(values: Floats, group_of_answer: Int64s, n_groups: int) -> Floats:
    """Mean of the non-NaN per-answer values of each group (NaN for a group without any)."""
    ok = (group_of_answer >= 0) & ~np.isnan(values)
    sums = np.bincount(group_of_answer[ok], weights=values[ok], minlength=n_groups)
    counts = np.bincount(group_of_answer[ok], minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def self_bleu(answers: Sequence[str], unit: Unit = "char", language: str = "zh") -> float:
    """Self-BLEU-4 of one group of answers in [0, 1]; lower = more diverse (NaN if < 2)."""
    enc = encode_texts(answers, unit, language)
    group = np.zeros(enc.n_answers, dtype=np.int64)
    tables = grouped_ngrams(enc, group, 1, MAX_N)
    return float(group_means(self_bleu_scores(tables, enc.lengths, group), group, 1)[0])
