"""The inline SVG charts: well-formed, escaped, and marks where the numbers say."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

from chatanime.report import bars, charts
from chatanime.report.scores import METRICS

NS = {"s": "http://www.w3.org/2000/svg"}
SYSTEMS = ["human", "alpha", "<b>beta</b>"]


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # raises on malformed markup


def series(root: ET.Element, system: str) -> ET.Element:
    found = [g for g in root.iter() if g.get("data-system") == system]
    assert found, f"no series for {system}"
    return found[0]


def test_palette_highlights_human_and_separates_13_systems() -> None:
    names = ["human", *(f"m{i}" for i in range(12))]
    colours = charts.palette(names)
    assert colours["human"] == charts.HUMAN_COLOUR
    assert len(set(colours.values())) == 13
    assert charts.palette(list(reversed(names)))["human"] == charts.HUMAN_COLOUR


def test_ticks_and_domains() -> None:
    assert charts.ticks(2.5, 4.0, 3) == [2.5, 3.0, 3.5, 4.0]
    assert charts.nice_domain(3.12, 3.87, 0.25, floor=1, ceil=5) == (3.0, 4.0)
    assert charts.nice_domain(4.9, 5.0, 0.5, floor=1, ceil=5) == (4.5, 5.0)
    assert charts.nice_domain(math.nan, 3, 0.5, floor=1, ceil=5) == (1, 5)


def radar_svg(values: dict[str, dict[str, float]]) -> ET.Element:
    labels = {m: (m, "中文") for m in METRICS}
    groups = {m: m[:3] for m in METRICS}
    colours = charts.palette(SYSTEMS)
    return parse(
        charts.radar(SYSTEMS, values, METRICS, labels, groups, colours, title="radar <test>")
    )


def test_radar_draws_one_polygon_per_system_at_the_right_radius() -> None:
    values = {s: {m: 3.0 + 0.1 * i for m in METRICS} for i, s in enumerate(SYSTEMS)}
    values["human"]["fluency"] = 4.5
    root = radar_svg(values)
    assert root.get("class") == "chart chart-radar"
    for s in SYSTEMS:
        g = series(root, s)
        assert len(g.findall("s:polygon", NS)) == 1
        assert len(g.findall("s:circle", NS)) == len(METRICS)
    # fluency is the top axis: the human's dot sits straight above the centre, furthest out
    human = series(root, "human")
    dots = human.findall("s:circle", NS)
    top = dots[0]
    others = [float(series(root, s).findall("s:circle", NS)[0].get("cy", "0")) for s in SYSTEMS[1:]]
    assert float(top.get("cy", "0")) < min(others)
    assert float(top.get("cx", "0")) == pytest.approx(320.0)
    # the hostile name is text, not markup
    assert series(root, "<b>beta</b>") is not None
    assert root.find(".//s:b", NS) is None


def test_radar_skips_missing_metrics() -> None:
    values = {s: {m: 3.0 for m in METRICS[:5]} for s in SYSTEMS}
    root = radar_svg(values)
    assert len(series(root, "alpha").findall("s:circle", NS)) == 5


def test_heatmap_cells_colours_and_tooltips() -> None:
    columns = [("luffy", "路飞"), ("naruto", "鸣人")]
    values = {
        ("human", "luffy"): (4.0, 60),
        ("human", "naruto"): (2.0, 60),
        ("alpha", "luffy"): (3.0, 59),
    }
    root = parse(charts.heatmap(["human", "alpha"], columns, values, {}, title="h", uid="t"))
    cells = [g for g in root.iter() if g.get("class") == "cell"]
    assert len(cells) == 4  # 2 systems x 2 characters, the missing one drawn empty
    rects = {c.find("s:rect", NS).find("s:title", NS).text: c.find("s:rect", NS) for c in cells}
    assert rects["human · 路飞: 4.00 (n=60)"].get("fill") == charts.SEQUENTIAL[-1]
    assert rects["human · 鸣人: 2.00 (n=60)"].get("fill") == charts.SEQUENTIAL[0]
    assert rects["alpha · 鸣人: — (n=0)"].get("fill") == "#ffffff"
    assert "路飞" in ET.tostring(root, encoding="unicode")


def test_heatmap_labels_swatches_and_readable_ink() -> None:
    columns = [("luffy", "蒙奇·D·路飞（海贼王）"), ("violet", "薇尔莉特·伊芙加登")]
    values = {("human", "luffy"): (5.0, 2), ("<b>beta</b>", "luffy"): (1.0, 2)}
    colours = {"human": charts.HUMAN_COLOUR, "<b>beta</b>": "#123456"}
    root = parse(charts.heatmap(["human", "<b>beta</b>"], columns, values, colours, title="h"))
    texts = {t.text: t for t in root.findall(".//s:text", NS)}
    column = texts["蒙奇·D·路飞"]  # the parenthetical dropped; long names cut with an ellipsis
    assert "rotate(-45" in column.get("transform", "") and "薇尔莉特·伊芙…" in texts
    assert texts["human"].get("font-weight") == "700"
    assert texts["<b>beta</b>"].get("font-weight") == "normal"  # escaped, still text
    swatches = {r.get("fill") for r in root.findall(".//s:rect", NS) if r.get("width") == "8"}
    assert swatches == {charts.HUMAN_COLOUR, "#123456"}
    cells = [g for g in root.iter() if g.get("class") == "cell"]
    ink = {g.find("s:text", NS).text: g.find("s:text", NS).get("fill") for g in cells}
    assert ink["5.00"] == "#ffffff" and ink["1.00"] == charts.INK  # readable on dark and light


def test_interval_bars_place_means_and_whiskers() -> None:
    iv = {
        ("human", "overall"): bars.Interval(3.0, 2.8, 3.2, 100),
        ("alpha", "overall"): bars.Interval(4.0, 3.9, 4.1, 100),
    }
    root = parse(
        bars.interval_bars(["alpha", "human"], [("overall", "Overall")], iv, {}, title="b")
    )
    dot = {
        s: float(series(root, s).find("s:circle", NS).get("cx", "0")) for s in ("alpha", "human")
    }
    assert dot["alpha"] > dot["human"]
    whisker = series(root, "human").findall("s:line", NS)[0]
    lo, hi = float(whisker.get("x1", "0")), float(whisker.get("x2", "0"))
    assert lo < dot["human"] < hi
    assert (dot["human"] - lo) == pytest.approx(hi - dot["human"], abs=0.15)


def test_diversity_panel_sorts_by_direction() -> None:
    rows = (("human", 0.3, 0.01), ("alpha", 0.5, 0.02), ("gamma", math.nan, math.nan))
    lower = bars.DiversityPanel("self_bleu", "self-BLEU", False, rows, True)
    root = parse(bars.diversity_panel(lower, {}))
    order = [g.get("data-system") for g in root.iter() if g.get("class") == "series"]
    assert order == ["human", "alpha"]  # lower is more diverse; NaN left out
    higher = bars.DiversityPanel("distinct", "distinct", True, rows, False)
    root = parse(bars.diversity_panel(higher, {}))
    assert [g.get("data-system") for g in root.iter() if g.get("class") == "series"] == [
        "alpha",
        "human",
    ]


def test_win_tie_loss_segments_are_proportional() -> None:
    cell = bars.WinTieLoss(0.5, 0.25, 0.25, bars.Interval(0.25, 0.1, 0.4, 60))
    root = parse(
        bars.win_tie_loss(
            ["alpha"], [("basic", "Basic")], {("alpha", "basic"): cell}, {}, title="w"
        )
    )
    widths = {
        r.get("class"): float(r.get("width", "0"))
        for r in series(root, "alpha").iter()
        if r.get("class")
    }
    assert widths["seg-win"] == pytest.approx(2 * widths["seg-tie"])
    assert widths["seg-tie"] == pytest.approx(widths["seg-loss"])


def test_rank_shift_and_lengths() -> None:
    root = parse(bars.rank_shift({"a": 1, "b": 2}, {"a": 2, "b": 1}, {}, title="r"))
    line = series(root, "a").find("s:line", NS)
    assert line is not None and float(line.get("y2", "0")) > float(line.get("y1", "0"))
    root = parse(bars.length_bars([("human", 80.0, 90.0, 150)], 150, {}, title="l"))
    assert "limit 150" in ET.tostring(root, encoding="unicode")
