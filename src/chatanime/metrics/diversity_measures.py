"""Diversity metrics of one group of answers, and their kernels vectorised over many groups.

Each public ``distinct_n`` / ``distinct_n_equal_size`` / ``mattr`` / ``compression_ratio`` is a
pure function of one *group* of answers (``Sequence[str]``), so a reader can check a metric on a
hand-made example; the kernels they call (``distinct_counts``, ``expected_types``,
``mattr_values``, ``compressed_sizes``) take all groups of a grouping at once, which is how
:func:`chatanime.metrics.diversity.diversity_table` stays fast on the whole release. Keeping
both on the same kernels means the table and the pure functions cannot drift apart.

Metrics (``higher`` = more diverse unless noted; the unit is Chinese characters or jieba words,
English words for English benchmarks; see :mod:`chatanime.metrics.tokens`):

* ``distinct_n_<unit>``, n = 1, 2, 3: distinct n-grams / all n-grams of the group (Li et al.
  2016); n-grams never span two answers. Falls as a group gets longer, so it favours the fans'
  shorter answers; hence the next two.
* ``distinct_n_<unit>_eq``: the same at an equal size K for every group: the *expected* distinct
  n-grams of K n-grams drawn without replacement from the group (rarefaction, the
  hypergeometric formula behind HD-D), divided by K. Exact, so no random seed; K is the smallest
  group's n-gram count in the table (``DiversityTable.sample_sizes``).
* ``mattr_<unit>``: moving-average type-token ratio (Covington & McFall 2010) over the group's
  answers concatenated (by scenario then round, or by character slug then round), window 100
  characters or 50 words (the plain type-token ratio if the group is shorter than the window).
  Windows this size mostly see one or two answers, so MATTR rewards answers that are varied
  *inside*; it is the length-controlled counterpart of distinct-1, not of self-BLEU.
* ``self_bleu_<unit>``: see :mod:`chatanime.metrics.selfbleu`; **lower** = more diverse.
* ``compression``: LZMA-compressed size of the group's answers joined by newlines divided by
  the sum of the answers' individually compressed sizes: near 1 when answers share nothing the
  compressor can reuse, lower when they repeat each other's phrases.
"""

from __future__ import annotations

import lzma
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

from chatanime.metrics.selfbleu import Floats
from chatanime.metrics.tokens import (
    UNITS,
    Encoded,
    GroupedCounts,
    Int64s,
    Unit,
    check_language,
    encode_texts,
    grouped_ngrams,
)

WINDOWS: dict[str, int] = {"char": 100, "word": 50}
DISTINCT_N = (1, 2, 3)


@dataclass(frozen=True, slots=True)
class Metric:
    """A diversity metric: id, display label, token unit and direction."""

    id: str
    label: str
    unit: str | None
    higher_is_more_diverse: bool = True


def metrics_for(language: str = "zh", units: Sequence[str] | None = None) -> tuple[Metric, ...]:
    """The table's metrics for a benchmark language (and token units), in display order."""
    check_language(language)
    out: list[Metric] = []
    for unit in resolve_units(language, units):
        out += [Metric(f"distinct_{n}_{unit}", f"distinct-{n} {unit}", unit) for n in DISTINCT_N]
        out += [
            Metric(f"distinct_{n}_{unit}_eq", f"distinct-{n} {unit} (eq)", unit) for n in DISTINCT_N
        ]
        out.append(Metric(f"mattr_{unit}", f"MATTR {unit}", unit))
        out.append(Metric(f"self_bleu_{unit}", f"self-BLEU {unit} ↓", unit, False))
    out.append(Metric("compression", "compression", None))
    return tuple(out)


def resolve_units(language: str, units: Sequence[str] | None) -> tuple[Unit, ...]:
    """The requested token units in the language's order (all of them for ``None``); an error
    names a unit the language does not use rather than silently computing nothing for it."""
    allowed = UNITS[language]
    if units is None:
        return allowed
    bad = [u for u in units if u not in allowed]
    if bad:
        raise ValueError(f"unit {bad[0]!r} is not used for {language!r}; use {', '.join(allowed)}")
    return tuple(u for u in allowed if u in units)


# --- group kernels: one value per group, vectorised over all groups ---------------------------


def distinct_counts(table: GroupedCounts) -> tuple[Floats, Floats]:
    """(distinct n-grams, all n-grams) per group."""
    types = np.bincount(table.seg_group, minlength=table.n_groups).astype(np.float64)
    total = np.bincount(table.groups, weights=table.counts, minlength=table.n_groups)
    return types, np.asarray(total, dtype=np.float64)


def _count_classes(table: GroupedCounts) -> tuple[Int64s, Int64s, Int64s]:
    """(group, count c, number of types seen c times in the group): the frequency spectrum,
    so the rarefaction formula is evaluated once per distinct (group, c), not per type."""
    seg_total = (
        np.add.reduceat(table.counts, table.seg_start) if len(table.counts) else table.counts
    )
    group = table.seg_group
    width = int(seg_total.max()) + 1 if len(seg_total) else 1
    if table.n_groups * width > 50_000_000:  # a huge spectrum: one class per type instead
        return group, seg_total, np.ones(len(group), dtype=np.int64)
    spectrum = np.bincount(group * width + seg_total, minlength=table.n_groups * width)
    cells = np.flatnonzero(spectrum)
    return cells // width, cells % width, spectrum[cells]


def expected_types(table: GroupedCounts, total: Floats, size: int) -> Floats:
    """Expected distinct types among ``size`` n-grams drawn without replacement, per group.

    A type seen ``c`` times in a group of ``N`` is missed with probability
    ``C(N - c, size) / C(N, size)``; NaN for groups smaller than ``size``.
    """
    group, c, n_types = _count_classes(table)
    n = total[group]
    rest = n - c
    with np.errstate(invalid="ignore"):
        log_miss = gammaln(rest + 1) + gammaln(n - size + 1) - gammaln(rest - size + 1)
        miss = np.where(rest >= size, np.exp(log_miss - gammaln(n + 1)), 0.0)
    expected = np.bincount(group, weights=n_types * (1.0 - miss), minlength=table.n_groups)
    return np.where(total >= size, expected, np.nan)


def _local_starts(lengths: Int64s, group_of_answer: Int64s, n_groups: int) -> Int64s:
    """Offset of each answer inside its group's concatenation (answers in index order)."""
    key = np.where(group_of_answer < 0, n_groups, group_of_answer)
    order = np.argsort(key, kind="stable")
    sizes = np.where(group_of_answer[order] < 0, 0, lengths[order])
    before = np.cumsum(sizes) - sizes
    first = np.searchsorted(key[order], key[order])  # index of each group's first answer
    out = np.empty_like(before)
    out[order] = before - before[first]
    return out


def mattr_values(
    enc: Encoded, unigrams: GroupedCounts, group_of_answer: Int64s, window: int
) -> Floats:
    """MATTR per group from the grouped unigram table, without looping over windows.

    Summed over all windows, a window's type count is the number of its tokens whose previous
    occurrence (in the group) lies before the window; so each token contributes the number of
    windows that contain it but not its previous occurrence.
    """
    n_groups = unigrams.n_groups
    pos, first = unigrams.positions, unigrams.first
    answer = enc.answer_of_token()[pos]
    g = group_of_answer[answer]
    shift = _local_starts(enc.lengths, group_of_answer, n_groups) - enc.offsets[:-1]
    j = pos + shift[answer]  # the token's index in its group's concatenation
    prev = np.full(len(j), -1, dtype=np.int64)
    prev[1:][~first[1:]] = j[:-1][~first[1:]]
    size = np.bincount(g, minlength=n_groups)
    lo = np.maximum(np.maximum(j - window + 1, prev + 1), 0)
    hi = np.minimum(j, size[g] - window)
    windows_sum = np.bincount(g, weights=np.maximum(hi - lo + 1, 0), minlength=n_groups)
    types = np.bincount(g[first], minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        ttr = types / size
        full = windows_sum / (window * (size - window + 1.0))
    return np.where(size >= window, full, np.where(size > 0, ttr, np.nan))


def compressed_size(data: bytes) -> int:
    """Bytes of raw LZMA2 output, with a dictionary covering the whole input (no window cut)."""
    dict_size = max(4096, 1 << max(len(data) - 1, 1).bit_length())
    filters = [{"id": lzma.FILTER_LZMA2, "preset": 1, "dict_size": dict_size}]
    return len(lzma.compress(data, format=lzma.FORMAT_RAW, filters=filters))


def compressed_sizes(texts: Sequence[str]) -> list[int]:
    """Each text's compressed size (UTF-8)."""
    return [compressed_size(t.encode("utf-8")) for t in texts]


# --- pure functions over one group ------------------------------------------------------------


def _one_group(answers: Sequence[str], unit: Unit, language: str, n: int) -> GroupedCounts:
    enc = encode_texts(answers, unit, language)
    return grouped_ngrams(enc, np.zeros(enc.n_answers, dtype=np.int64), 1, n)[-1]


def distinct_n(
    answers: Sequence[str], n: int = 1, unit: Unit = "char", language: str = "zh"
) -> float:
    """Distinct n-grams / all n-grams of the group (higher = more diverse; NaN if none)."""
    types, total = distinct_counts(_one_group(answers, unit, language, n))
    return float(types[0] / total[0]) if total[0] else float("nan")


def distinct_n_equal_size(
    answers: Sequence[str], n: int, size: int, unit: Unit = "char", language: str = "zh"
) -> float:
    """Expected distinct-n of ``size`` n-grams drawn without replacement (higher = more
    diverse); comparable across groups of different lengths. NaN if the group is smaller."""
    if size < 1:
        raise ValueError(f"size must be at least 1, not {size}")
    table = _one_group(answers, unit, language, n)
    _, total = distinct_counts(table)
    return float(expected_types(table, total, size)[0] / size)


def mattr(
    answers: Sequence[str], window: int | None = None, unit: Unit = "char", language: str = "zh"
) -> float:
    """Moving-average type-token ratio of the concatenated answers (higher = more diverse)."""
    enc = encode_texts(answers, unit, language)
    group = np.zeros(enc.n_answers, dtype=np.int64)
    unigrams = grouped_ngrams(enc, group, 1, 1)[0]
    return float(mattr_values(enc, unigrams, group, window or WINDOWS[unit])[0])


def compression_ratio(answers: Sequence[str]) -> float:
    """Compressed(joined) / sum of compressed(each), about (0, 1]; higher = more diverse."""
    alone = sum(compressed_sizes(answers))
    return compressed_size("\n".join(answers).encode("utf-8")) / alone if alone else float("nan")
