"""CSV and JSON outputs: every number of the report as long-form records, sources labelled.

One record per number with a ``table`` column (``leaderboard``, ``comparison``, ``by_persona``,
``by_character``, ``style_control``, ``style_feature``, ``pairwise``, ``bias``,
``judged_diversity``, ``calibration``, ``diversity``, ``overview``) and a ``source``
(``judge:<model>``, ``judge:ensemble``, ``judge:<model>:calibrated``, ``human:<study>``,
``pairwise:<judge>``, ``judge:<model>:diversity``, ``automatic:diversity``, ``corpus``), so a
spreadsheet or a script can filter without guessing where a value came from. A calibration
record is one statistic of one metric (``grouping``: ``mae_before``, ``mae_after``,
``spearman_before`` ... ``pearson_after``, cross-validated; ``n``: rated pairs; ``baseline``:
the study). Missing values are empty (CSV) or ``null`` (JSON), never
NaN strings.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from chatanime.metrics.stats import Estimate
from chatanime.report.build import Report, SourceBoard
from chatanime.report.views import board_rows

COLUMNS = (
    "table",
    "source",
    "system",
    "level",
    "grouping",
    "mean",
    "lo",
    "hi",
    "sd",
    "n",
    "n_missing",
    "rank",
    "rank_order",
    "tied",
    "baseline",
    "diff",
    "p_value",
    "p_holm",
    "effect_size",
    "win",
    "tie",
    "loss",
    "flip_share",
    "raw_rank",
    "adjusted_rank",
)
Record = dict[str, Any]


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _record(**fields: Any) -> Record:
    unknown = set(fields) - set(COLUMNS)
    if unknown:
        raise ValueError(f"unknown record fields: {sorted(unknown)}")
    return {k: _clean(fields.get(k)) for k in COLUMNS}


def _estimate_fields(e: Estimate) -> Record:
    """The columns of an estimate with its interval (leaderboards, judged diversity)."""
    return {"mean": e.mean, "lo": e.lo, "hi": e.hi, "n": e.n, "n_missing": e.n_missing}


def _board_records(sb: SourceBoard) -> Iterator[Record]:
    board = sb.board
    tied = {row.system: row.tied for row in board_rows(board)}
    for c in board.cells:
        yield _record(
            table="leaderboard",
            source=sb.source,
            system=c.system,
            level=c.level,
            **_estimate_fields(c.estimate),
            rank=c.rank.rank if c.rank else None,
            rank_order=c.rank.order if c.rank else None,
            tied=tied.get(c.system) if c.level == "overall" else None,
        )
    for cmp in board.comparisons:
        r = cmp.result
        yield _record(
            table="comparison",
            source=sb.source,
            system=cmp.system,
            level=cmp.level,
            baseline=cmp.baseline,
            diff=r.mean_diff,
            n=r.n,
            n_missing=r.n_dropped,
            p_value=r.p_value,
            p_holm=cmp.p_holm,
            effect_size=r.effect_size,
        )
    for key, df in (("persona", board.by_persona), ("character", board.by_character)):
        for system, group, level, mean, n in df[["system", key, "level", "mean", "n"]].itertuples(
            index=False
        ):
            yield _record(
                table=f"by_{key}",
                source=sb.source,
                system=system,
                level=level,
                grouping=group,
                mean=float(mean),
                n=int(n),
            )
    yield from _style_records(sb)


def _style_records(sb: SourceBoard) -> Iterator[Record]:
    if sb.style is None:
        return
    for level, res in sb.style.results.items():
        for e in res.systems:
            yield _record(
                table="style_control",
                source=sb.source,
                system=e.system,
                level=level,
                mean=e.adjusted_mean,
                lo=e.lo,
                hi=e.hi,
                n=e.n,
                raw_rank=e.raw_rank,
                adjusted_rank=e.adjusted_rank,
                diff=e.vs_reference,
                baseline=res.reference_system,
            )
        for f in res.features:
            yield _record(
                table="style_feature",
                source=sb.source,
                system=None,
                level=level,
                grouping=f.name,
                mean=f.coef,
                lo=f.lo,
                hi=f.hi,
                sd=f.sd,
                n=res.n,
            )


def _judge_check_records(report: Report) -> Iterator[Record]:
    """Bias checks and LLM-judged diversity, each under its judge's source label."""
    if report.bias is not None:
        for rec in report.bias.to_records():
            yield _record(
                table="bias",
                source=f"judge:{rec['judge']}",
                level=rec["check"],
                grouping=rec["metric"] or None,
                mean=rec["value"],
                n=rec["n"],
            )
    for d in report.judged_diversity:
        for system, e in d.estimates.items():
            rank = d.ranks[system]
            yield _record(
                table="judged_diversity",
                source=d.source,
                system=system,
                level="diversity",
                **_estimate_fields(e),
                rank=rank.rank,
                rank_order=rank.order,
            )


def _calibration_records(report: Report) -> Iterator[Record]:
    for c in report.calibrations:
        for f in c.result.metrics:
            cv = f.cross_validated
            stats = {} if cv is None else cv.model_dump(exclude={"n", "k"})
            stats["n_applied"] = f.n_applied
            for name, value in stats.items():
                yield _record(
                    table="calibration",
                    source=c.source,
                    level=f.metric,
                    grouping=name,
                    mean=float(value),
                    n=f.n_pairs,
                    baseline=c.study,
                )


def _overview_records(report: Report) -> Iterator[Record]:
    """Per system: mean lengths per round, the share within the limit, mean style features."""
    for o in report.overview.systems:
        s = o.summary
        counts = {
            "length_r1": s.mean_len_r1,
            "length_r2": s.mean_len_r2,
            "within_limit": s.within_limit / s.answers,
        }
        for level, mean in counts.items():
            yield _record(
                table="overview",
                source="corpus",
                system=s.system,
                level=level,
                mean=mean,
                n=s.answers,
            )
        for k, v in o.style.items():
            yield _record(
                table="overview", source="corpus", system=s.system, level=f"style_{k}", mean=v
            )


def _pairwise_records(report: Report) -> Iterator[Record]:
    if report.pairwise is None:
        return
    for c in report.pairwise.cells:
        yield _record(
            table="pairwise",
            source=f"pairwise:{c.judge}",
            system=c.system,
            level=c.dimension,
            baseline=c.opponent,
            mean=c.net.mean,
            lo=c.net.lo,
            hi=c.net.hi,
            n=c.n_items,
            n_missing=c.n_unscored,
            win=c.win.mean,
            tie=c.tie.mean,
            loss=c.loss.mean,
            flip_share=c.flip_share.mean,
        )


def _diversity_records(report: Report) -> Iterator[Record]:
    if report.diversity is None:
        return
    ranks = {}
    for r in report.diversity.rows:
        key = (r.metric, r.grouping)
        if key not in ranks:
            ranks[key] = report.diversity.ranking(r.metric, r.grouping)
        yield _record(
            table="diversity",
            source="automatic:diversity",
            system=r.system,
            level=r.metric,
            grouping=r.grouping,
            mean=r.mean,
            sd=r.std,
            n=r.n_groups,
            rank_order=ranks[key].index(r.system) + 1,
        )


def records(report: Report) -> list[Record]:
    """Every number of the report as flat records (see the module docstring)."""
    out = list(_overview_records(report))
    for sb in report.boards:
        out.extend(_board_records(sb))
    out.extend(_pairwise_records(report))
    out.extend(_judge_check_records(report))
    out.extend(_calibration_records(report))
    out.extend(_diversity_records(report))
    return out


def render_csv(report: Report) -> str:
    """All records as CSV with a header (UTF-8; empty cells for missing values)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(records(report))
    return buffer.getvalue()


def render_json(report: Report) -> str:
    """Metadata, notes and the records grouped by table, as one JSON document."""
    tables: dict[str, list[Record]] = {}
    for rec in records(report):
        table = rec["table"]
        tables.setdefault(table, []).append({k: v for k, v in rec.items() if v is not None})
    doc = {
        "title": report.title,
        "generated_at": report.generated_at,
        "chatanime_version": report.version,
        "benchmark": report.overview.benchmark_ref,
        "systems": report.systems,
        "sources": [b.source for b in report.boards]
        + (["automatic:diversity"] if report.diversity is not None else []),
        "n_boot": report.n_boot,
        "notes": [asdict(n) for n in report.notes],
        "tables": tables,
    }
    return json.dumps(doc, ensure_ascii=False, indent=1, allow_nan=False)


def write_text(text: str, path: Path, *, bom: bool = False) -> Path:
    """Write ``text`` as UTF-8 (with a BOM for spreadsheets when ``bom``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8-sig" if bom else "utf-8")
    return path
