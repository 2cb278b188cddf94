"""Win / tie / loss vs the fans on hand-made verdicts with known rates, flips and intervals."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatanime.judge.pairwise import MODE
from chatanime.judge.pairwise_summary import (
    Verdict,
    combine,
    load_verdicts,
    position_bias,
    summarise_verdicts,
    summarise_vs_fans,
)
from chatanime.store import Store, open_store
from chatanime.store.schema import judgments, runs, scores

# (scenario, AB value, BA value); None = that order unscored
ITEMS = [
    (1, 1, 1),  # win, consistent
    (2, 1, 0),  # win (win + tie), flips
    (3, 1, -1),  # tie (a reversal), flips
    (4, 0, 0),  # tie
    (5, -1, -1),  # loss
    (6, -1, None),  # one order only: left out of the combined rates
]


def verdicts(
    items: list[tuple[int, int | None, int | None]] = ITEMS,
    system: str = "x",
    judge: str = "j",
    dimension: str = "basic",
) -> list[Verdict]:
    out = []
    for scenario, ab, ba in items:
        character = "naruto" if scenario % 2 else "luffy"
        for order, value in (("AB", ab), ("BA", ba)):
            v = None if value is None else float(value)
            out.append(Verdict(judge, system, "human", character, scenario, order, dimension, v))
    return out


def test_orders_combine_by_the_sign_of_their_sum() -> None:
    assert [combine(1, 1), combine(1, 0), combine(0, 1), combine(1, -1)] == [1, 1, 1, 0]
    assert [combine(0, 0), combine(-1, 0), combine(-1, -1)] == [0, -1, -1]


def test_rates_flips_and_per_order_shares_are_exact() -> None:
    summary = summarise_verdicts(verdicts(), n_boot=200)
    cell = summary.cell("j", "x", "basic")
    assert cell is not None and summary.cells == (cell,)
    assert (cell.n_items, cell.n_one_order, cell.n_unscored) == (5, 1, 1)
    assert (cell.win.mean, cell.tie.mean, cell.loss.mean) == pytest.approx((0.4, 0.4, 0.2))
    assert cell.net.mean == pytest.approx(0.2)
    assert cell.flip_share.mean == pytest.approx(0.4) and cell.reversal_share == pytest.approx(0.2)
    ab, ba = cell.by_order
    assert (ab.order, ab.n, ab.win, ab.tie, ab.loss) == ("AB", 6, 0.5, 1 / 6, 1 / 3)
    assert (ba.order, ba.n) == ("BA", 5) and (ba.win, ba.tie, ba.loss) == pytest.approx(
        (0.2, 0.4, 0.4)
    )
    # non-tie verdicts favouring whatever was shown first: AB +1 x3, BA -1 x2 of 8
    assert cell.first_shown_share == pytest.approx(5 / 8)
    for est in (cell.win, cell.tie, cell.loss, cell.net, cell.flip_share):
        assert est.lo <= est.mean <= est.hi and est.n == 5
    assert cell.win.lo < cell.win.mean < cell.win.hi  # items vary: a real interval


def test_a_judge_that_always_prefers_the_first_dialogue() -> None:
    always_a = [(s, 1, -1) for s in range(1, 9)]
    cell = summarise_verdicts(verdicts(always_a), n_boot=100).cells[0]
    assert cell.tie.mean == 1.0 and cell.win.mean == cell.loss.mean == 0.0
    assert (cell.flip_share.mean, cell.flip_share.lo, cell.flip_share.hi) == (1.0, 1.0, 1.0)
    assert cell.reversal_share == 1.0 and cell.first_shown_share == 1.0


def test_cells_per_judge_system_and_dimension_in_rubric_order() -> None:
    data = [
        *verdicts(dimension="emotional"),
        *verdicts(dimension="basic"),
        *verdicts(system="y", judge="k"),
    ]
    summary = summarise_verdicts(data, n_boot=50)
    keys = [(c.judge, c.system, c.dimension) for c in summary.cells]
    assert keys == [("j", "x", "basic"), ("j", "x", "emotional"), ("k", "y", "basic")]
    assert summary.judges == ["j", "k"] and summary.systems == ["x", "y"]
    record = summary.to_records()[0]
    assert record["win"] == pytest.approx(0.4) and {"win_lo", "win_hi", "flip_share"} <= set(record)


def test_position_bias_pools_every_system() -> None:
    flips = [(s, 1, -1) for s in range(1, 5)]
    steady = [(s, 1, 1) for s in range(1, 5)]
    data = [*verdicts(flips, system="x"), *verdicts(steady, system="y")]
    (basic,) = position_bias(data, n_boot=100)
    assert (basic.judge, basic.dimension, basic.n_items) == ("j", "basic", 8)
    assert basic.flip_share.mean == 0.5 and basic.reversal_share == 0.5
    assert basic.first_shown_share == pytest.approx(12 / 16)  # x: 8 of 8, y: 4 of 8


def test_nothing_to_combine_gives_nan_not_an_error() -> None:
    cell = summarise_verdicts(verdicts([(1, 1, None)]), n_boot=20).cells[0]
    assert cell.n_items == 0 and cell.n_one_order == 1 and cell.n_unscored == 1
    assert math.isnan(cell.win.mean) and math.isnan(cell.flip_share.mean)
    assert cell.first_shown_share == 1.0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    st = open_store(str(tmp_path / "verdicts.db"))
    with st.engine.begin() as conn:
        conn.execute(runs.insert().values(id="r", kind="judge", name="t", created_at="t",
                                          updated_at="t", config_json="{}"))  # fmt: skip
    yield st
    st.dispose()


def add(store: Store, system: str, scenario: int, order: str, value: float | None,
        prompt: str = "p1") -> None:  # fmt: skip
    jid = f"{system}|{scenario}|{order}|{prompt}"
    status = "unscored" if value is None else "scored"
    with store.engine.begin() as conn:
        conn.execute(
            judgments.insert().values(
                id=jid, run_id="r", mode=MODE, judge_model="j", prompt_ref=prompt,
                rubric_ref="q", benchmark="chatanime", system=system, opponent="human",
                order=order, character="naruto", scenario=scenario, status=status,
                created_at="t",
            )
        )  # fmt: skip
        if value is not None:
            rows = [{"judgment_id": jid, "round": 0, "metric": d, "value": value}
                    for d in ("basic", "roleplay", "emotional")]  # fmt: skip
            conn.execute(scores.insert(), rows)


def test_verdicts_are_read_from_stored_rows(store: Store) -> None:
    add(store, "x", 1, "AB", 1.0)
    add(store, "x", 1, "BA", 0.0)
    add(store, "x", 2, "AB", None)
    add(store, "y", 1, "AB", -1.0, prompt="p2")
    got = load_verdicts(store)
    assert len(got) == 4 * 3
    unscored = [v for v in got if v.scenario == 2]
    assert len(unscored) == 3 and all(v.value is None and v.order == "AB" for v in unscored)
    assert {v.system for v in load_verdicts(store, systems={"y"})} == {"y"}
    assert {v.system for v in load_verdicts(store, prompt_ref="p1")} == {"x"}
    assert load_verdicts(store, scenarios={3}) == [] and load_verdicts(store, judges=["k"]) == []
    summary = summarise_vs_fans(store, systems={"x"}, n_boot=50)
    cell = summary.cell("j", "x", "roleplay")
    assert cell is not None and cell.n_items == 1 and cell.win.mean == 1.0
    assert cell.n_unscored == 1 and cell.flip_share.mean == 1.0
