"""Automatic response diversity: is a system's voice varied, or does it repeat itself?

The study's fans wrote visibly more varied answers than the LLMs; these metrics quantify that
without judges. Each metric is a pure function of one *group* of answers (``Sequence[str]``);
:func:`diversity_table` computes them for every system over two groupings and summarises them.

Groupings (both rounds together unless ``rounds`` says otherwise):

* ``character``: one group per (system, character) = its answers to the 60 scenarios — does the
  system vary what a character says across situations?
* ``scenario``: one group per (system, scenario) = the 20 characters' answers — do different
  characters sound different in the same situation?

A system's value is the mean over its groups; std (sample, ddof=1), min and max give the spread.

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
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import astuple, dataclass, field, fields
from functools import cached_property
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np
from scipy.special import gammaln

from chatanime.metrics.selfbleu import MAX_N, Floats, group_means, self_bleu_scores
from chatanime.metrics.tokens import (
    UNITS,
    Encoded,
    GroupedCounts,
    Int64s,
    Unit,
    check_language,
    chunks,
    default_workers,
    encode_chars,
    encode_texts,
    encode_words_async,
    fork_pool,
    group_level,
    grouped_ngrams,
    ngram_levels,
)

if TYPE_CHECKING:
    import pandas as pd

HUMAN = "human"
Grouping = Literal["character", "scenario"]
GROUPINGS: tuple[Grouping, ...] = ("character", "scenario")
WINDOWS: dict[str, int] = {"char": 100, "word": 50}
DISTINCT_N = (1, 2, 3)


class AnswerLike(Protocol):
    """What the table needs of an answer (``chatanime.corpus.Answer`` is one)."""

    @property
    def system(self) -> str: ...
    @property
    def character(self) -> str: ...
    @property
    def scenario(self) -> int: ...
    @property
    def round(self) -> int: ...
    @property
    def text(self) -> str: ...


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
    for unit in _units(language, units):
        out += [Metric(f"distinct_{n}_{unit}", f"distinct-{n} {unit}", unit) for n in DISTINCT_N]
        out += [
            Metric(f"distinct_{n}_{unit}_eq", f"distinct-{n} {unit} (eq)", unit) for n in DISTINCT_N
        ]
        out.append(Metric(f"mattr_{unit}", f"MATTR {unit}", unit))
        out.append(Metric(f"self_bleu_{unit}", f"self-BLEU {unit} ↓", unit, False))
    out.append(Metric("compression", "compression", None))
    return tuple(out)


def _units(language: str, units: Sequence[str] | None) -> tuple[Unit, ...]:
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


# --- the table -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupValue:
    """One metric's value for one group (e.g. deepseek-v3 x luffy)."""

    system: str
    grouping: str
    group: str
    metric: str
    value: float


@dataclass(frozen=True, slots=True)
class DiversityRow:
    """A system's summary of one metric over its groups (NaN groups are left out)."""

    system: str
    metric: str
    grouping: str
    mean: float
    std: float
    min: float
    max: float
    n_groups: int


@dataclass(frozen=True)
class DiversityTable:
    """Per-group values and per-system summaries of every diversity metric.

    ``sample_sizes[(grouping, metric)]`` is the K of the equal-size metrics; ``timings`` and
    ``cpu_timings`` the wall and CPU seconds of this process per stage (for benchmarks).
    """

    language: str
    rounds: tuple[int, ...]
    metrics: tuple[Metric, ...]
    systems: tuple[str, ...]
    groupings: tuple[str, ...]
    values: tuple[GroupValue, ...]
    rows: tuple[DiversityRow, ...]
    sample_sizes: Mapping[tuple[str, str], int] = field(default_factory=dict)
    timings: Mapping[str, float] = field(default_factory=dict)
    cpu_timings: Mapping[str, float] = field(default_factory=dict)

    def metric(self, metric_id: str) -> Metric:
        for m in self.metrics:
            if m.id == metric_id:
                return m
        known = ", ".join(m.id for m in self.metrics)
        raise KeyError(f"unknown diversity metric {metric_id!r}; known: {known}")

    @cached_property
    def _rows_by_key(self) -> dict[tuple[str, str, str], DiversityRow]:
        return {(r.system, r.metric, r.grouping): r for r in self.rows}

    def row(self, system: str, metric: str, grouping: str = "character") -> DiversityRow:
        """The summary of ``metric`` for ``system`` over the groups of ``grouping``."""
        try:
            return self._rows_by_key[system, metric, grouping]
        except KeyError:
            raise KeyError(
                f"no row for system {system!r}, metric {metric!r}, grouping {grouping!r}"
            ) from None

    def ranking(self, metric: str, grouping: str = "character") -> list[str]:
        """Systems from most to least diverse on ``metric`` (systems without a value last)."""
        sign = 1.0 if self.metric(metric).higher_is_more_diverse else -1.0

        def key(system: str) -> float:
            mean = self.row(system, metric, grouping).mean
            return -sign * mean if mean == mean else float("inf")

        return sorted(self.systems, key=key)

    def best(self, metric: str, grouping: str = "character") -> str:
        return self.ranking(metric, grouping)[0]

    def human_ranks_first(self, metric: str, grouping: str = "character") -> bool:
        """Is ``human`` strictly more diverse than every other system on ``metric``?"""
        if HUMAN not in self.systems:
            raise KeyError(f"system {HUMAN!r} is not in the table")
        sign = 1.0 if self.metric(metric).higher_is_more_diverse else -1.0
        own = sign * self.row(HUMAN, metric, grouping).mean
        others = [sign * self.row(s, metric, grouping).mean for s in self.systems if s != HUMAN]
        return all(own > other for other in others)

    def to_dataframe(self) -> pd.DataFrame:
        """One row per (system, metric, grouping) with mean, std, min, max, n_groups."""
        import pandas as pd

        return pd.DataFrame(
            [astuple(r) for r in self.rows], columns=[f.name for f in fields(DiversityRow)]
        )

    def values_dataframe(self) -> pd.DataFrame:
        """One row per (system, grouping, group, metric): the per-group values."""
        import pandas as pd

        return pd.DataFrame(
            [astuple(v) for v in self.values], columns=[f.name for f in fields(GroupValue)]
        )


@dataclass(frozen=True)
class _Groups:
    """A grouping of the sorted answers: group index per answer (-1: none), label per group."""

    name: str
    index: Int64s
    labels: list[tuple[str, str]]  # (system, character slug or scenario id)


def _grouping(items: Sequence[AnswerLike], name: str) -> _Groups:
    if name not in GROUPINGS:
        raise ValueError(f"unknown grouping {name!r}; use one of {', '.join(GROUPINGS)}")
    ids: dict[tuple[str, str], int] = {}
    if name == "character":
        index = [ids.setdefault((a.system, a.character), len(ids)) for a in items]
    else:
        index = [ids.setdefault((a.system, str(a.scenario)), len(ids)) for a in items]
    return _Groups(name, np.asarray(index, dtype=np.int64), list(ids))


class _Clock:
    """Wall and CPU seconds (of this process) per stage."""

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
    groups: Sequence[_Groups],
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


def _joined(texts: Sequence[str], gr: _Groups) -> list[str]:
    members: list[list[str]] = [[] for _ in gr.labels]
    for text, g in zip(texts, gr.index.tolist(), strict=True):
        members[g].append(text)
    return ["\n".join(m) for m in members]


def _compute(
    texts: Sequence[str],
    groups: Sequence[_Groups],
    language: str,
    units: Sequence[Unit],
    workers: int,
    windows: Mapping[str, int],
    clock: _Clock,
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
    groups: Sequence[_Groups],
    language: str,
    units: Sequence[Unit],
    pool: Executor | None,
    workers: int,
    windows: Mapping[str, int],
    clock: _Clock,
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


def _row(system: str, metric: str, grouping: str, values: Floats) -> DiversityRow:
    ok = values[~np.isnan(values)]
    if not ok.size:
        nan = float("nan")
        return DiversityRow(system, metric, grouping, nan, nan, nan, nan, 0)
    std = float(ok.std(ddof=1)) if ok.size > 1 else float("nan")
    return DiversityRow(
        system, metric, grouping, float(ok.mean()), std, float(ok.min()), float(ok.max()), ok.size
    )


def _summaries(
    values: Mapping[tuple[str, str], Floats],
    groups: Sequence[_Groups],
    metrics: Sequence[Metric],
    systems: Sequence[str],
) -> tuple[list[GroupValue], list[DiversityRow]]:
    out_values: list[GroupValue] = []
    rows: list[DiversityRow] = []
    for gr in groups:
        owner = np.array([system for system, _ in gr.labels])
        for metric in metrics:
            vals = values[gr.name, metric.id]
            out_values += [
                GroupValue(s, gr.name, label, metric.id, v)
                for (s, label), v in zip(gr.labels, vals.tolist(), strict=True)
            ]
            rows += [_row(s, metric.id, gr.name, vals[owner == s]) for s in systems]
    return out_values, rows


def diversity_table(
    answers: Iterable[AnswerLike],
    language: str = "zh",
    *,
    groupings: Sequence[str] = GROUPINGS,
    rounds: Sequence[int] = (1, 2),
    units: Sequence[str] | None = None,
    workers: int | None = None,
    windows: Mapping[str, int] | None = None,
) -> DiversityTable:
    """Every diversity metric per (system, character) and/or (system, scenario) group.

    ``rounds`` selects the answers ((1, 2) = both rounds in one group); ``units`` the token
    units (default: all of the language's); ``windows`` overrides the MATTR window per unit.
    ``workers`` > 1 forks that many processes to segment words and compress while this one
    computes the metrics; 1 does everything here (default: 2 for large inputs on a machine
    with 2+ cores, else 1). The result does not depend on it.
    """
    check_language(language)
    chosen = _units(language, units)
    clock = _Clock()
    wanted = set(rounds)
    items = sorted(
        (a for a in answers if a.round in wanted),
        key=lambda a: (a.system, a.character, a.scenario, a.round),
    )
    if not items:
        raise ValueError(f"no answers in rounds {sorted(wanted)} to compute diversity on")
    texts = [a.text for a in items]
    groups = [_grouping(items, name) for name in dict.fromkeys(groupings)]
    systems = sorted({a.system for a in items}, key=lambda s: (s != HUMAN, s))
    metrics = metrics_for(language, chosen)
    clock.lap("prepare")
    n_workers = default_workers(len(texts)) if workers is None else max(1, workers)
    values, sizes = _compute(texts, groups, language, chosen, n_workers, windows or {}, clock)
    group_values, rows = _summaries(values, groups, metrics, systems)
    clock.lap("summarise")
    return DiversityTable(
        language=language,
        rounds=tuple(sorted({a.round for a in items})),
        metrics=metrics,
        systems=tuple(systems),
        groupings=tuple(g.name for g in groups),
        values=tuple(group_values),
        rows=tuple(rows),
        sample_sizes=sizes,
        timings=clock.laps,
        cpu_timings=clock.cpu,
    )
