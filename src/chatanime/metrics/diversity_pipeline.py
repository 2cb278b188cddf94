"""How the diversity table is computed: every metric for every grouping, in a few passes.

:func:`compute_metrics` tokenises the answers once per unit, counts n-grams once per unit and
grouping, and runs the vectorised kernels of :mod:`chatanime.metrics.diversity_measures` over
all groups at once. Segmenting words with jieba and LZMA-compressing are the slow steps and do
not depend on the character metrics, so with worker processes they run there (forked, see
:func:`chatanime.metrics.tokens.fork_pool`) while this process computes the character metrics;
the result is the same with or without workers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

from chatanime.metrics.diversity_measures import (
    DISTINCT_N,
    WINDOWS,
    compressed_sizes,
    distinct_counts,
    expected_types,
    mattr_values,
)
from chatanime.metrics.selfbleu import MAX_N, Floats, group_means, self_bleu_scores
from chatanime.metrics.tokens import (
    Encoded,
    Int64s,
    Unit,
    chunks,
    encode_chars,
    encode_words_async,
    fork_pool,
    group_level,
    ngram_levels,
)


@dataclass(frozen=True)
class AnswerGroups:
    """A grouping of the sorted answers: group index per answer (-1: none), label per group."""

    name: str
    index: Int64s
    labels: list[tuple[str, str]]  # (system, character slug or scenario id)


class StageClock:
    """Wall and CPU seconds (of this process) per stage, kept in ``DiversityTable.timings`` so
    the benchmark can show which stage the time goes to."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._last = (time.perf_counter(), time.process_time())

    def lap(self, stage: str) -> None:
        now = (time.perf_counter(), time.process_time())
        self.laps[stage] = self.laps.get(stage, 0.0) + now[0] - self._last[0]
        self.cpu[stage] = self.cpu.get(stage, 0.0) + now[1] - self._last[1]
        self._last = now


def _later(
    pool: Executor | None, fn: Callable[[list[str]], list[int]], parts: list[list[str]]
) -> Callable[[], list[int]]:
    """Run ``fn`` over ``parts`` in the pool now (or in-process when asked); concatenate."""
    if pool is None:
        return lambda: [x for part in parts for x in fn(part)]
    futures = [pool.submit(fn, part) for part in parts]
    return lambda: [x for fut in futures for x in fut.result()]


def _unit_values(
    enc: Encoded,
    unit: str,
    groups: Sequence[AnswerGroups],
    window: int,
    sizes: dict[tuple[str, str], int],
) -> dict[tuple[str, str], Floats]:
    out: dict[tuple[str, str], Floats] = {}
    levels = ngram_levels(enc, MAX_N)
    for gr in groups:
        n_groups = len(gr.labels)
        tables = [group_level(level, gr.index, n_groups) for level in levels]
        for n in DISTINCT_N:
            types, total = distinct_counts(tables[n - 1])
            metric = f"distinct_{n}_{unit}"
            with np.errstate(invalid="ignore", divide="ignore"):
                out[gr.name, metric] = np.where(total > 0, types / total, np.nan)
            k = int(total[total > 0].min()) if (total > 0).any() else 0
            sizes[gr.name, f"{metric}_eq"] = k
            eq = expected_types(tables[n - 1], total, k) / k if k else np.full(n_groups, np.nan)
            out[gr.name, f"{metric}_eq"] = eq
        scores = self_bleu_scores(tables, enc.lengths, gr.index)
        out[gr.name, f"self_bleu_{unit}"] = group_means(scores, gr.index, n_groups)
        out[gr.name, f"mattr_{unit}"] = mattr_values(enc, tables[0], gr.index, window)
    return out


def _joined(texts: Sequence[str], gr: AnswerGroups) -> list[str]:
    members: list[list[str]] = [[] for _ in gr.labels]
    for text, g in zip(texts, gr.index.tolist(), strict=True):
        members[g].append(text)
    return ["\n".join(m) for m in members]


def compute_metrics(
    texts: Sequence[str],
    groups: Sequence[AnswerGroups],
    language: str,
    units: Sequence[Unit],
    workers: int,
    windows: Mapping[str, int],
    clock: StageClock,
) -> tuple[dict[tuple[str, str], Floats], dict[tuple[str, str], int]]:
    """Every metric for every grouping.

    With worker processes, they segment words (the slowest step) and then compress, while
    this process computes the character metrics and then the word metrics.
    """
    pool = fork_pool(workers)
    try:
        return _compute_with(texts, groups, language, units, pool, workers, windows, clock)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


def _compute_with(
    texts: Sequence[str],
    groups: Sequence[AnswerGroups],
    language: str,
    units: Sequence[Unit],
    pool: Executor | None,
    workers: int,
    windows: Mapping[str, int],
    clock: StageClock,
) -> tuple[dict[tuple[str, str], Floats], dict[tuple[str, str], int]]:
    words = (
        encode_words_async(texts, language, pool, parts=2 * workers) if "word" in units else None
    )
    parts = 2 * workers
    single = _later(pool, compressed_sizes, chunks(texts, parts))
    joined = [_later(pool, compressed_sizes, chunks(_joined(texts, gr), parts)) for gr in groups]
    clock.lap("start workers")
    values: dict[tuple[str, str], Floats] = {}
    sizes: dict[tuple[str, str], int] = {}
    for unit in units:
        enc = words() if unit == "word" and words is not None else encode_chars(texts)
        clock.lap(f"tokens {unit}")
        values |= _unit_values(enc, unit, groups, windows.get(unit, WINDOWS[unit]), sizes)
        clock.lap(f"metrics {unit}")
    alone = np.asarray(single(), dtype=np.float64)
    for gr, sizes_of in zip(groups, joined, strict=True):
        summed = np.bincount(gr.index, weights=alone, minlength=len(gr.labels))
        values[gr.name, "compression"] = np.asarray(sizes_of(), dtype=np.float64) / summed
    clock.lap("compression")
    return values, sizes
