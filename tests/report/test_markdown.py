"""The Markdown report: well-formed tables carrying the leaderboard's numbers and labels."""

from __future__ import annotations

import pytest

from chatanime.corpus import Corpus
from chatanime.report.build import Report, build_report
from chatanime.report.charts import fmt
from chatanime.report.markdown import render_markdown, table


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
    return out


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
