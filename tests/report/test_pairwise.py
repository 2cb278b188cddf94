"""Pairwise-vs-fans aggregation on hand-made verdicts with known shares and flips."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from chatanime.corpus import Corpus
from chatanime.report.pairwise import PAIRWISE_COLUMNS, pairwise_rows, summarise_pairwise
from chatanime.store import Store


def rows(data: list[tuple[str, str, int, str, float | None]]) -> pd.DataFrame:
    """(system, order, scenario, status, value) -> the long table for dimension ``basic``."""
    out = []
    for system, order, scenario, status, value in data:
        v = math.nan if value is None else value
        out.append(("j", system, "human", order, "luffy", scenario, status, "basic", v))
    return pd.DataFrame(out, columns=list(PAIRWISE_COLUMNS))


def test_shares_net_and_flips_are_counted_exactly() -> None:
    data = rows(
        [
            ("x", "AB", 1, "scored", 1.0),
            ("x", "BA", 1, "scored", 1.0),  # consistent win
            ("x", "AB", 2, "scored", 1.0),
            ("x", "BA", 2, "scored", -1.0),  # flips with the order
            ("x", "AB", 3, "scored", 0.0),
            ("x", "BA", 3, "scored", 0.0),  # consistent tie
            ("x", "AB", 4, "scored", -1.0),  # only one order judged
        ]
    )
    cell = summarise_pairwise(data, n_boot=100).cells[0]
    assert (cell.system, cell.dimension, cell.opponent) == ("x", "basic", "human")
    assert cell.n_judgments == 7 and cell.n_unscored == 0
    assert cell.win == pytest.approx(3 / 7)
    assert cell.tie == pytest.approx(2 / 7)
    assert cell.loss == pytest.approx(2 / 7)
    # items: 1 -> 1, 2 -> 0 (orders averaged), 3 -> 0, 4 -> -1
    assert cell.net.mean == pytest.approx(0.0) and cell.net.n == 4
    assert cell.n_both_orders == 3 and cell.flip_share == pytest.approx(1 / 3)


def test_unscored_judgments_are_counted_not_dropped() -> None:
    data = rows([("x", "AB", 1, "scored", 1.0), ("x", "BA", 1, "unscored", None)])
    data.loc[1, "dimension"] = None  # an unscored judgment has no score rows
    cell = summarise_pairwise(data, n_boot=50).cells[0]
    assert cell.n_unscored == 1 and cell.n_judgments == 2
    assert cell.win == 1.0 and cell.n_both_orders == 0 and math.isnan(cell.flip_share)


def test_rows_from_the_store(small_corpus: Corpus, judged_store: Store) -> None:
    df = pairwise_rows(judged_store)
    non_human = sum(1 for d in small_corpus.dialogues if d.system != "human")
    assert len(df) == non_human * 2 * 3  # two orders x three dimensions
    assert set(df.order) == {"AB", "BA"} and set(df.opponent) == {"human"}
    assert pairwise_rows(judged_store, judges=["nobody"]).empty
    section = summarise_pairwise(df, n_boot=50)
    assert section.judges == ["fake/judge-a"]
    assert section.dimensions == ["basic", "roleplay", "emotional"]
