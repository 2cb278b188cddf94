"""Leaderboard aggregation on synthetic scores with known answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from chatanime.report.aggregate import build_leaderboard, level_values
from chatanime.report.scores import METRICS, ScoreRow, frame, item_values, with_ensemble

CHARS = [f"c{i}" for i in range(6)]
SCENS = list(range(1, 11))


def _persona(s: int) -> str:
    return "student" if s <= 5 else "freelancer"


def synthetic(offsets: dict[str, float], source: str = "judge:a", seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for system, off in offsets.items():
        for c in CHARS:
            for s in SCENS:
                for r in (1, 2):
                    for m in METRICS:
                        v = float(np.clip(round(3 + off + rng.normal(0, 0.7)), 1, 5))
                        rows.append(ScoreRow(source, system, c, s, r, m, v))
    return frame(rows)


def test_item_values_average_rounds_and_keep_unscored() -> None:
    rows = [
        ScoreRow("judge:a", "x", "c0", 1, 1, "fluency", 4.0),
        ScoreRow("judge:a", "x", "c0", 1, 2, "fluency", 2.0),
        ScoreRow("judge:a", "x", "c0", 2, 0, "fluency", math.nan),
    ]
    items = item_values(frame(rows)).set_index("scenario")["value"]
    assert items[1] == 3.0
    assert math.isnan(items[2])


def test_dimension_and_overall_are_means_of_metrics() -> None:
    rows = [ScoreRow("s", "x", "c0", 1, 0, m, float(i % 5 + 1)) for i, m in enumerate(METRICS)]
    values = level_values(item_values(frame(rows))).set_index("level")["value"]
    assert values["basic"] == pytest.approx(np.mean([1, 2, 3]))
    assert values["emotional"] == pytest.approx(np.mean([2, 3, 4]))
    assert values["overall"] == pytest.approx(np.mean([1, 2, 3, 4, 5, 1, 2, 3, 4]))


def test_leaderboard_ranks_and_paired_test_match_scipy() -> None:
    scores = synthetic({"human": 0.0, "good": 1.0, "same": 0.02})
    board = build_leaderboard(scores, "judge:a", persona_of=_persona, n_boot=500)
    assert board.systems[0] == "good"
    good, same = board.cell("good", "overall"), board.cell("same", "overall")
    assert good is not None and same is not None and good.rank and same.rank
    assert good.rank.rank == 1 and same.rank.rank == 2
    assert good.estimate.lo < good.estimate.mean < good.estimate.hi
    # the paired test equals scipy's on the matched item values
    values = level_values(item_values(scores))
    x = (
        values[(values.system == "good") & (values.level == "fluency")]
        .sort_values(["character", "scenario"])["value"]
        .to_numpy()
    )
    y = (
        values[(values.system == "human") & (values.level == "fluency")]
        .sort_values(["character", "scenario"])["value"]
        .to_numpy()
    )
    comp = next(c for c in board.comparisons if c.system == "good" and c.level == "fluency")
    assert comp.result.n == len(CHARS) * len(SCENS)
    expected = stats.wilcoxon(x - y, zero_method="zsplit")
    assert comp.result.mean_diff == pytest.approx(float(np.mean(x - y)))
    assert comp.result.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert comp.result.statistic == pytest.approx(expected.statistic)
    # Holm: adjusted p >= raw p, and within a family of 9 at most 9x the raw p
    for c in board.comparisons:
        assert c.result.p_value <= c.p_holm <= min(1.0, 9 * c.result.p_value) + 1e-12


def test_unscored_items_are_counted_not_imputed() -> None:
    scores = synthetic({"human": 0.0, "x": 0.0})
    mask = (scores.system == "x") & (scores.character == "c0") & (scores.scenario == 1)
    scores.loc[mask, "value"] = math.nan
    board = build_leaderboard(scores, "judge:a", persona_of=_persona, n_boot=200)
    cell = board.cell("x", "fluency")
    assert cell is not None
    assert cell.estimate.n == len(CHARS) * len(SCENS) - 1
    assert cell.estimate.n_missing == 1


def test_breakdowns_per_character_and_persona() -> None:
    board = build_leaderboard(
        synthetic({"human": 0.0, "x": 1.0}), "judge:a", persona_of=_persona, n_boot=100
    )
    per = board.by_persona
    assert set(per.persona) == {"student", "freelancer"}
    assert set(board.by_character.character) == set(CHARS)
    assert (per[per.level == "overall"].n == len(CHARS) * 5).all()


def test_ensemble_is_mean_of_judges_and_kept_apart() -> None:
    a = synthetic({"human": 0.0}, source="judge:a", seed=1)
    b = synthetic({"human": 0.0}, source="judge:b", seed=2)
    combined = with_ensemble(pd.concat([a, b], ignore_index=True))
    assert set(combined.source) == {"judge:a", "judge:b", "judge:ensemble"}
    items = item_values(combined)
    key = ["system", "character", "scenario", "metric"]
    ia = items[items.source == "judge:a"].set_index(key)["value"]
    ib = items[items.source == "judge:b"].set_index(key)["value"]
    ie = items[items.source == "judge:ensemble"].set_index(key)["value"]
    assert np.allclose(ie.sort_index(), ((ia + ib) / 2).sort_index())
