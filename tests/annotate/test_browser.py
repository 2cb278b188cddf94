"""An annotator in a real browser (Debian's Chromium via Playwright)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from chatanime.annotate.tables import annotators, assignments, items, ratings
from chatanime.store import Store
from tests.annotate.support import HOSTILE, LiveServer, make_study, release_dialogues

pytestmark = pytest.mark.browser


def _stored(store: Store, name: str) -> dict[int, dict[str, int]]:
    """position -> {metric: value} of one annotator, from the rows."""
    out: dict[int, dict[str, int]] = {}
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(assignments.c.position, ratings.c.metric, ratings.c.value)
            .join(ratings, ratings.c.assignment_id == assignments.c.id)
            .join(annotators, annotators.c.id == assignments.c.annotator_id)
            .where(annotators.c.name == name)
        )
        for position, metric, value in rows:
            out.setdefault(position, {})[metric] = value
    return out


def _metrics(page: Any) -> list[str]:
    return [
        str(m)
        for m in page.eval_on_selector_all("fieldset.metric", "fs => fs.map(f => f.dataset.metric)")
    ]


def _position(page: Any) -> int:
    return int(page.url.rsplit("/", 1)[1])


def _hostile_position(store: Store) -> tuple[str, int]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(annotators.c.name, assignments.c.position, items.c.payload_json)
            .join(assignments, assignments.c.annotator_id == annotators.c.id)
            .join(items, items.c.id == assignments.c.item_id)
        ).all()
    for name, position, payload in rows:
        if HOSTILE in json.loads(payload).values():
            return str(name), int(position)
    raise AssertionError("the hostile dialogue is not in the study")


def test_annotator_rates_reloads_resumes_and_is_fenced_in(
    browser: Any,
    store: Store,
    live_server: LiveServer,
    screenshot_dir: Path,
    store_url: str,
    release_dir: Path,
) -> None:
    study = make_study(
        store,
        ("alice", "bob"),
        overlap=1,
        scenarios=(1, 2, 3),
        diversity_sets=1,
        dialogues=release_dialogues(release_dir),
    )
    live_server.start()
    links = {i.annotator: f"{live_server.base_url}/a/{i.token}" for i in study.invites}
    dialogs: list[str] = []
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="zh-CN")
    page = ctx.new_page()
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    page.goto(links["alice"])
    assert _position(page) == 1
    # item 1: keyboard only (1-5 per metric, Enter to save)
    keys = {}
    for i, metric in enumerate(_metrics(page)):
        keys[metric] = 1 + i % 5
        page.keyboard.press(str(keys[metric]))
    page.keyboard.press("Enter")
    page.wait_for_url(f"{links['alice']}/2")
    assert "1 / 12" in page.inner_text("#progress-text")

    # item 2: mouse only
    clicks = {}
    for metric in _metrics(page):
        clicks[metric] = 4
        page.click(f'fieldset[data-metric="{metric}"] label:has-text("4")')
    page.locator("fieldset.metric details summary").first.click()  # the anchors, one click away
    assert page.locator("fieldset.metric details").first.evaluate("d => d.open")
    page.click("button[type=submit]")
    page.wait_for_url(f"{links['alice']}/3")

    # item 3: half done, Enter refuses, then the page is reloaded and work resumes here
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    assert page.locator("#missing").is_visible()
    assert _position(page) == 3
    page.fill("textarea[name=comment]", "第三条：还没评完")
    page.evaluate("window.scrollTo(0, 0)")
    shot = screenshot_dir / f"annotate-task-{store_url.split(':')[0]}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    page.reload()
    page.goto(links["alice"])
    assert _position(page) == 3

    stored = _stored(store, "alice")
    assert stored == {1: keys, 2: clicks}
    page.click("text=上一条")
    page.click("text=上一条")
    assert _position(page) == 1
    for metric, value in keys.items():
        assert page.is_checked(f'input[name="m_{metric}"][value="{value}"]')

    # the hostile answer renders as text and runs nothing
    owner, position = _hostile_position(store)
    page.goto(f"{links[owner]}/{position}")
    assert '<script>alert("x")</script>' in page.inner_text("main")
    assert page.locator("main b").count() == 0
    assert dialogs == []

    # bob, in his own browser, cannot reach alice's items
    bob_ctx = browser.new_context(locale="zh-CN")
    bob = bob_ctx.new_page()
    bob.goto(links["bob"])
    alice_item = page.input_value("input[name=item]")
    response = bob.goto(f"{links['alice'][:-3]}zzz/1")
    assert response is not None and response.status == 404
    bob.goto(links["bob"])
    assert bob.input_value("input[name=item]") != alice_item
    bob.eval_on_selector("input[name=item]", f"(el) => el.value = {json.dumps(alice_item)}")
    for metric in _metrics(bob):
        bob.click(f'fieldset[data-metric="{metric}"] label:has-text("5")')
    with bob.expect_navigation():
        bob.click("button[type=submit]")
    assert "not assigned" in bob.inner_text("main")
    assert _stored(store, "bob") == {}
    assert _stored(store, "alice") == {1: keys, 2: clicks}
    bob_ctx.close()
    ctx.close()
