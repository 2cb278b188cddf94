"""The calibration section and the calibrated leaderboard as a person sees them (Chromium).

Same planted store as ``test_calibration``: judge ``lenient`` scores ``q + 1``, a study rated
36 items at ``q``. Saves artifacts/screenshots/report-calibration.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatanime.corpus import Corpus
from chatanime.report.build import Report, build_report
from chatanime.report.html import slug, write_html
from chatanime.store import open_store
from tests.report.test_calibration import (
    CALIBRATED,
    EXACT,
    LENIENT,
    N_RATED,
    insert_planted_judge,
    make_study,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, small_corpus: Corpus) -> tuple[Report, Path]:
    folder = tmp_path_factory.mktemp("browser-cal")
    store = open_store(f"sqlite:///{folder / 'store.db'}")
    insert_planted_judge(store, small_corpus, LENIENT, shift=1)
    insert_planted_judge(store, small_corpus, EXACT, shift=0)
    make_study(store, small_corpus, rate=True)
    report = build_report(small_corpus, store, n_boot=50, diversity=False)
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


def test_calibration_table_and_calibrated_tab(page: Any, screenshot_dir: Path) -> None:
    section = page.locator("#calibration")
    assert section.is_visible() and page.locator('nav a[href="#calibration"]').count() == 1
    table = section.locator(f'table.calibration-table[data-source="{CALIBRATED}"]')
    rows = table.locator("tbody tr")
    assert rows.count() == 9
    first = rows.nth(0).inner_text()
    assert "Fluency" in first and str(N_RATED) in first and "1.00 → 0.00" in first
    improved = table.locator("tbody td.up")
    assert improved.count() == 9  # every metric's MAE drops; Spearman/Pearson stay at 1
    assert f"--judge {LENIENT} --study pilot" in section.inner_text()
    page.add_style_tag(content="nav.toc { position: static; }")  # no sticky bar in the shots
    section.screenshot(path=str(screenshot_dir / "report-calibration.png"))

    panel = page.locator(f"#board-{slug(CALIBRATED)}")
    assert not panel.is_visible()
    tab = page.locator(f'button[data-target="board-{slug(CALIBRATED)}"]')
    assert "calibrated" in tab.inner_text()
    tab.click()
    assert panel.is_visible()
    assert "Calibrated scores:" in panel.locator(".board-caption").inner_text()
    assert panel.locator("table.board tbody tr").count() == 11
    top = page.locator("#leaderboard").bounding_box()
    assert top is not None
    scroll = page.evaluate("window.scrollY")
    clip = {"x": top["x"], "y": top["y"] + scroll, "width": top["width"], "height": 760}
    shot = screenshot_dir / "report-calibrated-board.png"
    page.screenshot(path=str(shot), clip=clip, full_page=True)
    assert (screenshot_dir / "report-calibration.png").stat().st_size > 10_000
