"""A respondent in a real browser (Debian's Chromium via Playwright), simulator on the fake
model server: the limit stops typing, drafts survive a reload and a closed tab, round 2's
question arrives (also after the simulator failed once), and the text stays text."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from chatanime.annotate.collect_tables import collect_dialogues
from chatanime.backends.fake_server import FakeServer
from chatanime.store import Store
from tests.annotate.collect_support import FAST_SIM, CollectServer, make_collection

pytestmark = pytest.mark.browser

HOSTILE = '<script>alert("x")</script><b>粗体</b>别怕！'


@pytest.fixture
def server(sqlite_store: Store, tmp_path: Path) -> Iterator[CollectServer]:
    """SQLite only: the browser adds nothing database-specific (the server tests run both)."""
    live = CollectServer(
        sqlite_store.engine.url.render_as_string(hide_password=False), tmp_path / "server.log"
    )
    try:
        yield live
    finally:
        live.stop()


def _rows(store: Store) -> dict[int, Any]:
    with store.engine.connect() as conn:
        return {r.position: r for r in conn.execute(select(collect_dialogues))}


def _draft_saved(page: Any) -> None:
    """Wait for the page to report the draft stored (the CSP forbids eval-based waits)."""
    expect(page.locator("#draft-state")).to_have_text("草稿已保存", timeout=10_000)


def test_respondent_writes_two_rounds_with_counter_drafts_and_resume(
    browser: Any,
    sqlite_store: Store,
    server: CollectServer,
    fake_server: FakeServer,
    screenshot_dir: Path,
) -> None:
    store = sqlite_store
    simulator = replace(FAST_SIM, auto_retry_after_s=3)  # time to see the countdown
    study = make_collection(store, characters=("luffy",), scenarios=(5, 6), simulator=simulator)
    server.start()
    link = f"{server.base_url}/r/{study.invites[0].token}"
    dialogs: list[str] = []
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="zh-CN")
    page = ctx.new_page()
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    page.goto(link)
    assert page.url == f"{link}/1"
    assert "蒙奇·D·路飞" in page.inner_text(".help")
    card = page.locator("#card details")
    assert not card.evaluate("d => d.open")
    card.locator("summary").click()  # the card, one click away
    assert card.evaluate("d => d.open") and "橡胶" in page.inner_text("#card")

    # round 1: the counter counts non-space characters and stops typing at the limit
    box = page.locator("#answer")
    box.fill("肉" * 70 + "\n" + "饭" * 70)
    assert page.inner_text("#count") == "140"
    box.press("End")
    page.keyboard.type("冲" * 20)
    value = box.input_value()
    assert value == "肉" * 70 + "\n" + "饭" * 70 + "冲" * 10
    assert page.inner_text("#count") == "150"
    assert "full" in (page.get_attribute("#counter", "class") or "")
    _draft_saved(page)
    assert _rows(store)[1].draft_r1 == value
    shot = screenshot_dir / "collect-round1.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

    # a closed tab: the draft comes back from the server
    page.close()
    page = ctx.new_page()
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(link)
    assert page.locator("#answer").input_value() == value
    assert "已恢复" in page.inner_text("#draft-state")
    page.click("#send")
    page.wait_for_selector("#q2", timeout=30_000)  # the page polled, then showed round 2
    q2 = page.inner_text("#q2")
    assert q2 == _rows(store)[1].question_r2 and "肉肉肉" in q2  # it reacts to round 1
    assert page.inner_text("#a1") == value

    # round 2: reload mid-way, the draft survives
    page.locator("#answer").fill("别想太多了，先吃饱饭！")
    _draft_saved(page)
    page.reload()
    assert page.locator("#answer").input_value() == "别想太多了，先吃饱饭！"
    page.locator("#answer").press("End")
    page.keyboard.type("我们一起去冒险吧！")
    page.evaluate("window.scrollTo(0, 0)")
    shot = screenshot_dir / "collect-round2.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    page.click("#send")
    page.wait_for_url(f"{link}/2")
    first = _rows(store)[1]
    assert (first.answer_r1, first.answer_r2) == (value, "别想太多了，先吃饱饭！我们一起去冒险吧！")

    # dialogue 2: the simulator fails for good once; the page says so and retries by itself
    fake_server.script("fake/user-sim", [{"fault": "500"}] * 3)
    page.locator("#answer").fill(HOSTILE)
    page.click("#send")
    expect(page.locator("#sim-message")).to_contain_text("暂时无法生成", timeout=20_000)
    expect(page.locator("#auto-retry")).to_contain_text("秒后自动重试")
    expect(page.locator("#a1")).to_have_text(HOSTILE)  # kept, and shown as text
    page.wait_for_selector("#q2", timeout=30_000)
    assert page.locator("main b").count() == 0 and dialogs == []
    page.locator("#answer").fill("好！")
    page.click("#send")
    page.wait_for_url(f"{link}/done")
    assert "全部完成" in page.inner_text("main")
    second = _rows(store)[2]
    assert second.answer_r1 == HOSTILE and second.sim_failures == 1 and second.sim_runs == 2
    ctx.close()
