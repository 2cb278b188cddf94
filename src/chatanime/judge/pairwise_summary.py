"""Win / tie / loss against the fans, with intervals, and how often verdicts flip with order.

Reads the rows of :mod:`chatanime.judge.pairwise` (one judgment per pair and order, one
``scores`` row per dimension valued +1 / 0 / -1 from the system's point of view) and
reduces them per judge x system x dimension.

How the two orders are combined (the item's result): the sum of the two values decides:
positive = win, negative = loss, zero = tie. So a win needs both orders to say win, or one
win and one tie; a win in one order and a loss in the other (a position flip) is a tie, and
position bias cancels instead of deciding the item. Only items with both orders scored get
a combined result; an item with one order scored (the other unscored or not run) is counted
in ``n_one_order`` and left out, because a single order is exactly what position bias
distorts. Per-order rates (``by_order``) are also given, from every scored judgment.

Intervals are the project's two-way cluster bootstrap over characters x scenarios
(:func:`chatanime.metrics.stats.cluster_bootstrap_ci`) on 0/1 indicators per item, because
items sharing a character or a scenario are correlated.

``flip_share`` is the share of items whose verdict (in the system's view) changes when the
order is swapped; a consistent judge has 0 and a judge that always prefers the first
dialogue has 1. ``reversal_share`` counts only win <-> loss changes; ``first_shown_share``
is, among non-tie verdicts, the share favouring whichever dialogue was shown first
(0.5 = no position preference).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select

from chatanime.judge.pairwise import MODE, OPPONENT
from chatanime.judge.rubric import DIMENSION_IDS
from chatanime.metrics.stats import Estimate, cluster_bootstrap_ci
from chatanime.store import Store
from chatanime.store.schema import judgments, scores

ItemKey = tuple[str, int]  # character, scenario


@dataclass(frozen=True)
class Verdict:
    """One stored verdict; ``value`` is ``None`` for an unscored judgment."""

    judge: str
    system: str
    opponent: str
    character: str
    scenario: int
    order: str
    dimension: str
    value: float | None


@dataclass(frozen=True)
class OrderRates:
    """Verdict shares of one order over its scored judgments (system's point of view)."""

    order: str
    n: int
    win: float
    tie: float
    loss: float


@dataclass(frozen=True)
class VsFansCell:
    """One system against the fans on one dimension, by one judge."""

    judge: str
    system: str
    opponent: str
    dimension: str
    n_items: int
    """Items with both orders scored: the base of the combined rates and of ``flip_share``."""
    n_one_order: int
    n_unscored: int
    """Unscored judgments (either order)."""
    win: Estimate
    tie: Estimate
    loss: Estimate
    net: Estimate
    """Mean combined result (+1 / 0 / -1): win rate minus loss rate."""
    flip_share: Estimate
    reversal_share: float
    first_shown_share: float
    by_order: tuple[OrderRates, ...]


@dataclass(frozen=True)
class VsFansSummary:
    """Every (judge, system, dimension) cell; ``level`` is the intervals' coverage."""

    cells: tuple[VsFansCell, ...]
    level: float

    @property
    def judges(self) -> list[str]:
        return list(dict.fromkeys(c.judge for c in self.cells))

    @property
    def systems(self) -> list[str]:
        return list(dict.fromkeys(c.system for c in self.cells))

    def cell(self, judge: str, system: str, dimension: str) -> VsFansCell | None:
        key = (judge, system, dimension)
        return next((c for c in self.cells if (c.judge, c.system, c.dimension) == key), None)

    def to_records(self) -> list[dict[str, Any]]:
        """Flat rows for CSV / JSON export."""
        rows = []
        for c in self.cells:
            row: dict[str, Any] = {
                "judge": c.judge,
                "system": c.system,
                "opponent": c.opponent,
                "dimension": c.dimension,
                "n_items": c.n_items,
                "n_one_order": c.n_one_order,
                "n_unscored": c.n_unscored,
            }
            for name in ("win", "tie", "loss", "net", "flip_share"):
                est: Estimate = getattr(c, name)
                row |= {name: est.mean, f"{name}_lo": est.lo, f"{name}_hi": est.hi}
            row |= {"reversal_share": c.reversal_share, "first_shown_share": c.first_shown_share}
            rows.append(row)
        return rows


@dataclass(frozen=True)
class PositionBias:
    """Order sensitivity of one judge on one dimension, pooled over systems."""

    judge: str
    dimension: str
    n_items: int
    flip_share: Estimate
    reversal_share: float
    first_shown_share: float


def combine(ab: float, ba: float) -> int:
    """The item's result from its two orders: the sign of their sum (see module docstring)."""
    total = ab + ba
    return 1 if total > 0 else -1 if total < 0 else 0


def load_verdicts(
    store: Store,
    *,
    benchmark: str = "chatanime",
    judges: Sequence[str] | None = None,
    systems: Collection[str] | None = None,
    characters: Collection[str] | None = None,
    scenarios: Collection[int] | None = None,
    prompt_ref: str | None = None,
) -> list[Verdict]:
    """Stored pairwise-vs-fans verdicts; an unscored judgment yields ``None`` per dimension.

    ``prompt_ref`` keeps only verdicts given under that prompt version (the CLI uses it so
    a new prompt's results are not pooled with an old one's).
    """
    j = judgments
    where = [j.c.mode == MODE, j.c.benchmark == benchmark]
    if judges:
        where.append(j.c.judge_model.in_(list(judges)))
    if prompt_ref:
        where.append(j.c.prompt_ref == prompt_ref)
    cols = (j.c.id, j.c.judge_model, j.c.system, j.c.opponent, j.c.character, j.c.scenario)
    query = select(*cols, j.c.order, j.c.status).where(*where)
    values: dict[str, dict[str, float]] = defaultdict(dict)
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
        joined = select(scores.c.judgment_id, scores.c.metric, scores.c.value).select_from(
            scores.join(j, scores.c.judgment_id == j.c.id)
        )
        for jid, dim, value in conn.execute(joined.where(*where)):
            values[jid][dim] = float(value)
    out = []
    for jid, judge, system, opponent, character, scenario, order, status in rows:
        if systems is not None and system not in systems:
            continue
        if characters is not None and character not in characters:
            continue
        if scenarios is not None and int(scenario) not in scenarios:
            continue
        got = values.get(jid, {}) if status == "scored" else {}
        for dim in DIMENSION_IDS:
            who = opponent or OPPONENT
            out.append(
                Verdict(judge, system, who, character, int(scenario), order, dim, got.get(dim))
            )
    return out


@dataclass
class _Items:
    """Verdicts of one group by item and order, plus the unscored count."""

    by_item: dict[ItemKey, dict[str, float]]
    unscored: int = 0

    def both(self) -> list[tuple[ItemKey, float, float]]:
        return [
            (k, o["AB"], o["BA"]) for k, o in sorted(self.by_item.items()) if {"AB", "BA"} <= set(o)
        ]


def _group(verdicts: Iterable[Verdict], keys: Sequence[str]) -> dict[tuple[str, ...], _Items]:
    groups: dict[tuple[str, ...], _Items] = {}
    for v in verdicts:
        key = tuple(str(getattr(v, k)) for k in keys)
        group = groups.setdefault(key, _Items({}))
        if v.value is None:
            group.unscored += 1
        else:
            group.by_item.setdefault((v.character, v.scenario), {})[v.order] = v.value
    return groups


def _estimate(
    values: Sequence[float], items: Sequence[ItemKey], n_boot: int, seed: int, level: float
) -> Estimate:
    if not values:
        return Estimate(math.nan, math.nan, math.nan, 0)
    chars = np.array([c for c, _ in items])
    scens = np.array([s for _, s in items])
    return cluster_bootstrap_ci(
        np.asarray(values, dtype=float), chars, scens, n_boot=n_boot, level=level, seed=seed
    )


def _first_shown(groups: Iterable[_Items]) -> float:
    """Share of scored non-tie verdicts favouring the first-shown dialogue (AB: +1, BA: -1)."""
    firsts = [
        (value > 0) == (order == "AB")
        for group in groups
        for orders in group.by_item.values()
        for order, value in orders.items()
        if value != 0
    ]
    return sum(firsts) / len(firsts) if firsts else math.nan


def _order_rates(group: _Items) -> tuple[OrderRates, ...]:
    out = []
    for order in ("AB", "BA"):
        vals = [o[order] for o in group.by_item.values() if order in o]
        n = len(vals)

        def share(x: float, vals: list[float] = vals, n: int = n) -> float:
            return sum(v == x for v in vals) / n if n else math.nan

        out.append(OrderRates(order, n, share(1.0), share(0.0), share(-1.0)))
    return tuple(out)


def _flips(
    pairs: Sequence[tuple[ItemKey, float, float]], n_boot: int, seed: int, level: float
) -> tuple[Estimate, float]:
    keys = [k for k, _, _ in pairs]
    flips = [float(ab != ba) for _, ab, ba in pairs]
    reversals = [ab * ba < 0 for _, ab, ba in pairs]
    reversal = sum(reversals) / len(reversals) if reversals else math.nan
    return _estimate(flips, keys, n_boot, seed, level), reversal


def summarise_verdicts(
    verdicts: Iterable[Verdict], *, n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> VsFansSummary:
    """Per judge x system x dimension: combined rates with intervals, flips, per-order rates."""
    cells = []
    keys = ("judge", "system", "opponent", "dimension")
    for (judge, system, opponent, dim), group in _group(verdicts, keys).items():
        pairs = group.both()
        items = [k for k, _, _ in pairs]
        results = [combine(ab, ba) for _, ab, ba in pairs]

        def rate(x: int, results: list[int] = results, items: list[ItemKey] = items) -> Estimate:
            return _estimate([float(r == x) for r in results], items, n_boot, seed, level)

        flips, reversal = _flips(pairs, n_boot, seed, level)
        n_one = sum(1 for o in group.by_item.values() if len(o) == 1)
        cells.append(
            VsFansCell(
                judge, system, opponent, dim, len(pairs), n_one, group.unscored,
                rate(1), rate(0), rate(-1),
                _estimate([float(r) for r in results], items, n_boot, seed, level),
                flips, reversal, _first_shown([group]), _order_rates(group),
            )
        )  # fmt: skip
    dims = {d: i for i, d in enumerate(DIMENSION_IDS)}
    cells.sort(key=lambda c: (c.judge, c.system, dims.get(c.dimension, 9)))
    return VsFansSummary(tuple(cells), level)


def summarise_vs_fans(
    store: Store,
    *,
    benchmark: str = "chatanime",
    judges: Sequence[str] | None = None,
    systems: Collection[str] | None = None,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> VsFansSummary:
    """The report's entry point: :func:`load_verdicts` then :func:`summarise_verdicts`."""
    verdicts = load_verdicts(store, benchmark=benchmark, judges=judges, systems=systems)
    return summarise_verdicts(verdicts, n_boot=n_boot, seed=seed, level=level)


def position_bias(
    verdicts: Iterable[Verdict], *, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[PositionBias, ...]:
    """Flip share per judge x dimension, pooling every system's items (the judge audit)."""
    by_key: dict[tuple[str, str], list[_Items]] = defaultdict(list)
    for (judge, _system, dim), group in _group(verdicts, ("judge", "system", "dimension")).items():
        by_key[(judge, dim)].append(group)
    out = []
    for (judge, dim), groups in by_key.items():
        pairs = [pair for group in groups for pair in group.both()]
        flips, reversal = _flips(pairs, n_boot, seed, level)
        out.append(PositionBias(judge, dim, len(pairs), flips, reversal, _first_shown(groups)))
    dims = {d: i for i, d in enumerate(DIMENSION_IDS)}
    out.sort(key=lambda p: (p.judge, dims.get(p.dimension, 9)))
    return tuple(out)
