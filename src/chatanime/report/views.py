"""Renderer-neutral shapes of the report's tables (terminal, Markdown, CSV/JSON and HTML).

Each function turns part of a :class:`~chatanime.report.build.Report` into rows that every
output format prints the same way, so the formats cannot disagree about a number, a rank or a
significance mark.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chatanime.metrics.stats import Estimate, ranks_with_ties
from chatanime.report.aggregate import LEVELS, Comparison, Leaderboard
from chatanime.report.charts import fmt

if TYPE_CHECKING:
    from chatanime.metrics.diversity import DiversityTable
    from chatanime.report.build import Report, SourceBoard
    from chatanime.report.calibration import JudgeCalibrationSection

HEADLINE_DIVERSITY = (
    "distinct_2_char_eq",
    "distinct_2_word_eq",
    "mattr_char",
    "self_bleu_char",
    "compression",
)
ALPHA = 0.05


def estimate_text(e: Estimate | None, digits: int = 2) -> str:
    """``3.82 [3.71, 3.93]`` (just the mean when there is no interval)."""
    if e is None or not math.isfinite(e.mean):
        return "—"
    if not (math.isfinite(e.lo) and math.isfinite(e.hi)):
        return fmt(e.mean, digits)
    return f"{fmt(e.mean, digits)} [{fmt(e.lo, digits)}, {fmt(e.hi, digits)}]"


def rank_text(rank: int | None) -> str:
    return "—" if rank is None else str(rank)


def stars(p: float) -> str:
    """Significance marks for a Holm-adjusted p-value."""
    if not math.isfinite(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < ALPHA else ""


@dataclass(frozen=True)
class BoardRow:
    """One system's line of a leaderboard."""

    system: str
    rank: int | None
    tied: bool  # another system has the same rank (intervals overlap)
    order: int
    cells: dict[str, Estimate]
    n: int
    n_missing: int
    vs_baseline: Comparison | None = None

    @property
    def rank_text(self) -> str:
        if self.rank is None:
            return "—"
        return f"{self.rank}=" if self.tied else str(self.rank)


def board_rows(board: Leaderboard, baseline: str = "human") -> list[BoardRow]:
    """Systems by overall point estimate, with tied ranks and the overall test vs baseline."""
    overall = {c.system: c for c in board.cells if c.level == "overall"}
    ranks = [c.rank.rank for c in overall.values() if c.rank and c.rank.rank is not None]
    out = []
    for system in board.systems:
        cell = overall[system]
        rank = cell.rank.rank if cell.rank else None
        vs = next(
            (
                c
                for c in board.comparisons
                if c.system == system and c.baseline == baseline and c.level == "overall"
            ),
            None,
        )
        out.append(
            BoardRow(
                system=system,
                rank=rank,
                tied=rank is not None and ranks.count(rank) > 1,
                order=cell.rank.order if cell.rank else 0,
                cells={lvl: c.estimate for lvl in LEVELS if (c := board.cell(system, lvl))},
                n=cell.estimate.n,
                n_missing=cell.estimate.n_missing,
                vs_baseline=vs,
            )
        )
    return out


@dataclass(frozen=True)
class ComparisonRow:
    system: str
    baseline: str
    cells: dict[str, Comparison] = field(default_factory=dict)


def comparison_matrix(board: Leaderboard, baseline: str = "human") -> list[ComparisonRow]:
    """Each system vs ``baseline`` per level (Holm-adjusted), in leaderboard order."""
    rows = []
    for system in board.systems:
        if system == baseline:
            continue
        cells = {
            c.level: c for c in board.comparisons if c.system == system and c.baseline == baseline
        }
        if cells:
            rows.append(ComparisonRow(system, baseline, cells))
    return rows


def pair_rows(board: Leaderboard, baseline: str = "human") -> list[ComparisonRow]:
    """The extra system-vs-system comparisons (``--compare A:B``), in the order asked."""
    rows: dict[tuple[str, str], ComparisonRow] = {}
    for c in board.comparisons:
        if c.baseline != baseline:
            rows.setdefault((c.system, c.baseline), ComparisonRow(c.system, c.baseline))
            rows[(c.system, c.baseline)].cells[c.level] = c
    return list(rows.values())


def comparison_text(c: Comparison | None) -> str:
    """``+0.12**`` — mean difference on matched items with Holm significance marks."""
    if c is None:
        return "—"
    return f"{c.result.mean_diff:+.2f}{stars(c.p_holm)}"


def persona_table(board: Leaderboard) -> tuple[list[str], list[tuple[str, dict[str, float]]]]:
    """(personas, [(system, {persona: overall mean})]) in leaderboard order."""
    df = board.by_persona
    if df.empty:
        return [], []
    sub = df[df.level == "overall"]
    known = ["student", "office-worker", "freelancer", "self-employed"]
    personas = sorted(
        {str(p) for p in sub.persona},
        key=lambda p: (p not in known, known.index(p) if p in known else 0, p),
    )
    keys = zip(sub["system"].astype(str).tolist(), sub["persona"].astype(str).tolist(), strict=True)
    table: dict[tuple[str, str], float] = dict(zip(keys, sub["mean"].tolist(), strict=True))
    rows = [(s, {p: table.get((s, p), math.nan) for p in personas}) for s in board.systems]
    return personas, rows


@dataclass(frozen=True)
class StyleRow:
    """Raw and style-controlled standing of one system.

    Ranks are tied where intervals overlap, like the leaderboard: the raw rank is the
    leaderboard's (cluster-bootstrap intervals), the controlled rank uses the regression's
    intervals; ``*_position`` is the plain order by point estimate.
    """

    system: str
    raw_mean: float
    raw_rank: int | None
    adjusted_mean: float
    lo: float
    hi: float
    adjusted_rank: int | None
    raw_position: int
    adjusted_position: int

    @property
    def shift(self) -> int:
        """Controlled minus raw tied rank (negative: style control moves the system up)."""
        if self.raw_rank is None or self.adjusted_rank is None:
            return 0
        return self.adjusted_rank - self.raw_rank


def style_rows(sb: SourceBoard | None, level: str = "overall") -> list[StyleRow]:
    """Raw and style-controlled standing per system, by controlled point estimate."""
    if sb is None or sb.style is None or level not in sb.style.results:
        return []
    res = sb.style.results[level]
    adjusted = ranks_with_ties(
        {e.system: Estimate(e.adjusted_mean, e.lo, e.hi, e.n) for e in res.systems}
    )
    rows = []
    for e in res.systems:
        cell = sb.board.cell(e.system, level)
        raw_rank = cell.rank.rank if cell is not None and cell.rank is not None else None
        rows.append(
            StyleRow(
                e.system,
                e.raw_mean,
                raw_rank,
                e.adjusted_mean,
                e.lo,
                e.hi,
                adjusted[e.system].rank,
                e.raw_rank,
                e.adjusted_rank,
            )
        )
    return sorted(rows, key=lambda r: r.adjusted_position)


def diversity_rows(
    table: DiversityTable, grouping: str = "character"
) -> tuple[list[str], list[tuple[str, dict[str, float]]], dict[str, bool], dict[str, str]]:
    """(metric ids, [(system, {metric: mean})], human-first per metric, best system per metric)."""
    metrics = [m.id for m in table.metrics]
    rows = [(s, {m: table.row(s, m, grouping).mean for m in metrics}) for s in table.systems]
    human_first: dict[str, bool] = {}
    best: dict[str, str] = {}
    for m in metrics:
        best[m] = table.best(m, grouping)
        with contextlib.suppress(KeyError):  # KeyError: no human system in this corpus
            human_first[m] = table.human_ranks_first(m, grouping)
    return metrics, rows, human_first, best


def headline_metrics(table: DiversityTable) -> list[str]:
    ids = [m.id for m in table.metrics]
    chosen = [m for m in HEADLINE_DIVERSITY if m in ids]
    return chosen or ids[:4]


def examples_payload(report: Report, colours: dict[str, str]) -> dict[str, Any]:
    """The example browser's data (JSON-able): characters, scenarios and every system's turns."""
    items = {
        f"{e.character}:{e.scenario}": {
            "persona": e.persona,
            "emotion": e.emotion,
            "location": e.location,
            "q1": e.q1,
            "answers": [[a.system, a.q2, a.a1, a.a2] for a in e.answers],
        }
        for e in report.examples
    }
    chars = list(dict.fromkeys(e.character for e in report.examples))
    names = {c.slug: c for c in report.characters}
    return {
        "characters": [[c, names[c].name, names[c].work] for c in chars if c in names],
        "scenarios": list(dict.fromkeys(e.scenario for e in report.examples)),
        "items": items,
        "colours": colours,
        "limit": report.overview.answer_limit,
    }


@dataclass(frozen=True)
class Tile:
    """One "at a glance" fact: a big value, a label and a detail line."""

    value: str
    label: str
    detail: str = ""


def _board_tiles(sb: SourceBoard, baseline: str = "human") -> list[Tile]:
    rows = board_rows(sb.board, baseline)
    tiles = []
    leaders = [r.system for r in rows if r.rank == 1]
    if leaders:
        detail = f"{sb.source}; tied: {', '.join(leaders[1:])}" if len(leaders) > 1 else sb.source
        tiles.append(Tile(leaders[0], "ranks first", detail))
    fans = next((r for r in rows if r.system == baseline), None)
    if fans is not None:
        tiles.append(Tile(f"#{fans.rank_text}", "the fans' rank", f"of {len(rows)} · {sb.source}"))
        better = sum(
            1
            for r in rows
            if r.vs_baseline and r.vs_baseline.p_holm < ALPHA and r.vs_baseline.result.mean_diff > 0
        )
        worse = sum(
            1
            for r in rows
            if r.vs_baseline and r.vs_baseline.p_holm < ALPHA and r.vs_baseline.result.mean_diff < 0
        )
        tiles.append(
            Tile(f"{better} / {worse}", "LLMs above / below the fans", "overall, Holm p < .05")
        )
    style = {r.system: r for r in style_rows(sb)}
    if baseline in style:
        s = style[baseline]
        tiles.append(
            Tile(
                f"{rank_text(s.raw_rank)} → {rank_text(s.adjusted_rank)}",
                "the fans' rank, style-controlled",
                "raw → controlled for length, punctuation, emoji",
            )
        )
    return tiles


def glance(report: Report) -> list[Tile]:
    """The handful of facts a reader wants first, from the headline source and diversity."""
    tiles = _board_tiles(report.primary) if report.primary is not None else []
    table = report.diversity
    if table is not None and "human" in table.systems:
        _, _, first, _ = diversity_rows(table, "character")
        tiles.append(
            Tile(
                f"{sum(first.values())} / {len(first)}",
                "diversity metrics where the fans lead",
                f"automatic, vs all {len(table.systems) - 1} other systems",
            )
        )
    return tiles


@dataclass(frozen=True)
class CalibrationRow:
    """One metric of a judge's calibration: held-out agreement before and after the map.

    ``mae``/``spearman``/``pearson`` are (before, after) from k-fold cross-validation (NaN
    when there were too few rated items to validate; ``note`` then says why).
    """

    metric: str
    n_pairs: int
    n_applied: int
    calibrated: bool
    mae: tuple[float, float]
    spearman: tuple[float, float]
    pearson: tuple[float, float]
    note: str


def calibration_rows(section: JudgeCalibrationSection) -> list[CalibrationRow]:
    nan = (math.nan, math.nan)
    rows = []
    for f in section.result.metrics:
        cv = f.cross_validated
        rows.append(
            CalibrationRow(
                f.metric,
                f.n_pairs,
                f.n_applied,
                f.calibrated,
                (cv.mae_before, cv.mae_after) if cv else nan,
                (cv.spearman_before, cv.spearman_after) if cv else nan,
                (cv.pearson_before, cv.pearson_after) if cv else nan,
                f.note or "",
            )
        )
    return rows


def before_after(pair: tuple[float, float]) -> str:
    """``0.95 → 0.21`` (a dash for a missing side)."""
    return f"{fmt(pair[0])} → {fmt(pair[1])}"


def folds(section: JudgeCalibrationSection) -> int | None:
    """The number of cross-validation folds used (None when no metric was validated)."""
    return next((f.cross_validated.k for f in section.result.metrics if f.cross_validated), None)


def board_caption(report: Report, sb: SourceBoard) -> str:
    """What a calibrated leaderboard is, in one sentence (empty for other sources)."""
    section = next((c for c in report.calibrations if c.source == sb.source), None)
    if section is None:
        return ""
    n = max((f.n_applied for f in section.result.metrics), default=0)
    return (
        f"Calibrated scores: {section.judge}'s scores of the {n} items study "
        f"“{section.study}” did not rate, mapped per metric onto the human 1–5 scale by a "
        "monotone fit on the study's ratings (see “Judge calibration”). A separate source: "
        f"not pooled with judge:{section.judge} or with the ratings."
    )
