"""Agreement and judge-vs-human calibration of a study, checked against known values."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest
from scipy import stats
from sqlalchemy import insert

from chatanime.annotate.analysis import (
    analyse_study,
    icc_oneway,
    judge_item_scores,
    leave_one_out,
    pooled_kappa,
    rating_slots,
)
from chatanime.annotate.ratings import save_ratings, task_metrics
from chatanime.annotate.worklist import annotator_for_token, task_at
from chatanime.judge.rubric import METRICS
from chatanime.metrics.agreement import icc, weighted_kappa
from chatanime.store import Store
from chatanime.store.schema import judgments, runs, scores
from tests.annotate.support import make_study

NAN = math.nan
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the 4 observers x 12 units
# example with missing data: alpha nominal 0.743, ordinal 0.815, interval 0.849.
KRIPPENDORFF = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    "C": [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
}


def _rate(store: Store, token: str, value_of) -> None:  # type: ignore[no-untyped-def]
    """Submit ``value_of(task) -> {metric: value} | None`` for every task of one annotator."""
    with store.engine.connect() as conn:
        who = annotator_for_token(conn, token)
        assert who is not None
        tasks = [task_at(conn, who, p) for p in range(1, who.total + 1)]
    for task in tasks:
        assert task is not None
        values = value_of(task, task_metrics(task.kind, who.config))
        if values is not None:
            save_ratings(store.engine, who.id, task.position, task.item_id, values)


def _scenario(store: Store, item_id: str) -> int:
    from sqlalchemy import select

    from chatanime.annotate.tables import items

    with store.engine.connect() as conn:
        return int(conn.execute(select(items.c.scenario).where(items.c.id == item_id)).scalar_one())


def test_textbook_alpha_through_the_whole_pipeline(store: Store) -> None:
    created = make_study(
        store,
        tuple(KRIPPENDORFF),
        systems=("human",),
        characters=("luffy",),
        scenarios=tuple(range(1, 13)),
        overlap=4,
        diversity_sets=0,
    )
    for invite in created.invites:
        row = KRIPPENDORFF[invite.annotator]

        def value_of(task, metrics, row=row):  # type: ignore[no-untyped-def]
            v = row[_scenario(store, task.item_id) - 1]
            return None if math.isnan(v) else dict.fromkeys(metrics, int(v))

        _rate(store, invite.token, value_of)
    result = analyse_study(store, "pilot", n_boot=200, seed=1)
    fluency = result.agreement[0]
    assert fluency.metric == "fluency"
    assert fluency.alpha.mean == pytest.approx(0.8154, abs=5e-4)
    assert fluency.alpha.lo <= fluency.alpha.mean <= fluency.alpha.hi
    assert fluency.n_items == 11 and fluency.n_ratings == 41  # unit 12 has a single rating
    assert [m.metric for m in result.agreement] == [*METRICS, "diversity"]
    assert math.isnan(result.agreement[-1].alpha.mean)  # no diversity sets in this study
    assert result.calibrations == ()


def test_icc_and_kappa_helpers_match_the_plain_coefficients() -> None:
    rng = np.random.default_rng(3)
    truth = rng.integers(1, 6, 40)
    raters = np.clip(truth + rng.integers(-1, 2, (3, 40)), 1, 5).astype(float)
    assert icc_oneway(raters) == pytest.approx(icc(raters.T, "ICC(1,1)"))
    a, b, c = raters
    pairs = [weighted_kappa(x, y, weights="quadratic") for x, y in ((a, b), (a, c), (b, c))]
    assert pooled_kappa(raters) == pytest.approx(np.mean(pairs))
    # sparse overlap-2 design: every unit rated by a different pair of raters
    sparse = np.full((4, 8), np.nan)
    for j in range(8):
        who = [(0, 1), (2, 3), (0, 2), (1, 3)][j % 4]
        sparse[list(who), j] = [1 + j % 5, 1 + (j + j % 2) % 5]
    slots = rating_slots(sparse)
    assert slots.shape == (8, 2) and not np.isnan(slots).any()
    assert icc_oneway(sparse) == pytest.approx(icc(slots, "ICC(1,1)"))
    only_pair = pooled_kappa(sparse[:2])
    assert math.isnan(only_pair) or -1 <= only_pair <= 1


def test_leave_one_out_by_hand() -> None:
    humans = {
        ("s", "c", 1): {"a": 1.0, "b": 2.0, "c": 1.0},
        ("s", "c", 2): {"a": 3.0, "b": 3.0, "c": 4.0},
        ("s", "c", 3): {"a": 5.0, "b": 4.0, "c": 5.0},
        ("s", "c", 4): {"a": 2.0, "b": 1.0, "c": 3.0},
    }
    judge = {k: v for k, v in zip(humans, [2.0, 3.0, 4.0, 1.0], strict=True)}
    judge_loo, ceiling, n = leave_one_out(humans, judge)
    human_rs, judge_rs = [], []
    for person in "abc":
        ref = [np.mean([v for a, v in r.items() if a != person]) for r in humans.values()]
        own = [r[person] for r in humans.values()]
        human_rs.append(stats.spearmanr(own, ref).statistic)
        judge_rs.append(stats.spearmanr(list(judge.values()), ref).statistic)
    assert n == 3
    assert ceiling == pytest.approx(np.mean(human_rs))
    assert judge_loo == pytest.approx(np.mean(judge_rs))


def _add_judgments(
    store: Store,
    rows: list[tuple[str, str, str, int, str, dict[int, float]]],
    rubric_refs: dict[int, str] | None = None,
) -> None:
    """rows: (judge_model, mode, system, scenario, status, {round: value}) for every metric;
    ``rubric_refs`` overrides the rubric ref ("r") of rows by index."""
    now = datetime.now(UTC).isoformat()
    with store.engine.begin() as conn:
        conn.execute(
            insert(runs).values(
                id="run1", kind="judge", name="t", created_at=now, updated_at=now, config_json="{}"
            )
        )
        for i, (model, mode, system, scenario, status, rounds) in enumerate(rows):
            jid = f"j{i}"
            conn.execute(
                insert(judgments).values(
                    id=jid,
                    run_id="run1",
                    mode=mode,
                    judge_model=model,
                    prompt_ref="p",
                    rubric_ref=(rubric_refs or {}).get(i, "r"),
                    benchmark="chatanime",
                    system=system,
                    character="luffy",
                    scenario=scenario,
                    status=status,
                    created_at=now,
                )
            )
            if status == "scored":
                conn.execute(
                    insert(scores),
                    [
                        {"judgment_id": jid, "round": rd, "metric": m, "value": v}
                        for m in METRICS
                        for rd, v in rounds.items()
                    ],
                )


def test_a_judge_with_and_without_rubric_examples_is_never_averaged(store: Store) -> None:
    rows = [
        ("fake/a", "pointwise", "human", 1, "scored", {0: 4.0}),
        ("fake/a", "pointwise", "human", 1, "scored", {0: 2.0}),  # without examples
        ("fake/b", "pointwise", "human", 1, "scored", {0: 3.0}),  # without examples only
    ]
    _add_judgments(store, rows, rubric_refs={1: "r:no-examples", 2: "r:no-examples"})
    config = {"benchmark": "chatanime", "systems": ["human"], "characters": ["luffy"]}
    got = judge_item_scores(store.engine, config)
    item = ("human", "luffy", 1)
    assert got["fake/a"]["fluency"] == {item: 4.0}  # the default configuration, not 3.0
    assert got["fake/b"]["fluency"] == {item: 3.0}  # its only configuration is kept


def test_calibration_against_judge_scores(store: Store) -> None:
    systems = ("human", "gpt-4.1", "deepseek-v3")
    created = make_study(
        store,
        ("a", "b", "c"),
        systems=systems,
        characters=("luffy",),
        scenarios=(1, 2, 3, 4),
        overlap=3,
        diversity_sets=1,
    )
    quality = {"human": 4, "gpt-4.1": 3, "deepseek-v3": 2}
    from sqlalchemy import select

    from chatanime.annotate.tables import items

    with store.engine.connect() as conn:
        item_of = {r.id: r for r in conn.execute(select(items))}
    for k, invite in enumerate(created.invites):

        def value_of(task, metrics, k=k):  # type: ignore[no-untyped-def]
            it = item_of[task.item_id]
            base = (
                quality[it.system]
                if it.scenario is None
                else quality[it.system] + (it.scenario + k) % 2
            )
            return dict.fromkeys(metrics, min(5, base))

        _rate(store, invite.token, value_of)
    human_mean = {}
    for it in item_of.values():
        if it.kind == "dialogue":
            vals = [min(5, quality[it.system] + (it.scenario + k) % 2) for k in range(3)]
            human_mean[(it.system, it.scenario)] = float(np.mean(vals))
    rows = []
    noisy = {}
    for (system, scenario), mean in human_mean.items():
        r1, r2 = float(1 + (scenario * 3 + len(system)) % 5), float(1 + (scenario + 2) % 5)
        noisy[(system, scenario)] = (r1 + r2) / 2
        rows.append(("fake/judge", "pointwise", system, scenario, "scored", {1: r1, 2: r2}))
        rows.append(("fake/perfect", "pointwise", system, scenario, "scored", {0: mean}))
        rows.append(("fake/perfect", "pairwise-vs-fans", system, scenario, "scored", {0: -mean}))
        rows.append(("fake/perfect", "pointwise", system, scenario, "unscored", {}))
    _add_judgments(store, rows)

    result = analyse_study(store, created.study_id, n_boot=50)
    cals = {c.judge_model: c for c in result.calibrations}
    assert set(cals) == {"fake/judge", "fake/perfect"}
    perfect = cals["fake/perfect"]
    assert perfect.n_items == 12
    for m in perfect.metrics:
        assert m.item.spearman == pytest.approx(1.0) and m.item.n == 12
        assert m.system_spearman == pytest.approx(1.0) and m.n_systems == 3
    keys = sorted(human_mean)
    expected = stats.spearmanr([noisy[k] for k in keys], [human_mean[k] for k in keys]).statistic
    judged = cals["fake/judge"].metrics[0]
    assert judged.item.spearman == pytest.approx(expected)
    assert judged.item.kendall == pytest.approx(
        stats.kendalltau([noisy[k] for k in keys], [human_mean[k] for k in keys]).statistic
    )
    assert judged.n_annotators == 3 and math.isfinite(judged.human_ceiling)
    only = analyse_study(store, "pilot", judge="fake/judge", n_boot=20)
    assert [c.judge_model for c in only.calibrations] == ["fake/judge"]
    diversity = result.agreement[-1]
    assert diversity.metric == "diversity" and diversity.n_items == 3
