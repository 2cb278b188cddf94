"""Inline SVG charts, generated in Python so the HTML report works offline with no JS library.

Every chart is a ``Markup`` string: all text that comes from data (system names, character
names) goes through ``escape``, so an answer or a name can never inject markup. Marks carry a
``<title>`` (the browser's tooltip) with the exact numbers, and series carry
``data-system`` so the page's legend can highlight or hide a system across charts.

Colours: :func:`palette` gives ``human`` (the fans) a strong red drawn on top with a thicker
stroke, and the LLMs a qualitative palette without reds, stable across charts because it
follows the report's system order.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

HUMAN = "human"
PointFn = Callable[[int, float], tuple[float, float]]
HUMAN_COLOUR = "#d62728"
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#b07aa1",
    "#17becf",
    "#edc948",
    "#9c755f",
    "#76b7b2",
    "#7f7f7f",
    "#ff9da7",
    "#393b79",
    "#8ca252",
    "#bcbd22",
)
INK = "#1f2933"
MUTED = "#6b7785"
GRID = "#e3e7ec"
FONT = 12


def palette(systems: Sequence[str]) -> dict[str, str]:
    """System -> colour; ``human`` red, the others in order from :data:`PALETTE` (cycling)."""
    out: dict[str, str] = {}
    i = 0
    for s in systems:
        if s == HUMAN:
            out[s] = HUMAN_COLOUR
        else:
            out[s] = PALETTE[i % len(PALETTE)]
            i += 1
    return out


def fmt(x: float, digits: int = 2) -> str:
    """A number for a label; an em dash for NaN."""
    return "—" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def svg(width: float, height: float, body: str, *, kind: str, label: str) -> Markup:
    """A responsive SVG element (scales down with its container, never up past ``width``)."""
    return Markup(
        f'<svg class="chart chart-{kind}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" role="img" aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMinYMin meet">'
        f"<title>{escape(label)}</title>{body}</svg>"
    )


def text(
    x: float,
    y: float,
    content: str,
    *,
    anchor: str = "start",
    size: float = FONT,
    fill: str = INK,
    weight: str = "normal",
    cls: str = "",
    extra: str = "",
) -> str:
    klass = f' class="{cls}"' if cls else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
        f'fill="{fill}" font-weight="{weight}"{klass}{extra}>{escape(content)}</text>'
    )


def tip(content: str) -> str:
    return f"<title>{escape(content)}</title>"


@dataclass(frozen=True)
class Scale:
    """A linear map from a data domain to pixels."""

    d0: float
    d1: float
    r0: float
    r1: float

    def __call__(self, v: float) -> float:
        if self.d1 == self.d0:
            return self.r0
        return self.r0 + (v - self.d0) / (self.d1 - self.d0) * (self.r1 - self.r0)


def nice_domain(
    lo: float, hi: float, step: float, *, floor: float, ceil: float
) -> tuple[float, float]:
    """``[lo, hi]`` widened to multiples of ``step`` and clipped to ``[floor, ceil]``."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return floor, ceil
    a = max(floor, math.floor(lo / step) * step)
    b = min(ceil, math.ceil(hi / step) * step)
    if b - a < step:
        a, b = max(floor, a - step), min(ceil, b + step)
    return a, b


def ticks(d0: float, d1: float, target: int = 5) -> list[float]:
    """Round tick values covering ``[d0, d1]`` (about ``target`` of them)."""
    if d1 <= d0:
        return [d0]
    raw = (d1 - d0) / target
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(d0 / step - 1e-9) * step
    out = []
    v = first
    while v <= d1 + 1e-9:
        out.append(round(v, 10))
        v += step
    return out


def radar(
    systems: Sequence[str],
    values: Mapping[str, Mapping[str, float]],
    axes: Sequence[str],
    axis_labels: Mapping[str, tuple[str, str]],
    groups: Mapping[str, str],
    colours: Mapping[str, str],
    *,
    title: str,
    scale_max: float = 5.0,
) -> Markup:
    """One polygon per system over ``axes`` (the 9 metrics), like the study's figure.

    The radial domain is zoomed to the data (multiples of 0.5 within 1..``scale_max``), with
    labelled rings, so differences of a tenth are visible; ``groups`` shades the dimensions.
    """
    size, cx, cy, rad = 640.0, 320.0, 318.0, 205.0
    all_v = [v for s in systems for v in (values.get(s, {}).get(a, math.nan) for a in axes)]
    finite = [v for v in all_v if math.isfinite(v)]
    d0, d1 = nice_domain(
        min(finite, default=1), max(finite, default=5), 0.5, floor=1, ceil=scale_max
    )
    d0 = max(1.0, d0 - 0.5) if d0 > 1 else d0
    r = Scale(d0, d1, 0.0, rad)
    n = len(axes)

    def point(i: int, v: float) -> tuple[float, float]:
        ang = -math.pi / 2 + 2 * math.pi * i / n
        return cx + r(v) * math.cos(ang), cy + r(v) * math.sin(ang)

    parts = [_radar_sectors(axes, groups, point, d1, cx, cy)]
    for t in ticks(d0, d1, 4):
        ring = " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(i, t) for i in range(n)))
        parts.append(f'<polygon points="{ring}" fill="none" stroke="{GRID}" stroke-width="1"/>')
        (x0, y0), (x1, y1) = point(0, t), point(1, t)  # label the ring between two axes
        parts.append(text((x0 + x1) / 2 + 3, (y0 + y1) / 2 + 3, fmt(t, 1), size=10, fill=MUTED))
    for i, a in enumerate(axes):
        x, y = point(i, d1)
        parts.append(f'<line x1="{cx}" y1="{cy}" x2="{x:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        parts.append(_radar_label(i, n, point(i, d1 + (d1 - d0) * 0.13), axis_labels[a]))
    ordered = [s for s in systems if s != HUMAN] + [s for s in systems if s == HUMAN]
    for s in ordered:
        parts.append(_radar_series(s, values.get(s, {}), axes, point, colours[s], axis_labels))
    return svg(size, size, "".join(parts), kind="radar", label=title)


def _radar_sectors(
    axes: Sequence[str], groups: Mapping[str, str], point: PointFn, d1: float, cx: float, cy: float
) -> str:
    """A light wedge behind each dimension's axes, bounded by the outer ring's edge midpoints."""
    shades = ("#eef3fb", "#fcf3ea", "#edf7ee")
    n = len(axes)

    def vertex(i: int) -> tuple[float, float]:
        return point(i % n, d1)

    def mid(i: int) -> tuple[float, float]:
        (x0, y0), (x1, y1) = vertex(i), vertex(i + 1)
        return (x0 + x1) / 2, (y0 + y1) / 2

    out = []
    for gi, g in enumerate(dict.fromkeys(groups.get(a, "") for a in axes)):
        idx = [i for i, a in enumerate(axes) if groups.get(a, "") == g]
        pts = [(cx, cy), mid(idx[0] - 1), *(vertex(i) for i in idx), mid(idx[-1])]
        poly = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        out.append(f'<polygon points="{poly}" fill="{shades[gi % 3]}" stroke="none"/>')
    return "".join(out)


def _radar_label(i: int, n: int, xy: tuple[float, float], label: tuple[str, str]) -> str:
    x, y = xy
    cos = math.cos(-math.pi / 2 + 2 * math.pi * i / n)
    anchor = "middle" if abs(cos) < 0.3 else ("start" if cos > 0 else "end")
    short, native = label
    out = text(x, y, short, anchor=anchor, size=12, weight="600")
    if native and native != short:
        out += text(x, y + 15, native, anchor=anchor, size=11, fill=MUTED, cls="cjk")
    return out


def _radar_series(
    system: str,
    vals: Mapping[str, float],
    axes: Sequence[str],
    point: PointFn,
    colour: str,
    labels: Mapping[str, tuple[str, str]],
) -> str:
    pts = []
    dots = []
    for i, a in enumerate(axes):
        v = vals.get(a, math.nan)
        if not math.isfinite(v):
            continue
        x, y = point(i, v)
        pts.append(f"{x:.1f},{y:.1f}")
        dots.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.2" fill="{colour}">'
            f"{tip(f'{system} · {labels[a][0]}: {fmt(v)}')}</circle>"
        )
    human = system == HUMAN
    width, fill_op = (3.2, 0.14) if human else (1.6, 0.04)
    poly = (
        f'<polygon points="{" ".join(pts)}" fill="{colour}" fill-opacity="{fill_op}" '
        f'stroke="{colour}" stroke-width="{width}" stroke-linejoin="round">'
        f"{tip(system)}</polygon>"
    )
    return f'<g class="series" data-system="{escape(system)}">{poly}{"".join(dots)}</g>'


SEQUENTIAL = ("#f7fcf0", "#ccebc5", "#7bccc4", "#2b8cbe", "#084081")


def _hex(c: str) -> tuple[int, int, int]:
    return int(c[1:3], 16), int(c[3:5], 16), int(c[5:7], 16)


def colour_at(t: float, stops: Sequence[str] = SEQUENTIAL) -> str:
    """Colour at ``t`` in [0, 1] along ``stops`` (linear in RGB)."""
    t = min(1.0, max(0.0, t)) * (len(stops) - 1)
    i = min(int(t), len(stops) - 2)
    a, b = _hex(stops[i]), _hex(stops[i + 1])
    f = t - i
    r, g, bl = (round(a[k] + (b[k] - a[k]) * f) for k in range(3))
    return f"#{r:02x}{g:02x}{bl:02x}"


def is_dark(colour: str) -> bool:
    r, g, b = _hex(colour)
    return 0.299 * r + 0.587 * g + 0.114 * b < 140


# Heatmap geometry (px): cell size, and the margins the row and rotated column labels need.
HEAT_CELL_W, HEAT_CELL_H, HEAT_LEFT, HEAT_TOP = 46.0, 26.0, 170.0, 100.0


def heatmap(
    rows: Sequence[str],
    columns: Sequence[tuple[str, str]],
    values: Mapping[tuple[str, str], tuple[float, int]],
    colours: Mapping[str, str],
    *,
    title: str,
    uid: str = "heat",
) -> Markup:
    """Systems x characters, cell = mean score (with n in the tooltip); shared colour legend.

    ``columns`` are (slug, display name); ``values[(system, slug)] = (mean, n)``. The colour
    scale spans the finite means shown, so small differences between systems stay visible.
    """
    width = HEAT_LEFT + HEAT_CELL_W * len(columns) + 70
    height = HEAT_TOP + HEAT_CELL_H * len(rows) + 64
    finite = [m for m, _ in values.values() if math.isfinite(m)]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    parts = [_heatmap_column_label(j, name) for j, (_, name) in enumerate(columns)]
    for i, system in enumerate(rows):
        y = HEAT_TOP + HEAT_CELL_H * i
        parts.append(_heatmap_row_label(system, y, colours.get(system, MUTED)))
        for j, (slug, name) in enumerate(columns):
            mean, n = values.get((system, slug), (math.nan, 0))
            x = HEAT_LEFT + HEAT_CELL_W * j
            parts.append(_heatmap_cell(system, name, mean, n, x, y, lo, hi))
    parts.append(_legend_bar(HEAT_LEFT, HEAT_TOP + HEAT_CELL_H * len(rows) + 22, lo, hi, uid))
    return svg(width, height, "".join(parts), kind="heatmap", label=title)


def _heatmap_column_label(j: int, name: str) -> str:
    """A character's short name, rotated 45° so many columns fit without overlapping."""
    x = HEAT_LEFT + HEAT_CELL_W * (j + 0.5)
    y = HEAT_TOP - 8
    return text(
        x,
        y,
        short_name(name),
        size=11,
        anchor="start",
        cls="cjk",
        extra=f' transform="rotate(-45 {x:.1f} {y:.1f})"',
    )


def _heatmap_row_label(system: str, y: float, colour: str) -> str:
    """The system's name with a swatch of its colour (ties the row to the other charts);
    the fans in bold."""
    weight = "700" if system == HUMAN else "normal"
    swatch = (
        f'<rect x="{HEAT_LEFT - 14:.1f}" y="{y + 9:.1f}" width="8" height="8" rx="2" '
        f'fill="{colour}"/>'
    )
    label = text(HEAT_LEFT - 20, y + HEAT_CELL_H / 2 + 4, system, anchor="end", weight=weight)
    return swatch + label


def _heatmap_cell(
    system: str, name: str, mean: float, n: int, x: float, y: float, lo: float, hi: float
) -> str:
    """One coloured cell with its mean printed; white (no colour) when there is no score,
    and white ink on dark fills so the number stays readable."""
    fill = (
        colour_at((mean - lo) / (hi - lo) if hi > lo else 0.5) if math.isfinite(mean) else "#ffffff"
    )
    ink = "#ffffff" if math.isfinite(mean) and is_dark(fill) else INK
    return (
        f'<g class="cell" data-system="{escape(system)}">'
        f'<rect x="{x + 1:.1f}" y="{y + 1:.1f}" width="{HEAT_CELL_W - 2:.1f}" '
        f'height="{HEAT_CELL_H - 2:.1f}" rx="3" fill="{fill}" stroke="{GRID}" stroke-width=".5">'
        f"{tip(f'{system} · {name}: {fmt(mean)} (n={n})')}</rect>"
        + text(
            x + HEAT_CELL_W / 2,
            y + HEAT_CELL_H / 2 + 4,
            fmt(mean),
            anchor="middle",
            size=10.5,
            fill=ink,
            extra=' pointer-events="none"',
        )
        + "</g>"
    )


def short_name(name: str, limit: int = 8) -> str:
    """A column label: the name without its parenthetical, cut to ``limit`` characters."""
    base = re.split(r"[（(]", name, maxsplit=1)[0].strip() or name
    return base if len(base) <= limit else base[: limit - 1] + "…"


def _legend_bar(x: float, y: float, lo: float, hi: float, uid: str, width: float = 240) -> str:
    stops = "".join(
        f'<stop offset="{k / 10:.1f}" stop-color="{colour_at(k / 10)}"/>' for k in range(11)
    )
    gid = f"{escape(uid)}-grad"
    return (
        f'<defs><linearGradient id="{gid}">{stops}</linearGradient></defs>'
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{width}" height="10" rx="2" fill="url(#{gid})"/>'
        + text(x, y + 24, fmt(lo), size=10.5, fill=MUTED)
        + text(x + width, y + 24, fmt(hi), size=10.5, fill=MUTED, anchor="end")
        + text(x + width + 12, y + 9, "mean score (low → high)", size=10.5, fill=MUTED)
    )
