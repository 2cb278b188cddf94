"""Calibration on human ratings: fits, validation, calibrated rows for the unrated rest."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

import chatanime.backends.fake_judges_bias  # noqa: F401  (registers the planted-bias judges)
from chatanime.annotate.study import StudySpec, create_study
from chatanime.backends.fake_server import FakeServer
from chatanime.benchmark import load_benchmark
from chatanime.corpus import Corpus
from chatanime.judge.calibrate import (
    UNCALIBRATED_NOTE,
    calibrate_judge,
    calibrated_source,
    fit_metric,
    judge_study,
    load_study,
)
from chatanime.judge.job import JudgeJob, judge_async
from chatanime.judge.rubric import METRICS
from chatanime.report.scores import COLUMNS
from chatanime.runner import RunOptions
from chatanime.store import Store
from tests.judge.test_audit import (
    ANNOTATORS,
    CHARACTERS,
    SCENARIOS,
    SYSTEMS,
    build_app,
    make_rated_study,
    models_for,
    synthetic_dialogues,
    truth,
)

LENIENT = "fake/judge-lenient"
UNRATED = (9, 10)


def keyed(values: list[float]) -> dict[tuple[str, str, int], float]:
    return {("gpt-4.1", "naruto", i + 1): v for i, v in enumerate(values)}


def test_a_shifted_judge_is_mapped_back_and_validated() -> None:
    rng = np.random.default_rng(0)
    human = [float(v) for v in rng.integers(1, 5, size=40)]
    judge = {**keyed([min(5.0, h + 1) for h in human]), ("x", "naruto", 99): 5.0}
    fit = fit_metric("fluency", keyed(human), judge, k=5)
    assert fit.calibrated and fit.n_pairs == 40 and fit.n_applied == 1 and fit.note is None
    assert fit.calibrator is not None
    assert fit.calibrator.predict([2.0, 3.0, 4.0]).tolist() == [1.0, 2.0, 3.0]
    cv = fit.cross_validated
    assert cv is not None and cv.mae_before > 0.9 and cv.mae_after < 0.3 and cv.k == 5
    assert fit.before.spearman > 0.9  # ranking was right all along: only the scale moves


def test_too_few_rated_items_is_not_calibrated_and_says_why() -> None:
    fit = fit_metric("fluency", keyed([1, 2, 3]), keyed([2, 3, 4]), min_pairs=10)
    assert not fit.calibrated and fit.n_applied == 0
    assert fit.note == "3 rated items scored by the judge; at least 10 needed"
    small = fit_metric("fluency", keyed([1, 2, 3, 4]), keyed([2, 3, 4, 5]), min_pairs=3, k=5)
    assert small.calibrated and small.cross_validated is None
    assert small.note == "fitted on 4 items: too few for 5-fold validation"


def test_without_ratings_the_scores_are_uncalibrated(store: Store) -> None:
    none = calibrate_judge(store, LENIENT, None)
    assert none.status == "uncalibrated" and none.rows == () and none.metrics == ()
    assert none.message == UNCALIBRATED_NOTE.format(reason="no study with human ratings was given")
    spec = StudySpec(name="empty", systems=SYSTEMS, characters=CHARACTERS, scenarios=SCENARIOS,
                     annotators=ANNOTATORS, seed=1)  # fmt: skip
    create_study(store, spec, synthetic_dialogues())
    empty = calibrate_judge(store, LENIENT, "empty")
    assert empty.status == "uncalibrated" and "has no ratings yet" in (empty.reason or "")
    assert empty.message.startswith("Judge scores are uncalibrated: study 'empty'")


def test_a_rated_study_whose_items_the_judge_never_scored_is_uncalibrated(store: Store) -> None:
    make_rated_study(store)
    result = calibrate_judge(store, LENIENT, "audit")
    assert result.status == "uncalibrated" and "scored too few" in (result.reason or "")
    assert all(m.n_pairs == 0 for m in result.metrics)


def test_study_snapshots_are_what_annotators_saw(store: Store) -> None:
    dialogues = make_rated_study(store)
    ratings = load_study(store, "audit")
    assert len(ratings.dialogues) == 72 and len(ratings.records) == 72 * 2 * 9
    d = dialogues[5]
    assert ratings.dialogues[(d.system, d.character, d.scenario)] == d
    humans = ratings.humans("fluency")[(d.system, d.character, d.scenario)]
    assert len(humans) == 2 and set(humans) <= set(ANNOTATORS)


def test_lenient_judge_calibrated_on_the_study_and_applied_to_unrated_items(
    store: Store, fake_server: FakeServer, tmp_path: Path
) -> None:
    dialogues = synthetic_dialogues(SCENARIOS + UNRATED)
    make_rated_study(store, dialogues=dialogues)
    models, options = models_for(fake_server), RunOptions(progress=False)
    judged = judge_study(store, "audit", [LENIENT], models=models, options=options)
    assert judged.complete and judged.pairwise is None
    bench = load_benchmark("chatanime")
    rest = JudgeJob(judges=(LENIENT,), benchmark=bench, scenarios=UNRATED)
    asyncio.run(judge_async(rest, Corpus(dialogues, bench), store, models=models, options=options))

    result = calibrate_judge(store, LENIENT, "audit")
    assert result.status == "calibrated" and result.source == calibrated_source(LENIENT)
    assert all(m.calibrated and m.n_pairs == 72 and m.n_applied == 24 for m in result.metrics)
    for m in result.metrics:  # the judge's extra point is taken back on unseen items
        cv = m.cross_validated
        assert cv is not None and cv.mae_before > 0.8 > 0.6 > cv.mae_after, m.metric
    frame = result.frame()
    assert list(frame.columns) == list(COLUMNS) and len(frame) == 24 * 9
    assert set(frame.source) == {"judge:fake/judge-lenient:calibrated"}
    assert set(frame.scenario) == set(UNRATED) and set(frame["round"]) == {0}
    # calibrated unrated scores sit on the human (= truth) scale, the raw ones a point above
    index = {(d.system, d.character, d.scenario): d for d in dialogues}
    truths = np.array([truth(index[(r.system, r.character, r.scenario)], r.metric)
                       for r in frame.itertuples()])  # fmt: skip
    assert abs(float(np.mean(frame.value.to_numpy() - truths))) < 0.25

    out = tmp_path / "calibrated.csv"
    args = ["judge", "calibrate", "--judge", LENIENT, "--study", "audit",
            "--store", str(store.engine.url.database), "--out", str(out)]  # fmt: skip
    cli = CliRunner().invoke(build_app(), args, catch_exceptions=False, env={"COLUMNS": "200"})
    assert cli.exit_code == 0, cli.output
    assert "calibrated on study 'audit' for 9 of 9 metrics" in cli.output
    assert len(pd.read_csv(out)) == 24 * 9 and set(METRICS) == set(pd.read_csv(out).metric)
