"""Tokenisation by language, and the integer n-gram tables the diversity metrics count.

Why these choices:

* Chinese has no spaces, so "distinct-n over words" needs a segmenter; jieba (accurate mode,
  HMM on, i.e. its defaults) is the de-facto standard. Character n-grams need none and are the
  default unit for Chinese. English benchmarks use regex words (lower-cased), and characters
  are not a unit there (``UNITS``): distinct-1 over 26 letters says nothing about diversity.
* Full-width ASCII variants (``！``, ``～``, ``Ａ``) are folded to ASCII and ideographic spaces
  to spaces before tokenising, so a system that mixes ``!`` and ``！`` is not credited with an
  extra "word". Whitespace is never a token. Punctuation is: it is part of a character's voice.
* jieba is pure Python (about 3 s per million characters), so the release's 2.7 M characters
  are segmented in worker processes (fork) while the caller keeps computing character metrics.
  The dictionary is loaded once per process, with jieba's stderr chatter silenced.
* Metrics never touch strings after tokenising: :func:`ngram_levels` sorts every n-gram of the
  corpus once per order (integer keys built from the previous order's dense ids), and
  :func:`group_level` turns that into (group, type, answer, count) rows for a grouping with at
  most a radix sort, so the whole table is a handful of numpy passes instead of Python loops
  over 26,400 answers.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import re
import threading
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

Unit = Literal["char", "word"]
Int64s = NDArray[np.int64]

UNITS: dict[str, tuple[Unit, ...]] = {"zh": ("char", "word"), "en": ("word",)}
"""The token units computed per benchmark language, in table order."""

PARALLEL_MIN_TEXTS = 2000
"""Below this many texts, forking workers costs more than segmenting in-process."""

_FOLD = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_EN_WORD = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")


def fold_width(text: str) -> str:
    """Fold full-width ASCII variants to ASCII and U+3000 to a space (same length)."""
    return text.translate(_FOLD)


def check_language(language: str) -> None:
    """Reject a language the tokenisers do not know (one sentence, for the CLI)."""
    if language not in UNITS:
        raise ValueError(f"unknown language {language!r}; use one of {', '.join(UNITS)}")


def char_tokens(text: str) -> list[str]:
    """The non-whitespace characters of ``text`` after width folding."""
    return [c for c in fold_width(text) if not c.isspace()]


@cache
def _jieba() -> Any:
    """jieba, initialised once with its logger silenced (it prints to stderr by default)."""
    with warnings.catch_warnings():  # jieba 0.42's regexes warn when compiled from source
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", SyntaxWarning)
        import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def word_tokens(text: str, language: str = "zh") -> list[str]:
    """Words: jieba's accurate mode for ``zh``, lower-cased regex words for ``en``."""
    check_language(language)
    folded = fold_width(text)
    if language == "en":
        return _EN_WORD.findall(folded.lower())
    return [w for w in _jieba().lcut(folded) if not w.isspace()]


def tokenize(text: str, unit: Unit, language: str = "zh") -> list[str]:
    """Tokens of one text in ``unit`` ("char" or "word")."""
    if unit == "char":
        return char_tokens(text)
    if unit == "word":
        return word_tokens(text, language)
    raise ValueError(f"unknown unit {unit!r}; use 'char' or 'word'")


@dataclass(frozen=True)
class Encoded:
    """All answers' tokens as integer ids: answer ``i`` is ``ids[offsets[i]:offsets[i + 1]]``."""

    ids: Int64s
    offsets: Int64s
    vocab: tuple[str, ...]

    @property
    def n_answers(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> Int64s:
        return np.diff(self.offsets)

    def answer_of_token(self) -> Int64s:
        return np.repeat(np.arange(self.n_answers, dtype=np.int64), self.lengths)

    def tokens(self, answer: int) -> list[str]:
        """The tokens of one answer, as strings (for tests and the reference implementations)."""
        lo, hi = self.offsets[answer], self.offsets[answer + 1]
        return [self.vocab[i] for i in self.ids[lo:hi]]


def encode_tokens(token_lists: Sequence[Sequence[str]]) -> Encoded:
    """Encode already tokenised answers (ids in order of first appearance)."""
    index: dict[str, int] = {}
    flat = [index.setdefault(tok, len(index)) for toks in token_lists for tok in toks]
    offsets = np.zeros(len(token_lists) + 1, dtype=np.int64)
    np.cumsum([len(t) for t in token_lists], out=offsets[1:])
    return Encoded(np.asarray(flat, dtype=np.int64), offsets, tuple(index))


def encode_chars(texts: Sequence[str]) -> Encoded:
    """Character tokens of every text, vectorised (equal to :func:`char_tokens` per text)."""
    joined = "".join(texts).encode("utf-32-le", errors="surrogatepass")
    points = np.frombuffer(joined, dtype=np.uint32).astype(np.int64)
    points[(points >= 0xFF01) & (points <= 0xFF5E)] -= 0xFEE0
    points[points == 0x3000] = 0x20
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    present = np.zeros(int(points.max()) + 1 if points.size else 1, dtype=bool)
    present[points] = True
    vocab_points = [p for p in np.flatnonzero(present).tolist() if not chr(p).isspace()]
    lookup = np.full(len(present), -1, dtype=np.int64)
    lookup[vocab_points] = np.arange(len(vocab_points))
    ids = lookup[points]
    kept = ids >= 0
    answer = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(np.bincount(answer[kept], minlength=len(texts)), out=offsets[1:])
    return Encoded(ids[kept], offsets, tuple(chr(p) for p in vocab_points))


def merge_encoded(parts: Sequence[Encoded]) -> Encoded:
    """Concatenate encodings made with separate vocabularies (e.g. by worker processes)."""
    index: dict[str, int] = {}
    ids = []
    for part in parts:
        remap = np.array([index.setdefault(w, len(index)) for w in part.vocab], dtype=np.int64)
        ids.append(remap[part.ids] if part.ids.size else part.ids)
    lengths = np.concatenate([p.lengths for p in parts]) if parts else np.zeros(0, np.int64)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.concatenate(ids) if ids else np.zeros(0, np.int64)
    return Encoded(flat.astype(np.int64), offsets, tuple(index))


def encode_words(texts: Sequence[str], language: str = "zh") -> Encoded:
    """Word tokens of every text, encoded (one process)."""
    return encode_tokens([word_tokens(t, language) for t in texts])


def chunks(items: Sequence[str], parts: int) -> list[list[str]]:
    """Split texts into up to ``parts`` contiguous chunks of about equal character count."""
    sizes = np.cumsum([len(t) for t in items])
    total = int(sizes[-1]) if len(sizes) else 0
    cuts = [0, *np.searchsorted(sizes, [total * k / parts for k in range(1, parts)]).tolist()]
    cuts.append(len(items))
    return [list(items[a:b]) for a, b in itertools.pairwise(cuts) if b > a]


def default_workers(n_texts: int) -> int:
    """Worker processes to use: up to 2 cores, and only for inputs large enough to pay off."""
    if n_texts < PARALLEL_MIN_TEXTS:
        return 1
    return max(1, min(2, os.cpu_count() or 1))


def fork_pool(workers: int) -> Executor | None:
    """A pool of ``workers`` processes, or None for in-process work.

    Forked (cheap: the workers inherit the imported modules) when this process has a single
    thread; a process with other threads (a web server, say) must not fork, so its workers
    start from a fresh interpreter via ``forkserver``.
    """
    if workers <= 1:
        return None
    if _can_fork():
        return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
    if "forkserver" in multiprocessing.get_all_start_methods():
        return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver"))
    return None


def _can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


def encode_words_async(
    texts: Sequence[str], language: str = "zh", executor: Executor | None = None, parts: int = 4
) -> Callable[[], Encoded]:
    """Start word tokenisation; the returned function waits for and returns the encoding.

    With an ``executor`` (see :func:`fork_pool`) the texts are segmented in ``parts`` chunks by
    the workers, so the caller can compute character metrics meanwhile; without one the work
    happens when the result is asked for. Each worker loads jieba's dictionary itself (about a
    second, in parallel) rather than this process loading it before forking, which would keep
    the other core idle meanwhile.
    """
    check_language(language)
    if executor is None or len(texts) < 2:
        return lambda: encode_words(texts, language)
    futures = [executor.submit(encode_words, chunk, language) for chunk in chunks(texts, parts)]
    return lambda: merge_encoded([fut.result() for fut in futures])


def encode_texts(texts: Sequence[str], unit: Unit, language: str = "zh") -> Encoded:
    """Tokenise and encode ``texts`` in ``unit``."""
    if unit == "char":
        return encode_chars(texts)
    if unit == "word":
        return encode_words(texts, language)
    raise ValueError(f"unknown unit {unit!r}; use 'char' or 'word'")


def sort_by_key(keys: Int64s, positions: Int64s) -> tuple[Int64s, Int64s]:
    """(keys, positions) ordered by (key, position); a packed value sort when it fits 63 bits."""
    if not keys.size:
        return keys, positions
    key_bits = int(keys.max()).bit_length()
    pos_bits = int(positions.max()).bit_length()
    if key_bits + pos_bits <= 63:
        packed = keys << pos_bits
        packed |= positions
        packed.sort()
        sorted_keys = packed >> pos_bits
        packed &= (1 << pos_bits) - 1
        return sorted_keys, packed
    order = np.argsort(keys, kind="stable")
    return keys[order], positions[order]


@dataclass(frozen=True)
class NgramLevel:
    """Every n-gram of one order, sorted by (type, position); ``types`` are dense ids.

    n-grams never span two answers. Grouping-independent: computed once per token unit.
    """

    n: int
    positions: Int64s
    types: Int64s
    answers: Int64s


def ngram_levels(enc: Encoded, max_n: int) -> list[NgramLevel]:
    """n-grams for n = 1..``max_n``: one sort per order, the (n-1)-gram ids keeping keys small."""
    answer = enc.answer_of_token()
    size = len(enc.ids)
    vocab = max(len(enc.vocab), 1)
    room = enc.offsets[answer + 1] - np.arange(size) - 1  # tokens after this one in its answer
    dense = enc.ids
    out: list[NgramLevel] = []
    for n in range(1, max_n + 1):
        if n == 1 and vocab < (1 << 16):  # token ids are small: a radix sort
            order = np.argsort(enc.ids.astype(np.uint16), kind="stable")
            sorted_keys = enc.ids[order]
        else:
            starts = np.flatnonzero(room >= n - 1)
            keys = dense[starts] * vocab + enc.ids[starts + n - 1] if n > 1 else dense[starts]
            sorted_keys, order = sort_by_key(keys, starts)
        new_type = np.ones(len(order), dtype=bool)
        np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=new_type[1:])
        types = np.cumsum(new_type) - 1
        if n < max_n:
            dense = np.full(size, -1, dtype=np.int64)
            dense[order] = types
        out.append(NgramLevel(n, order, types, answer[order]))
    return out


@dataclass(frozen=True)
class GroupedCounts:
    """How often each n-gram type occurs in each answer of each group.

    Rows are the distinct (group, type, answer) triples with their ``counts``, in runs of one
    (group, type) called *segments*; ``seg_start`` indexes their first rows. ``positions`` are
    the n-grams' start positions in segment order (ascending within a segment) and ``first``
    marks each segment's first one. Answers of group -1 are left out.
    """

    n: int
    groups: Int64s
    answers: Int64s
    counts: Int64s
    segment: Int64s
    seg_start: Int64s
    n_groups: int
    positions: Int64s
    first: NDArray[np.bool_]

    @property
    def seg_group(self) -> Int64s:
        return self.groups[self.seg_start]


def stable_order(groups: Int64s, n_groups: int) -> Int64s:
    """Stable argsort of small non-negative group ids (a radix sort for < 65,536 groups)."""
    dtype = np.uint16 if n_groups < (1 << 16) else np.int64
    return np.argsort(groups.astype(dtype), kind="stable")


def is_monotone(group_of_answer: Int64s) -> bool:
    """Do the (non -1) group ids never decrease with the answer index?"""
    inside = group_of_answer[group_of_answer >= 0]
    return bool(np.all(inside[1:] >= inside[:-1]))


def group_level(level: NgramLevel, group_of_answer: Int64s, n_groups: int) -> GroupedCounts:
    """One order's n-grams counted per (group, type, answer).

    When group ids grow with the answer index (e.g. answers sorted by system then character),
    the (type, position) order already keeps each (type, group) together; otherwise a stable
    radix sort by group makes the order (group, type, position). Positions are kept for
    unigrams only (MATTR needs them).
    """
    types, answers = level.types, level.answers
    positions = level.positions if level.n == 1 else np.zeros(0, dtype=np.int64)
    g = group_of_answer[answers]
    if not is_monotone(group_of_answer):
        order = stable_order(np.where(g < 0, n_groups, g), n_groups + 1)
        types, answers = types[order], answers[order]
        positions = positions[order] if level.n == 1 else positions
        g = group_of_answer[answers]
    if (g < 0).any():
        keep = g >= 0
        types, answers, g = types[keep], answers[keep], g[keep]
        positions = positions[keep] if level.n == 1 else positions
    first = np.ones(len(g), dtype=bool)
    first[1:] = (types[1:] != types[:-1]) | (g[1:] != g[:-1])
    new_row = first.copy()
    new_row[1:] |= answers[1:] != answers[:-1]
    row_start = np.flatnonzero(new_row)
    counts = np.diff(row_start, append=len(g))
    row_first = first[row_start]
    segment = np.cumsum(row_first) - 1
    seg_start = np.flatnonzero(row_first)
    return GroupedCounts(
        level.n,
        g[row_start],
        answers[row_start],
        counts,
        segment,
        seg_start,
        n_groups,
        positions,
        first if level.n == 1 else first[:0],
    )


def grouped_ngrams(
    enc: Encoded, group_of_answer: Int64s, n_groups: int, max_n: int
) -> list[GroupedCounts]:
    """n-gram counts per (group, type, answer) for n = 1..``max_n`` (one grouping)."""
    return [group_level(lv, group_of_answer, n_groups) for lv in ngram_levels(enc, max_n)]
