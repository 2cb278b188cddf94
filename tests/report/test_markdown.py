"""The Markdown report: well-formed tables carrying the leaderboard's numbers and labels."""

from __future__ import annotations

import pytest

from chatanime.corpus import Corpus
from chatanime.report.build import Report, build_report
from chatanime.report.charts import fmt
from chatanime.report.markdown import render_markdown, table
from chatanime.store import Store
from tests.report.support import insert_judge_scores


@pytest.fixture(scope="module")
def md(judged_report: Report) -> str:
    return render_markdown(judged_report)


def tables(text: str) -> list[list[list[str]]]:
    """Markdown tables as rows of cells (the separator line dropped)."""
    out: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            if not all(set(c) <= set("-:") for c in cells):
                current.append(cells)
        elif current:
            out.append(current)
            current = []
    return [*out, current] if current else out


def test_tables_are_rectangular(md: str) -> None:
    found = tables(md)
    assert len(found) >= 8
    for t in found:
        assert len({len(row) for row in t}) == 1, t[0]


def test_leaderboard_numbers_and_ranks(md: str, judged_report: Report) -> None:
    board = judged_report.boards[0].board
    assert "## Leaderboard — `judge:ensemble`" in md
    first = next(t for t in tables(md) if t[0][:2] == ["Rank", "System"])
    body = {row[1].strip("*"): row for row in first[1:]}
    assert list(body) == board.systems
    for system, row in body.items():
        cell = board.cell(system, "overall")
        assert cell is not None
        e = cell.estimate
        assert row[2] == f"{fmt(e.mean)} [{fmt(e.lo)}, {fmt(e.hi)}]"
        assert row[-2] == f"{e.n} ({e.n_missing})"
    assert body["human"][-1] == "—"  # no test of the fans against themselves


def test_sections_and_notes(md: str) -> None:
    for heading in (
        "### Against the fans",
        "### Style-controlled ranking (overall)",
        "## Each system against the fans (pairwise judge, both orders combined)",
        "## Automatic response diversity (`automatic:diversity`)",
        "## Corpus overview",
    ):
        assert heading in md
    assert "> **warning:** Judge scores are uncalibrated" in md
    assert "fans first?" in md


def test_pipes_are_escaped() -> None:
    lines = table(["a", "b"], [["x|y", 1]])
    assert lines[2] == "| x\\|y | 1 |"


def test_fresh_report_markdown(small_corpus: Corpus) -> None:
    md = render_markdown(build_report(small_corpus, None, n_boot=20, diversity=False))
    assert "Leaderboard" not in md
    assert "No judge scores" in md and "_Not available (see the notes)._" in md


def test_style_coefficients_follow_the_controlled_ranking(md: str, judged_report: Report) -> None:
    board = judged_report.boards[0]
    assert board.style is not None
    features = board.style.results["overall"].features
    section = md.split(f"## Leaderboard — `{board.source}`")[1].split("\n## ")[0]
    after = section.split("### Style-controlled ranking (overall)")[1]
    style_table = next(t for t in tables(after) if t[0][0] == "Style feature")
    assert [row[0] for row in style_table[1:]] == [f.name for f in features]
    assert style_table[1][2] == f"{features[0].per_unit:+.4f}"


def test_without_the_fans_there_is_no_fans_column_or_comparison(
    small_corpus: Corpus, empty_store: Store
) -> None:
    corpus = small_corpus.filter(systems=["gpt-4.1", "deepseek-v3", "qwen-max"])
    insert_judge_scores(empty_store, corpus, "fake/judge-a", offsets={"qwen-max": 1.0})
    md = render_markdown(build_report(corpus, empty_store, n_boot=20, diversity=False))
    assert "## Leaderboard — `judge:fake/judge-a`" in md
    ranking = next(t for t in tables(md) if t[0][:2] == ["Rank", "System"])
    assert ranking[0][-1] == "Items (unscored)" and len(ranking) == 4
    assert "Δ vs fans" not in md and "### Against the fans" not in md
    assert "### Per metric (means)" in md and "### System against system" not in md
