"""CSV and JSON outputs: every number once, with its source, and no NaN strings."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest

from chatanime.report.build import Report
from chatanime.report.tabular import COLUMNS, records, render_csv, render_json


@pytest.fixture(scope="module")
def recs(judged_report: Report) -> list[dict[str, object]]:
    return records(judged_report)


def test_leaderboard_records_equal_the_cells(
    recs: list[dict[str, object]], judged_report: Report
) -> None:
    for sb in judged_report.boards:
        mine = [r for r in recs if r["table"] == "leaderboard" and r["source"] == sb.source]
        assert len(mine) == len(sb.board.cells)
        for r in mine:
            cell = sb.board.cell(str(r["system"]), str(r["level"]))
            assert cell is not None and cell.rank is not None
            assert r["mean"] == cell.estimate.mean
            assert (r["lo"], r["hi"]) == (cell.estimate.lo, cell.estimate.hi)
            assert r["rank"] == cell.rank.rank and r["n_missing"] == cell.estimate.n_missing


def test_every_source_is_labelled(recs: list[dict[str, object]]) -> None:
    by_table: dict[str, set[object]] = {}
    for r in recs:
        by_table.setdefault(str(r["table"]), set()).add(r["source"])
    assert by_table["leaderboard"] == {"judge:ensemble", "judge:fake/judge-a", "judge:fake/judge-b"}
    assert by_table["pairwise"] == {"pairwise:fake/judge-a"}
    assert by_table["diversity"] == {"automatic:diversity"}
    assert by_table["overview"] == {"corpus"}
    assert by_table["bias"] == {"judge:fake/judge-a", "judge:fake/judge-b"}
    assert by_table["judged_diversity"] == {"judge:fake/judge-a:diversity"}
    for table in ("comparison", "by_persona", "by_character", "style_control", "style_feature"):
        assert table in by_table


def test_comparisons_carry_raw_and_holm_p(recs: list[dict[str, object]]) -> None:
    comps = [r for r in recs if r["table"] == "comparison"]
    assert comps and all(r["baseline"] == "human" for r in comps)
    assert all(float(r["p_holm"]) >= float(r["p_value"]) for r in comps)  # type: ignore[arg-type]


def test_csv_round_trips(judged_report: Report, recs: list[dict[str, object]]) -> None:
    text = render_csv(judged_report)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == list(COLUMNS) and len(rows) == len(recs)
    assert "nan" not in text.lower().replace("nanase", "")
    lb = next(r for r in rows if r["table"] == "leaderboard" and r["level"] == "overall")
    rec = next(
        r
        for r in recs
        if r["table"] == "leaderboard"
        and r["level"] == "overall"
        and (r["source"], r["system"]) == (lb["source"], lb["system"])
    )
    assert float(lb["mean"]) == pytest.approx(float(rec["mean"]))  # type: ignore[arg-type]


def test_json_is_strict_and_grouped(judged_report: Report) -> None:
    doc = json.loads(render_json(judged_report))  # allow_nan=False upstream: no NaN tokens
    assert doc["sources"] == [
        "judge:ensemble",
        "judge:fake/judge-a",
        "judge:fake/judge-b",
        "automatic:diversity",
    ]
    assert doc["n_boot"] == 200
    assert any("uncalibrated" in n["text"] for n in doc["notes"])
    div = doc["tables"]["diversity"]
    human = next(
        r
        for r in div
        if r["system"] == "human"
        and r["level"] == "self_bleu_char"
        and r["grouping"] == "character"
    )
    table = judged_report.diversity
    assert table is not None
    assert human["mean"] == table.row("human", "self_bleu_char").mean
    assert human["rank_order"] == table.ranking("self_bleu_char").index("human") + 1
    for rows in doc["tables"].values():
        for r in rows:
            assert all(not (isinstance(v, float) and math.isnan(v)) for v in r.values())
