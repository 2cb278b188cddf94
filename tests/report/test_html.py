"""The HTML report as a file: self-contained, escaped, every section and the right numbers."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from chatanime.corpus import Corpus
from chatanime.report.build import Report, build_report
from chatanime.report.charts import fmt
from chatanime.report.html import render_html
from chatanime.report.views import glance

HOSTILE = '</script><script>alert("x")</script><img src=x onerror=alert(1)>'


class Page(HTMLParser):
    """Start tags with their attributes, and the text of every <script>."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.scripts: list[tuple[dict[str, str], str]] = []
        self._script: dict[str, str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.append((tag, a))
        if tag == "script":
            self._script = a

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self.scripts.append((self._script, data))
            self._script = None

    def with_class(self, tag: str, cls: str) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag and cls in a.get("class", "").split()]


@pytest.fixture(scope="module")
def html(judged_report: Report) -> str:
    return render_html(judged_report)


def test_self_contained_no_network(html: str) -> None:
    page = Page(html)
    for tag, attrs in page.tags:
        for key in ("src", "href"):
            value = attrs.get(key, "")
            assert not re.match(r"(https?:)?//", value), f"<{tag} {key}={value}> needs a network"
        assert not (tag == "link" and attrs.get("rel") == "stylesheet")
    assert "@import" not in html and "url(http" not in html
    assert html.count("<style>") == 1
    assert '"Noto Sans CJK SC", "Noto Sans SC"' in html
    assert '"Microsoft YaHei", "PingFang SC"' in html
    assert 'meta charset="utf-8"' in html


def test_every_chart_is_there(html: str, judged_report: Report) -> None:
    page = Page(html)
    n_boards = len(judged_report.boards)
    assert n_boards == 3
    assert len(page.with_class("svg", "chart-radar")) == n_boards
    assert len(page.with_class("svg", "chart-bars")) == n_boards
    assert len(page.with_class("svg", "chart-heatmap")) == n_boards
    assert len(page.with_class("svg", "chart-rankshift")) == n_boards
    assert len(page.with_class("svg", "chart-winrate")) == 1
    assert len(page.with_class("svg", "chart-diversity")) == 5
    assert len(page.with_class("svg", "chart-lengths")) == 1
    ids = {a.get("id") for _, a in page.tags}
    sections = ("leaderboard", "pairwise", "bias", "diversity", "corpus", "examples", "methods")
    for section in sections:
        assert section in ids


def test_leaderboard_rows_show_the_boards_numbers(html: str, judged_report: Report) -> None:
    board = judged_report.boards[0].board  # the ensemble
    panel = html.split('id="board-judge-ensemble"', 1)[1].split('class="tab-panel', 1)[0]
    for system in board.systems:
        cell = board.cell(system, "overall")
        assert cell is not None
        row = panel.split(
            f'<tr class="{"human" if system == "human" else ""}" data-system="{system}">', 1
        )[1].split("</tr>", 1)[0]
        numbers = re.findall(r"<b>([\d.]+)</b>", row)
        assert numbers[0] == fmt(cell.estimate.mean)
        assert f"{fmt(cell.estimate.lo)}–{fmt(cell.estimate.hi)}" in row


def test_sources_notes_and_chinese_text(html: str, judged_report: Report) -> None:
    for source in ("judge:ensemble", "judge:fake/judge-a", "judge:fake/judge-b"):
        assert f">{source}</li>" in html
    assert "uncalibrated" in html
    assert "judge:fake/judge-a:diversity" in html  # the judged diversity table
    assert "Length ρ (overall)" in html
    assert "蒙奇·D·路飞" in html  # Luffy's name in the heatmap and the example browser
    assert "流畅度" in html  # metric names from the Chinese rubric


def test_examples_payload_round_trips(html: str, small_corpus: Corpus) -> None:
    page = Page(html)
    payload = next(text for a, text in page.scripts if a.get("id") == "examples-data")
    data = json.loads(payload)
    item = data["items"]["luffy:1"]
    d = small_corpus.get("deepseek-v3", "luffy", 1)
    assert d is not None
    answers = {a[0]: a for a in item["answers"]}
    assert answers["deepseek-v3"][1:] == [d.q2, d.a1, d.a2]
    assert item["q1"] == d.q1
    assert data["limit"] == 150 and data["colours"]["human"] == "#d62728"


def test_dialogue_text_cannot_inject_markup(small_corpus: Corpus) -> None:
    hostile = Corpus(
        [
            d.model_copy(update={"a1": HOSTILE, "q2": HOSTILE})
            if (d.system, d.character, d.scenario) == ("gpt-4.1", "luffy", 1)
            else d
            for d in small_corpus.dialogues
        ],
        small_corpus.benchmark,
    )
    html = render_html(build_report(hostile, None, n_boot=20, diversity=False))
    assert 'alert("x")' not in html and "<img src=x" not in html
    payload = next(t for a, t in Page(html).scripts if a.get("id") == "examples-data")
    answers = {a[0]: a for a in json.loads(payload)["items"]["luffy:1"]["answers"]}
    assert answers["gpt-4.1"][2] == HOSTILE  # the text survives, as text


def test_fresh_report_has_no_leaderboard_but_says_why(small_corpus: Corpus) -> None:
    html = render_html(build_report(small_corpus, None, n_boot=20))
    page = Page(html)
    ids = {a.get("id") for _, a in page.tags}
    assert "leaderboard" not in ids and "diversity" in ids and "examples" in ids
    assert "No judge scores or human ratings exist" in html
    assert "chatanime judge --judge &lt;provider/model&gt;" in html
    assert len(page.with_class("svg", "chart-diversity")) == 5
    assert "fans (human) are more diverse than all 10 other systems" in html


def test_at_a_glance_tiles(judged_report: Report) -> None:
    tiles = {t.label: t for t in glance(judged_report)}
    board = judged_report.boards[0].board
    assert tiles["ranks first"].value == board.systems[0] == "qwen-max"
    human = board.cell("human", "overall")
    assert human is not None and human.rank is not None
    assert tiles["the fans' rank"].value.startswith(f"#{human.rank.rank}")
    above, below = (int(x) for x in tiles["LLMs above / below the fans"].value.split(" / "))
    assert above >= 1 and below >= 1  # qwen-max above, doubao-rp below (planted)
    assert "diversity metrics where the fans lead" in tiles
    html = render_html(judged_report)
    assert 'id="glance"' in html and "the fans&#39; rank" in html
