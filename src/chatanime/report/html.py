"""The self-contained HTML report: one file, inline CSS/SVG/JS, opens offline.

The page is rendered by Jinja2 with autoescaping (dialogue text is data, never markup) from
view models built here out of a :class:`~chatanime.report.build.Report`; charts are inline
SVG from :mod:`chatanime.report.charts` / :mod:`chatanime.report.bars`. The only script is a
little vanilla JS for tabs, the system legend and the example-dialogue browser, whose data is
embedded as JSON (``tojson`` escapes ``<``, so no answer can close the script element).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from chatanime.corpus import HUMAN
from chatanime.metrics.tokens import UNITS
from chatanime.report import bars, charts
from chatanime.report.aggregate import LEVELS
from chatanime.report.build import Report, SourceBoard
from chatanime.report.labels import Labels
from chatanime.report.scores import DIMENSIONS, METRICS
from chatanime.report.views import (
    before_after,
    board_caption,
    board_rows,
    calibration_rows,
    comparison_matrix,
    comparison_text,
    diversity_rows,
    estimate_text,
    examples_payload,
    folds,
    glance,
    headline_metrics,
    pair_rows,
    persona_table,
    stars,
    style_rows,
)

PANELS = ("overall", *DIMENSIONS)


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("chatanime.report", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # UTF-8 JSON: escaped CJK would double the example browser's size; < > & ' stay escaped.
    env.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "sort_keys": False}
    env.filters["num"] = charts.fmt
    env.filters["pct"] = lambda x: "—" if not math.isfinite(x) else f"{x:.0%}"
    env.filters["est"] = estimate_text
    env.filters["cmp"] = comparison_text
    env.filters["stars"] = stars
    env.filters["before_after"] = before_after
    return env


def slug(text: str) -> str:
    """An HTML id fragment for a source label."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def _board_charts(report: Report, sb: SourceBoard, colours: dict[str, str]) -> dict[str, Any]:
    board, labels = sb.board, report.labels
    order = board.systems
    values = {
        s: {m: c.estimate.mean for m in METRICS if (c := board.cell(s, m)) is not None}
        for s in order
    }
    axis_labels = {m: (labels.short[m], labels.native.get(m, "")) for m in METRICS}
    radar = charts.radar(
        [s for s in report.systems if s in order],
        values,
        METRICS,
        axis_labels,
        labels.dimension_of,
        colours,
        title=f"The 9 metrics per system ({sb.source})",
    )
    intervals = {
        (s, lvl): bars.Interval(c.estimate.mean, c.estimate.lo, c.estimate.hi, c.estimate.n)
        for s in order
        for lvl in PANELS
        if (c := board.cell(s, lvl)) is not None
    }
    panel_labels = [(lvl, labels.both(lvl)) for lvl in PANELS]
    interval_chart = bars.interval_bars(
        order, panel_labels, intervals, colours, title=f"Means with 95% intervals ({sb.source})"
    )
    heat = board.by_character[board.by_character.level == "overall"]
    keys = zip(
        heat["system"].astype(str).tolist(), heat["character"].astype(str).tolist(), strict=True
    )
    pairs = zip(heat["mean"].tolist(), heat["n"].tolist(), strict=True)
    cells = {k: (float(m), int(n)) for k, (m, n) in zip(keys, pairs, strict=True)}
    columns = [(c.slug, c.name) for c in report.characters if any(k[1] == c.slug for k in cells)]
    heatmap = charts.heatmap(
        order,
        columns,
        cells,
        colours,
        title=f"Overall per character ({sb.source})",
        uid=f"heat-{slug(sb.source)}",
    )
    return {"radar": radar, "bars": interval_chart, "heatmap": heatmap}


def board_view(report: Report, sb: SourceBoard, colours: dict[str, str]) -> dict[str, Any]:
    """Everything one source's tab shows."""
    view: dict[str, Any] = {
        "id": slug(sb.source),
        "source": sb.source,
        "kind": sb.kind,
        "label": sb.label,
        "caption": board_caption(report, sb),
        "rows": board_rows(sb.board),
        "levels": list(LEVELS),
        "has_fans": HUMAN in sb.board.systems,
        "comparisons": comparison_matrix(sb.board),
        "pairs": pair_rows(sb.board),
        "personas": persona_table(sb.board),
        "style": style_view(sb, colours, report.labels),
    }
    view.update(_board_charts(report, sb, colours))
    return view


def style_view(sb: SourceBoard, colours: dict[str, str], labels: Labels) -> dict[str, Any] | None:
    """Raw vs controlled overall ranking, its slope chart, coefficients and per-metric ranks."""
    style = sb.style
    if style is None or "overall" not in style.results:
        if style is None or not style.failures:
            return None
        return {"rows": [], "failures": style.failures}  # the template reads both keys
    res = style.results["overall"]
    chart = bars.rank_shift(
        {e.system: e.raw_rank for e in res.systems},
        {e.system: e.adjusted_rank for e in res.systems},
        colours,
        title=f"Overall position before and after style control ({sb.source})",
        labels=("raw position", "style-controlled position"),
    )
    levels = [lvl for lvl in style.results if lvl != "overall"]
    ranks = {
        lvl: {r.system: (r.raw_rank, r.adjusted_rank) for r in style_rows(sb, lvl)}
        for lvl in levels
    }
    return {
        "rows": style_rows(sb),
        "chart": chart,
        "result": res,
        "features": {lvl: {f.name: f for f in r.features} for lvl, r in style.results.items()},
        "feature_names": [f.name for f in res.features],
        "levels": levels,
        "ranks": ranks,
        "failures": style.failures,
    }


def diversity_view(report: Report, colours: dict[str, str]) -> dict[str, Any] | None:
    """The automatic diversity tables (per grouping) and the headline metric panels."""
    table = report.diversity
    if table is None:
        return None
    groupings = []
    for grouping in table.groupings:
        metrics, rows, human_first, best = diversity_rows(table, grouping)
        groupings.append(
            {
                "name": grouping,
                "metrics": metrics,
                "rows": rows,
                "human_first": human_first,
                "best": best,
            }
        )
    panels = []
    for m in headline_metrics(table):
        meta = table.metric(m)
        values = tuple((s, table.row(s, m).mean, table.row(s, m).std) for s in table.systems)
        first = table.human_ranks_first(m) if "human" in table.systems else None
        panel = bars.DiversityPanel(m, meta.label, meta.higher_is_more_diverse, values, first)
        panels.append(
            {"metric": meta, "human_first": first, "chart": bars.diversity_panel(panel, colours)}
        )
    labels = {m.id: m.label for m in table.metrics}
    return {"table": table, "groupings": groupings, "panels": panels, "labels": labels}


def _overview_view(report: Report, colours: dict[str, str]) -> dict[str, Any]:
    ov = report.overview
    rows = [
        (o.summary.system, o.summary.mean_len_r1, o.summary.mean_len_r2, o.summary.max_len)
        for o in ov.systems
    ]
    chart = bars.length_bars(
        rows, ov.answer_limit, colours, title=f"Answer length per system ({ov.length_unit})"
    )
    return {"overview": ov, "length_chart": chart, "tokens": token_text(ov.language)}


def token_text(language: str) -> str:
    """What the diversity metrics count in ``language`` (:data:`chatanime.metrics.tokens.UNITS`)."""
    names = {"char": "characters", "word": "jieba words" if language == "zh" else "words"}
    return " and ".join(names[u] for u in UNITS.get(language, ("word",)))


def _pairwise_view(report: Report, colours: dict[str, str]) -> list[dict[str, Any]]:
    if report.pairwise is None:
        return []
    out = []
    for judge in report.pairwise.judges:
        cells = [c for c in report.pairwise.cells if c.judge == judge]
        dims = list(dict.fromkeys(c.dimension for c in cells))
        systems = [s for s in report.systems if any(c.system == s for c in cells)]
        data = {
            (c.system, c.dimension): bars.WinTieLoss(
                c.win.mean,
                c.tie.mean,
                c.loss.mean,
                bars.Interval(c.net.mean, c.net.lo, c.net.hi, c.net.n),
            )
            for c in cells
        }
        panels = [(d, report.labels.both(d)) for d in dims]
        chart = bars.win_tie_loss(
            systems, panels, data, colours, title=f"Win / tie / loss against the fans ({judge})"
        )
        rows = [(s, {c.dimension: c for c in cells if c.system == s}) for s in systems]
        out.append({"judge": judge, "id": slug(judge), "dims": dims, "rows": rows, "chart": chart})
    return out


def _calibration_view(report: Report) -> list[dict[str, Any]]:
    return [
        {"section": c, "rows": calibration_rows(c), "folds": folds(c), "id": slug(c.source)}
        for c in report.calibrations
    ]


def render_html(report: Report) -> str:
    """The whole report as one HTML document (UTF-8 text)."""
    colours = charts.palette(report.systems)
    context = {
        "r": report,
        "colours": colours,
        "boards": [board_view(report, sb, colours) for sb in report.boards],
        "diversity": diversity_view(report, colours),
        "pairwise": _pairwise_view(report, colours),
        "calibrations": _calibration_view(report),
        "glance": glance(report),
        "examples": examples_payload(report, colours),
        "judged_systems": [
            s for s in report.systems if any(s in d.estimates for d in report.judged_diversity)
        ],
        "metrics": list(METRICS),
        "dimensions": list(DIMENSIONS),
        **_overview_view(report, colours),
    }
    return environment().get_template("report.html.j2").render(**context)


def write_html(report: Report, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report), encoding="utf-8")
    return path
