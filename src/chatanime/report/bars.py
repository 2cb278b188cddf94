"""Bar-type SVG charts: scores with intervals, diversity, win/tie/loss, rank shifts, lengths.

Same conventions as :mod:`chatanime.report.charts` (escaped text, ``<title>`` tooltips,
``data-system`` on every series). Score bars use a zoomed axis whose ticks are labelled, with
the interval as a whisker: on a 1-5 scale where systems differ by tenths, bars from 1 would
all look equal, while the whiskers show which differences the data can support.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from chatanime.report.charts import (
    GRID,
    HUMAN,
    INK,
    MUTED,
    Scale,
    fmt,
    nice_domain,
    svg,
    text,
    ticks,
    tip,
)

ROW = 24.0
LEFT = 178.0


@dataclass(frozen=True)
class Interval:
    mean: float
    lo: float
    hi: float
    n: int


def _row_label(system: str, y: float, colour: str) -> str:
    weight = "700" if system == HUMAN else "normal"
    return (
        f'<rect x="{LEFT - 16:.1f}" y="{y - 5:.1f}" width="9" height="9" rx="2" fill="{colour}"/>'
        + text(LEFT - 22, y + 4, system, anchor="end", weight=weight)
    )


def _axis(x: Scale, top: float, bottom: float, values: Sequence[float], digits: int) -> str:
    out = []
    for v in values:
        px = x(v)
        out.append(
            f'<line x1="{px:.1f}" y1="{top:.1f}" x2="{px:.1f}" y2="{bottom:.1f}" stroke="{GRID}"/>'
        )
        out.append(text(px, bottom + 14, fmt(v, digits), anchor="middle", size=10, fill=MUTED))
    return "".join(out)


def interval_bars(
    systems: Sequence[str],
    panels: Sequence[tuple[str, str]],
    values: Mapping[tuple[str, str], Interval],
    colours: Mapping[str, str],
    *,
    title: str,
    columns: int = 2,
) -> Markup:
    """Small multiples (one per level in ``panels``, ``columns`` per row) on one shared axis;
    rows = ``systems`` in the given order."""
    pw, gap, head = 220.0, 30.0, 34.0
    block = head + ROW * len(systems) + 30
    n_rows = math.ceil(len(panels) / columns)
    width = LEFT + min(columns, len(panels)) * (pw + gap)
    finite = [v for iv in values.values() for v in (iv.lo, iv.hi, iv.mean) if math.isfinite(v)]
    d0, d1 = nice_domain(min(finite, default=1), max(finite, default=5), 0.25, floor=1, ceil=5)
    parts = []
    for p, (level, label) in enumerate(panels):
        row, col = divmod(p, columns)
        top = row * block + head
        if col == 0:
            parts.append(_row_stripes(systems, top, width, colours))
        x0 = LEFT + col * (pw + gap)
        x = Scale(d0, d1, x0, x0 + pw)
        parts.append(text(x0, top - 12, label, weight="600", size=12.5))
        parts.append(_axis(x, top, top + ROW * len(systems), ticks(d0, d1, 4), 2))
        for i, s in enumerate(systems):
            iv = values.get((s, level))
            if iv is not None and math.isfinite(iv.mean):
                parts.append(_interval_mark(s, label, iv, x, top + ROW * i + ROW / 2, colours))
    return svg(width, n_rows * block, "".join(parts), kind="bars", label=title)


def _row_stripes(
    systems: Sequence[str], top: float, width: float, colours: Mapping[str, str]
) -> str:
    parts = []
    for i, s in enumerate(systems):
        y = top + ROW * i
        if i % 2 == 0:
            parts.append(
                f'<rect x="0" y="{y:.1f}" width="{width:.1f}" height="{ROW}" fill="#f8f9fb"/>'
            )
        parts.append(_row_label(s, y + ROW / 2, colours.get(s, MUTED)))
    return "".join(parts)


def _interval_mark(
    system: str, label: str, iv: Interval, x: Scale, y: float, colours: Mapping[str, str]
) -> str:
    c = colours.get(system, MUTED)
    lo = iv.lo if math.isfinite(iv.lo) else iv.mean
    hi = iv.hi if math.isfinite(iv.hi) else iv.mean
    info = f"{system} · {label}: {fmt(iv.mean)} [{fmt(iv.lo)}, {fmt(iv.hi)}], n={iv.n}"
    thick = 2.4 if system == HUMAN else 1.6
    return (
        f'<g class="series" data-system="{escape(system)}">{tip(info)}'
        f'<rect x="{x.r0:.1f}" y="{y - 6:.1f}" width="{max(0.0, x(iv.mean) - x.r0):.1f}" '
        f'height="12" rx="2" fill="{c}" fill-opacity="0.28"/>'
        f'<line x1="{x(lo):.1f}" y1="{y:.1f}" x2="{x(hi):.1f}" y2="{y:.1f}" stroke="{INK}" '
        f'stroke-width="{thick}"/>'
        + _cap(x(lo), y)
        + _cap(x(hi), y)
        + f'<circle cx="{x(iv.mean):.1f}" cy="{y:.1f}" r="4.5" fill="{c}" stroke="#fff" '
        f'stroke-width="1.2"/></g>'
    )


def _cap(px: float, y: float) -> str:
    return f'<line x1="{px:.1f}" y1="{y - 4:.1f}" x2="{px:.1f}" y2="{y + 4:.1f}" stroke="{INK}"/>'


@dataclass(frozen=True)
class DiversityPanel:
    metric: str
    label: str
    higher_is_more_diverse: bool
    rows: tuple[tuple[str, float, float], ...]  # system, mean, std (across groups)
    human_first: bool | None


def diversity_panel(panel: DiversityPanel, colours: Mapping[str, str]) -> Markup:
    """One metric: systems from most to least diverse, bars from 0 with a +-1 SD whisker."""
    sign = 1.0 if panel.higher_is_more_diverse else -1.0
    rows = sorted((r for r in panel.rows if math.isfinite(r[1])), key=lambda r: -sign * r[1])
    pw, top = 200.0, 30.0
    width, bottom = LEFT + pw + 56, top + ROW * len(rows)
    hi = max((m + (sd if math.isfinite(sd) else 0.0) for _, m, sd in rows), default=1.0)
    x = Scale(0.0, hi * 1.05 or 1.0, LEFT, LEFT + pw)
    direction = "higher = more diverse" if panel.higher_is_more_diverse else "lower = more diverse"
    parts = [
        text(6, 16, f"{panel.label}", weight="600", size=12.5),
        text(width - 6, 16, direction, anchor="end", size=10.5, fill=MUTED),
    ]
    parts.append(_axis(x, top, bottom, ticks(0.0, hi * 1.05, 3), 2))
    for i, (s, mean, sd) in enumerate(rows):
        y = top + ROW * i + ROW / 2
        c = colours.get(s, MUTED)
        parts.append(_row_label(s, y, c))
        lo_sd, hi_sd = (mean - sd, mean + sd) if math.isfinite(sd) else (mean, mean)
        info = f"{s} · {panel.label}: {fmt(mean, 3)} (SD {fmt(sd, 3)} across groups)"
        opacity = "0.95" if s == HUMAN else "0.55"
        parts.append(
            f'<g class="series" data-system="{escape(s)}">{tip(info)}'
            f'<rect x="{LEFT:.1f}" y="{y - 7:.1f}" width="{x(mean) - LEFT:.1f}" height="14" '
            f'rx="2" fill="{c}" fill-opacity="{opacity}"/>'
            f'<line x1="{x(max(lo_sd, 0)):.1f}" y1="{y:.1f}" x2="{x(hi_sd):.1f}" y2="{y:.1f}" '
            f'stroke="{INK}" stroke-opacity=".6"/>'
            + text(x(hi_sd) + 5, y + 4, fmt(mean, 3), size=10, fill=MUTED)
            + "</g>"
        )
    return svg(width, bottom + 22, "".join(parts), kind="diversity", label=panel.label)


@dataclass(frozen=True)
class WinTieLoss:
    win: float
    tie: float
    loss: float
    net: Interval


def win_tie_loss(
    systems: Sequence[str],
    panels: Sequence[tuple[str, str]],
    cells: Mapping[tuple[str, str], WinTieLoss],
    colours: Mapping[str, str],
    *,
    title: str,
) -> Markup:
    """Stacked win / tie / loss shares against the fans, one panel per dimension."""
    pw, gap, top = 220.0, 24.0, 34.0
    width = LEFT + len(panels) * (pw + gap)
    bottom = top + ROW * len(systems)
    segs = (("win", "#2f9e44"), ("tie", "#ced4da"), ("loss", "#f08c8c"))
    parts = []
    for i, s in enumerate(systems):
        parts.append(_row_label(s, top + ROW * i + ROW / 2, colours.get(s, MUTED)))
    for p, (dim, label) in enumerate(panels):
        x0 = LEFT + p * (pw + gap)
        parts.append(text(x0, top - 12, label, weight="600", size=12.5))
        for i, s in enumerate(systems):
            cell = cells.get((s, dim))
            if cell is None:
                continue
            y, x = top + ROW * i + 4, x0
            net = cell.net
            info = (
                f"{s} vs fans · {label}: win {cell.win:.0%}, tie {cell.tie:.0%}, "
                f"loss {cell.loss:.0%}; net {fmt(net.mean)} [{fmt(net.lo)}, {fmt(net.hi)}]"
            )
            group = [f'<g class="series" data-system="{escape(s)}">{tip(info)}']
            for name, colour in segs:
                share = getattr(cell, name)
                w = pw * share if math.isfinite(share) else 0.0
                group.append(
                    f'<rect class="seg-{name}" x="{x:.1f}" y="{y:.1f}" '
                    f'width="{w:.1f}" height="{ROW - 8}" fill="{colour}"/>'
                )
                if w > 30:
                    ink = "#fff" if name == "win" else INK
                    group.append(
                        text(x + w / 2, y + 12, f"{share:.0%}", anchor="middle", size=10, fill=ink)
                    )
                x += w
            parts.append("".join(group) + "</g>")
        mid = x0 + pw / 2
        parts.append(
            f'<line x1="{mid:.1f}" y1="{top - 4:.1f}" x2="{mid:.1f}" y2="{bottom:.1f}" '
            f'stroke="{INK}" stroke-dasharray="3 3" stroke-opacity=".4"/>'
        )
    return svg(width, bottom + 10, "".join(parts), kind="winrate", label=title)


def rank_shift(
    raw: Mapping[str, int],
    adjusted: Mapping[str, int],
    colours: Mapping[str, str],
    *,
    title: str,
    labels: tuple[str, str] = ("raw rank", "style-controlled rank"),
) -> Markup:
    """A slope chart from the raw to the style-controlled rank of every system."""
    top, row, xa, xb = 40.0, 26.0, 200.0, 420.0
    n = max(len(raw), 1)
    parts = [
        text(xa, 20, labels[0], anchor="middle", weight="600"),
        text(xb, 20, labels[1], anchor="middle", weight="600"),
    ]
    for s in sorted(raw, key=lambda k: raw[k]):
        ya, yb = top + row * (raw[s] - 1), top + row * (adjusted.get(s, raw[s]) - 1)
        c = colours.get(s, MUTED)
        w = 3.0 if s == HUMAN else 1.8
        weight = "700" if s == HUMAN else "normal"
        parts.append(
            f'<g class="series" data-system="{escape(s)}">'
            f"{tip(f'{s}: rank {raw[s]} → {adjusted.get(s, raw[s])}')}"
            f'<line x1="{xa:.1f}" y1="{ya:.1f}" x2="{xb:.1f}" y2="{yb:.1f}" stroke="{c}" '
            f'stroke-width="{w}"/>'
            f'<circle cx="{xa:.1f}" cy="{ya:.1f}" r="4" fill="{c}"/>'
            f'<circle cx="{xb:.1f}" cy="{yb:.1f}" r="4" fill="{c}"/>'
            + text(xa - 12, ya + 4, f"{s}  {raw[s]}", anchor="end", weight=weight)
            + text(xb + 12, yb + 4, f"{adjusted.get(s, raw[s])}  {s}", weight=weight)
            + "</g>"
        )
    return svg(620, top + row * n, "".join(parts), kind="rankshift", label=title)


def length_bars(
    rows: Sequence[tuple[str, float, float, int]],
    limit: int,
    colours: Mapping[str, str],
    *,
    title: str,
) -> Markup:
    """Mean answer length per round (two bars) and the longest answer, against the limit."""
    pw, top = 360.0, 30.0
    width, bottom = LEFT + pw + 40, top + ROW * len(rows)
    top_len = max([limit, *(r[3] for r in rows)])
    x = Scale(0.0, top_len * 1.05, LEFT, LEFT + pw)
    parts = [_axis(x, top, bottom, ticks(0.0, top_len * 1.05, 5), 0)]
    for i, (s, r1, r2, longest) in enumerate(rows):
        y = top + ROW * i
        c = colours.get(s, MUTED)
        parts.append(_row_label(s, y + ROW / 2, c))
        info = f"{s}: mean {r1:.1f} (round 1), {r2:.1f} (round 2); longest {longest}"
        parts.append(
            f'<g class="series" data-system="{escape(s)}">{tip(info)}'
            f'<rect x="{LEFT}" y="{y + 4:.1f}" width="{x(r1) - LEFT:.1f}" height="7" fill="{c}"/>'
            f'<rect x="{LEFT}" y="{y + 12:.1f}" width="{x(r2) - LEFT:.1f}" height="7" fill="{c}" '
            f'fill-opacity=".45"/>'
            f'<line x1="{x(longest):.1f}" y1="{y + 3:.1f}" x2="{x(longest):.1f}" '
            f'y2="{y + 20:.1f}" stroke="{INK}" stroke-width="1.5"/></g>'
        )
    lx = x(limit)
    parts.append(
        f'<line x1="{lx:.1f}" y1="{top - 6:.1f}" x2="{lx:.1f}" y2="{bottom:.1f}" '
        f'stroke="{HUMAN_LIMIT}" stroke-dasharray="4 3" stroke-width="1.5"/>'
    )
    parts.append(text(lx, top - 10, f"limit {limit}", anchor="middle", size=10.5, fill=HUMAN_LIMIT))
    return svg(width, bottom + 24, "".join(parts), kind="lengths", label=title)


HUMAN_LIMIT = "#c92a2a"
