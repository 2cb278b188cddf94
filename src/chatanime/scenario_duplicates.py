"""Near-duplicate removal across a generated benchmark's scenarios.

Models asked for many scenarios repeat themselves, and a benchmark with ten
paraphrases of "I failed my exam" over-weights that situation.
:func:`remove_near_duplicates` drops an opening line whose character n-gram
Jaccard similarity to an earlier kept one reaches a threshold. It only sees
texts, so it knows nothing of the per-scenario checks in
:mod:`chatanime.scenario_checks`; it runs once over the whole grid, since no
single cell can see its duplicates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from chatanime.metrics.tokens import fold_width

SHINGLE_SIZES = {"zh": 3, "en": 5}
"""Character n-gram size: 3 Han characters carry about as much as 5 Latin letters."""
_BLOCK_ROWS = 512


def shingles(text: str, language: str, size: int | None = None) -> frozenset[str]:
    """Character n-grams of the normalised text (punctuation and case do not count).

    Chinese keeps letters, digits and Han characters with no spaces; English keeps
    lower-case letters and digits with single spaces between words.
    """
    size = size or SHINGLE_SIZES.get(language, 3)
    folded = fold_width(text).lower()
    if language == "en":
        norm = " ".join(re.findall(r"[a-z0-9]+", folded))
    else:
        norm = "".join(ch for ch in folded if ch.isalnum())
    if len(norm) <= size:
        return frozenset([norm]) if norm else frozenset()
    return frozenset(norm[i : i + size] for i in range(len(norm) - size + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """|a ∩ b| / |a ∪ b|; two empty sets are not similar (0)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


@dataclass(frozen=True)
class NearDuplicate:
    """``index`` was dropped as a near-duplicate of the kept ``of`` (indexes into the input)."""

    index: int
    of: int
    similarity: float


@dataclass(frozen=True)
class Deduplicated:
    kept: tuple[int, ...]
    dropped: tuple[NearDuplicate, ...]


def _similar_pairs(
    sets: Sequence[frozenset[str]], threshold: float
) -> dict[int, list[tuple[int, float]]]:
    """Every (later, earlier, similarity) pair at or above ``threshold``, by later index.

    Exact Jaccard for all pairs, vectorised: the texts are rows of a sparse binary
    shingle matrix, and each block of rows is multiplied by the whole matrix to get
    intersection counts (memory ~ block x n). A few thousand candidates take well
    under a second; no MinHash, so no false negatives. scipy is imported here because
    it takes a second to import and most commands never deduplicate.
    """
    from scipy import sparse

    vocab: dict[str, int] = {}
    cols = [vocab.setdefault(s, len(vocab)) for item in sets for s in sorted(item)]
    sizes = np.array([len(item) for item in sets], dtype=np.float64)
    indptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    data = np.ones(len(cols), dtype=np.float64)
    matrix = sparse.csr_matrix(
        (data, np.asarray(cols, dtype=np.int64), indptr), shape=(len(sets), max(1, len(vocab)))
    )
    pairs: dict[int, list[tuple[int, float]]] = {}
    for lo in range(0, len(sets), _BLOCK_ROWS):
        hi = min(len(sets), lo + _BLOCK_ROWS)
        inter = np.asarray((matrix[lo:hi] @ matrix[:hi].T).todense())
        union = sizes[lo:hi, None] + sizes[None, :hi] - inter
        sim = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        rows = np.arange(lo, hi)[:, None]
        sim[np.arange(hi)[None, :] >= rows] = 0.0  # only earlier texts
        for i, j in zip(*np.nonzero(sim >= threshold), strict=True):
            pairs.setdefault(int(i) + lo, []).append((int(j), float(sim[i, j])))
    return pairs


def remove_near_duplicates(
    texts: Sequence[str], *, language: str, threshold: float = 0.6, size: int | None = None
) -> Deduplicated:
    """Keep texts in order, dropping each one whose similarity to a kept text is ≥ ``threshold``.

    Greedy and order-dependent on purpose: the earlier text (the first grid cell)
    wins, so a rerun keeps the same scenarios. A dropped text is reported with the
    most similar kept text.
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"the near-duplicate threshold must be in (0, 1], got {threshold}")
    sets = [shingles(t, language, size) for t in texts]
    pairs = _similar_pairs(sets, threshold) if sets else {}
    kept: list[int] = []
    kept_set: set[int] = set()
    dropped: list[NearDuplicate] = []
    for index in range(len(texts)):
        matches = [(sim, j) for j, sim in pairs.get(index, []) if j in kept_set]
        if matches:
            sim, j = max(matches, key=lambda m: (m[0], -m[1]))
            dropped.append(NearDuplicate(index, j, round(sim, 4)))
            continue
        kept.append(index)
        kept_set.add(index)
    return Deduplicated(tuple(kept), tuple(dropped))
