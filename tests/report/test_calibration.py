"""Calibration on human ratings in the report: the fit, the calibrated source, the notes.

A study rates a subset of the slice with a planted quality ``q`` (1..4) per item and metric;
judge ``lenient`` scores every item ``q + 1`` and judge ``exact`` scores ``q``. Calibrating
``lenient`` on the ratings must map its scores back to ``q`` on the items the study did not
rate, and the cross-validated MAE must drop from 1 to 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from chatanime.annotate.ratings import save_ratings
from chatanime.annotate.study import StudySpec, create_study
from chatanime.annotate.tables import assignments, items
from chatanime.corpus import Corpus
from chatanime.report.build import Report, build_report
from chatanime.report.calibration import judge_item_table
from chatanime.report.html import render_html
from chatanime.report.markdown import render_markdown
from chatanime.report.scores import METRICS, read_judgments
from chatanime.report.tabular import records
from chatanime.store import Store, open_store
from chatanime.store import schema as t
from tests.report.conftest import CHARACTERS, SCENARIOS
from tests.report.support import NOW, _jid, _run

LENIENT, EXACT = "fake/judge-lenient", "fake/judge-exact"
STUDY_SYSTEMS = ("human", "gpt-4.1", "deepseek-v3")
STUDY_CHARACTERS = ("luffy", "naruto")
STUDY_SCENARIOS = (1, 8, 16, 23, 31, 38)
N_RATED = len(STUDY_SYSTEMS) * len(STUDY_CHARACTERS) * len(STUDY_SCENARIOS)
CALIBRATED = f"judge:{LENIENT}:calibrated"


def quality(system: str, character: str, scenario: int, metric: str, systems: list[str]) -> int:
    """The planted 1..4 quality of an item on a metric (every value occurs in the study)."""
    index = systems.index(system) + CHARACTERS.index(character) + SCENARIOS.index(scenario)
    return 1 + (index + METRICS.index(metric)) % 4


def insert_planted_judge(store: Store, corpus: Corpus, judge: str, shift: int) -> None:
    """Both rounds of every metric: ``quality + shift`` (so the item score is exactly that)."""
    systems = sorted(corpus.systems)
    judgments, scores = [], []
    for d in corpus.dialogues:
        jid = _jid("planted", judge, d.system, d.character, d.scenario)
        judgments.append(
            dict(id=jid, run_id=f"run-{judge}", mode="pointwise", judge_model=judge,
                 prompt_ref="p", rubric_ref="r", benchmark="chatanime", system=d.system,
                 character=d.character, scenario=d.scenario, status="scored", created_at=NOW)
        )  # fmt: skip
        for m in METRICS:
            value = float(quality(d.system, d.character, d.scenario, m, systems) + shift)
            scores += [dict(judgment_id=jid, round=r, metric=m, value=value) for r in (1, 2)]
    with store.engine.begin() as conn:
        _run(conn, f"run-{judge}", "judge")
        conn.execute(insert(t.judgments), judgments)
        conn.execute(insert(t.scores), scores)


def make_study(store: Store, corpus: Corpus, *, rate: bool) -> None:
    """A study of 36 items of the slice; with ``rate``, every assignment rated at ``quality``."""
    spec = StudySpec(name="pilot", systems=STUDY_SYSTEMS, characters=STUDY_CHARACTERS,
                     scenarios=STUDY_SCENARIOS, annotators=("alice", "bob", "carol"),
                     overlap=2, seed=5)  # fmt: skip
    create_study(store, spec, corpus.dialogues)
    if not rate:
        return
    systems = sorted(corpus.systems)
    query = select(
        assignments.c.annotator_id, assignments.c.position, items.c.id, items.c.system,
        items.c.character, items.c.scenario,
    ).join(items, items.c.id == assignments.c.item_id)  # fmt: skip
    with store.engine.connect() as conn:
        tasks = conn.execute(query).all()
    for annotator, position, item_id, system, character, scenario in tasks:
        values = {m: quality(system, character, scenario, m, systems) for m in METRICS}
        save_ratings(store.engine, annotator, position, item_id, values)


@pytest.fixture(scope="module")
def calibrated(
    tmp_path_factory: pytest.TempPathFactory, small_corpus: Corpus
) -> Iterator[tuple[Report, Store]]:
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('cal') / 'store.db'}")
    insert_planted_judge(store, small_corpus, LENIENT, shift=1)
    insert_planted_judge(store, small_corpus, EXACT, shift=0)
    make_study(store, small_corpus, rate=True)
    yield build_report(small_corpus, store, n_boot=50, diversity=False), store
    store.dispose()


def test_each_judge_is_fitted_on_the_rated_items_and_validated(
    calibrated: tuple[Report, Store],
) -> None:
    report, _ = calibrated
    by_judge = {c.judge: c for c in report.calibrations}
    assert set(by_judge) == {LENIENT, EXACT}
    lenient = by_judge[LENIENT]
    assert lenient.calibrated and lenient.study == "pilot" and lenient.source == CALIBRATED
    assert [f.metric for f in lenient.result.metrics] == list(METRICS)
    for fit in lenient.result.metrics:
        cv = fit.cross_validated
        assert fit.n_pairs == N_RATED and cv is not None and cv.k == 5
        assert cv.mae_before == pytest.approx(1.0) and cv.mae_after < 0.05
        assert fit.before.spearman == pytest.approx(1.0)
        assert fit.n_applied == len(small_items(report)) - N_RATED


def small_items(report: Report) -> set[tuple[str, str, int]]:
    return {(s, c, sc) for s in report.systems for c in CHARACTERS for sc in SCENARIOS}


def test_calibrated_scores_are_their_own_source_for_the_unrated_items(
    calibrated: tuple[Report, Store], small_corpus: Corpus
) -> None:
    report, _ = calibrated
    sources = [(b.source, b.kind) for b in report.boards]
    assert sources == [
        ("judge:ensemble", "ensemble"),
        (f"judge:{EXACT}", "judge"),
        (f"judge:{LENIENT}", "judge"),
        (f"judge:{EXACT}:calibrated", "calibrated"),
        (CALIBRATED, "calibrated"),
        ("human:pilot", "human"),
    ]
    assert report.primary is not None and report.primary.source == "judge:ensemble"
    boards = {b.source: b.board for b in report.boards}
    systems = sorted(small_corpus.systems)
    for system in systems:
        unrated = [
            (c, sc)
            for c in CHARACTERS
            for sc in SCENARIOS
            if not (system in STUDY_SYSTEMS and c in STUDY_CHARACTERS and sc in STUDY_SCENARIOS)
        ]
        truth = sum(quality(system, c, sc, m, systems) for c, sc in unrated for m in METRICS)
        cell = boards[CALIBRATED].cell(system, "overall")
        raw = boards[f"judge:{LENIENT}"].cell(system, "overall")
        ens = boards["judge:ensemble"].cell(system, "overall")
        exact = boards[f"judge:{EXACT}"].cell(system, "overall")
        assert cell is not None and raw is not None and ens is not None and exact is not None
        # the lenient judge's +1 is gone on exactly the items the study did not rate
        assert cell.estimate.mean == pytest.approx(truth / len(unrated) / len(METRICS))
        assert cell.estimate.n == len(unrated) < (32 if system in STUDY_SYSTEMS else 33)
        assert cell.estimate.n_missing == 0  # the rated items are not "unscored" here
        # the ensemble averages the two raw judges only, never a calibrated source
        assert ens.estimate.mean == pytest.approx((raw.estimate.mean + exact.estimate.mean) / 2)


def test_outputs_show_the_fit_and_the_calibrated_leaderboard(
    calibrated: tuple[Report, Store],
) -> None:
    report, _ = calibrated
    md = render_markdown(report)
    assert "## Judge calibration on human ratings" in md
    assert f"### `{LENIENT}` on study “pilot”" in md
    assert f"| Fluency | {N_RATED} | 1.00 → 0.00 | 1.00 → 1.00 | 1.00 → 1.00 |" in md
    assert f"## Leaderboard — `{CALIBRATED}`" in md
    assert f"chatanime judge audit --judge {LENIENT} --study pilot" in md
    html = render_html(report)
    assert 'id="calibration"' in html and "MAE before → after" in html
    assert f'data-source="{CALIBRATED}"' in html  # the calibrated tab
    assert f'<li class="src src-calibrated">{CALIBRATED}</li>' in html
    assert '<span class="kind kind-calibrated">calibrated</span>' in html
    cal = [r for r in records(report) if r["table"] == "calibration" and r["source"] == CALIBRATED]
    after = {r["level"]: r["mean"] for r in cal if r["grouping"] == "mae_after"}
    assert set(after) == set(METRICS) and max(after.values()) < 0.05
    assert all(r["baseline"] == "pilot" and r["n"] == N_RATED for r in cal)


def test_calibrated_notes_replace_the_uncalibrated_warning(
    calibrated: tuple[Report, Store],
) -> None:
    report, _ = calibrated
    texts = [n.text for n in report.notes]
    assert not any("uncalibrated" in text for text in texts)
    assert not any(text.startswith("Unscored items") for text in texts)
    note = next(n for n in report.notes if f"{LENIENT} calibrated on study 'pilot'" in n.text)
    assert note.kind == "info" and "for 9 of 9 metrics" in note.text
    assert note.commands == (f"chatanime judge audit --judge {LENIENT} --study pilot",)


def test_item_scores_match_the_annotation_module(judged_store: Store) -> None:
    """The report's column-wise item scores equal ``annotate.analysis.judge_item_scores``."""
    from chatanime.annotate.analysis import judge_item_scores

    table = judge_item_table(read_judgments(judged_store))
    with judged_store.engine.connect() as conn:
        pairs = conn.execute(select(t.judgments.c.system, t.judgments.c.character).distinct())
        systems, characters = zip(*pairs.all(), strict=True)
    scope: dict[str, object] = {"systems": set(systems), "characters": set(characters)}
    expected = judge_item_scores(judged_store.engine, scope)
    assert set(table) == set(expected) == {"fake/judge-a", "fake/judge-b"}
    for judge, by_metric in expected.items():
        assert set(table[judge]) == set(by_metric)
        for metric, by_item in by_metric.items():
            assert table[judge][metric].keys() == by_item.keys()
            for item, value in by_item.items():
                assert table[judge][metric][item] == pytest.approx(value, abs=1e-12)


def test_without_ratings_the_report_says_uncalibrated(tmp_path: Path, small_corpus: Corpus) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'unrated.db'}")
    insert_planted_judge(store, small_corpus, LENIENT, shift=1)
    make_study(store, small_corpus, rate=False)  # a study exists, nobody has rated yet
    report = build_report(small_corpus, store, n_boot=50, diversity=False)
    store.dispose()
    assert report.calibrations == [] and report.calibrated_boards == []
    assert [b.source for b in report.boards] == [f"judge:{LENIENT}"]
    md, html = render_markdown(report), render_html(report)
    for text in (md, html):
        assert "Judge scores are uncalibrated: no human ratings exist in the store" in text
        assert "Judge calibration on human ratings" not in text
    assert 'id="calibration"' not in html and "calibrated</li>" not in html


def test_a_judge_that_scored_none_of_the_rated_items_stays_uncalibrated(
    tmp_path: Path, small_corpus: Corpus
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'elsewhere.db'}")
    others = small_corpus.filter(systems=["qwen-max", "doubao-rp"])
    insert_planted_judge(store, others, LENIENT, shift=1)
    make_study(store, small_corpus, rate=True)
    # a judge filter leaves the human source out, not the judge's calibration
    report = build_report(small_corpus, store, judges=[LENIENT], n_boot=50, diversity=False)
    store.dispose()
    assert [b.source for b in report.boards] == [f"judge:{LENIENT}"]
    (section,) = report.calibrations
    assert not section.calibrated and report.calibrated_boards == []
    warning = next(n for n in report.notes if n.text.startswith("Judge scores are uncalibrated"))
    assert warning.kind == "warning" and "scored too few of the items rated" in warning.text
    md = render_markdown(report)
    assert "## Judge calibration on human ratings" in md and "| Fluency | 0 | — → — |" in md
