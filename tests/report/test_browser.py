"""The HTML report as a person sees it: Debian's headless Chromium opens the file offline.

Built with synthetic judge rows (two judges + ensemble, pairwise-vs-fans) for all 20
characters x the example scenarios, so every chart renders. Checks the leaderboard rows, each
chart's marks and size, that Chinese text is drawn with a CJK font (not tofu), the tabs, the
legend and the example browser; saves artifacts/screenshots/report.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatanime.corpus import Corpus
from chatanime.report.build import Report, build_report
from chatanime.report.html import write_html
from chatanime.report.overview import EXAMPLE_SCENARIOS
from tests.report.conftest import seeded_store

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def example_corpus(release_corpus: Corpus) -> Corpus:
    return release_corpus.filter(scenarios=list(EXAMPLE_SCENARIOS))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, example_corpus: Corpus) -> tuple[Report, Path]:
    folder = tmp_path_factory.mktemp("browser")
    store = seeded_store(f"sqlite:///{folder / 'store.db'}", example_corpus)
    report = build_report(example_corpus, store, n_boot=300)
    store.dispose()
    return report, write_html(report, folder / "report.html")


@pytest.fixture
def page(browser: Any, built: tuple[Report, Path]) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1360, "height": 900}, offline=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    pg.goto(built[1].as_uri())
    pg.wait_for_load_state("load")
    yield pg
    context.close()
    assert errors == [], errors


def box(locator: Any) -> dict[str, float]:
    b = locator.bounding_box()
    assert b is not None, "element is not rendered"
    return dict(b)


def test_leaderboard_table_rows(page: Any, built: tuple[Report, Path]) -> None:
    report, _ = built
    board = report.boards[0].board
    rows = page.locator("#board-judge-ensemble table.board tbody tr")
    assert rows.count() == len(board.systems) == 11
    systems = [rows.nth(i).get_attribute("data-system") for i in range(rows.count())]
    assert systems == board.systems
    human = page.locator('#board-judge-ensemble tr[data-system="human"]')
    assert "fans" in human.inner_text()
    assert box(human)["height"] > 20


def test_each_chart_renders_its_marks(page: Any) -> None:
    panel = page.locator("#board-judge-ensemble")
    radar = panel.locator("svg.chart-radar")
    assert box(radar)["width"] > 300 and box(radar)["height"] > 300
    assert radar.locator("g.series polygon").count() == 11
    assert radar.locator("g.series circle").count() == 11 * 9
    bars = panel.locator("svg.chart-bars")
    assert box(bars)["width"] > 300
    assert bars.locator("g.series circle").count() == 11 * 4
    heat = panel.locator("svg.chart-heatmap")
    assert box(heat)["width"] > 500
    assert heat.locator("g.cell rect").count() == 11 * 20
    assert panel.locator("svg.chart-rankshift g.series line").count() == 11
    wins = page.locator("svg.chart-winrate rect.seg-win")
    assert wins.count() == 10 * 3 and box(page.locator("svg.chart-winrate"))["height"] > 100
    diversity = page.locator("svg.chart-diversity")
    assert diversity.count() == 5
    for i in range(diversity.count()):
        assert box(diversity.nth(i))["width"] > 200
        assert diversity.nth(i).locator("g.series rect").count() == 11
    assert page.locator("svg.chart-lengths g.series").count() == 11


def test_chinese_text_is_drawn_with_a_cjk_font(page: Any) -> None:
    label = page.locator("svg.chart-heatmap text", has_text="蒙奇·D·路飞").first
    assert label.count() == 1 and box(label)["width"] > 30
    # Chromium's own account of the fonts it drew these nodes with: a CJK family, with glyphs
    # (without one, the Han characters would be tofu boxes from a Latin fallback).
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    for selector in ("#ex-view .who", "#board-judge-ensemble th small.cjk"):
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
        cjk = [f for f in fonts if "CJK" in f["familyName"] or f["familyName"].endswith(" SC")]
        assert cjk and sum(f["glyphCount"] for f in cjk) >= 2, (selector, fonts)


def test_example_browser_switches(page: Any, example_corpus: Corpus) -> None:
    view = page.locator("#ex-view")
    assert view.locator(".ex-card").count() == 11
    page.select_option("#ex-character", "naruto")
    assert view.locator(".who").inner_text() == "漩涡鸣人"
    d = example_corpus.get("human", "naruto", 1)
    assert d is not None
    human = view.locator('.ex-card[data-system="human"]')
    assert d.a1 in human.inner_text() and d.a2 in human.inner_text()
    page.select_option("#ex-scenario", "16")
    d16 = example_corpus.get("gpt-4.1", "naruto", 16)
    assert d16 is not None
    assert d16.q1 in view.locator(".ex-q1").inner_text()
    assert d16.q2 in view.locator('.ex-card[data-system="gpt-4.1"]').inner_text()
    page.click("#ex-next")
    assert page.locator("#ex-scenario").input_value() == "23"


def test_tabs_and_legend(page: Any) -> None:
    judge_a = page.locator("#board-judge-fake-judge-a")
    assert not judge_a.is_visible()
    page.click('button[data-target="board-judge-fake-judge-a"]')
    assert judge_a.is_visible() and box(judge_a.locator("svg.chart-radar"))["width"] > 300
    assert not page.locator("#board-judge-ensemble").is_visible()
    human_series = judge_a.locator('svg.chart-radar g.series[data-system="human"]')
    assert human_series.is_visible()
    page.locator('#leaderboard .legend-item[data-system="human"]').click()
    assert not human_series.is_visible()


def test_screenshot(page: Any, screenshot_dir: Path) -> None:
    page.screenshot(path=str(screenshot_dir / "report.png"), full_page=True)
    page.locator("#examples").screenshot(path=str(screenshot_dir / "report-examples.png"))
    assert (screenshot_dir / "report.png").stat().st_size > 50_000
