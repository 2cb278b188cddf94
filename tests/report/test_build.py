"""Assembling the report: what exists on a fresh machine, and numbers checked against the store."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from chatanime.corpus import Corpus
from chatanime.report import build
from chatanime.report.build import build_report
from chatanime.report.html import render_html
from chatanime.report.markdown import render_markdown
from chatanime.report.scores import METRICS
from chatanime.report.tabular import render_csv
from chatanime.store import Store
from chatanime.store import schema as t
from tests.report.conftest import CHARACTERS, JUDGED_DIVERSITY, SCENARIOS, UNSCORED


def raw_scores(store: Store) -> pd.DataFrame:
    """Every stored pointwise score, read straight from the tables."""
    j, s = t.judgments, t.scores
    query = (
        select(j.c.judge_model, j.c.system, j.c.character, j.c.scenario, s.c.metric, s.c.value)
        .join(s, s.c.judgment_id == j.c.id)
        .where(j.c.mode == "pointwise")
    )
    with store.engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(query)]
    return pd.DataFrame(rows, columns=["judge", "system", "character", "scenario", "metric", "v"])


@pytest.fixture(scope="module")
def judged(small_corpus: Corpus, judged_store: Store) -> build.Report:
    return build_report(small_corpus, judged_store, n_boot=300, diversity=False)


def test_fresh_machine_report_has_overview_diversity_and_guidance(
    small_corpus: Corpus, empty_store: Store
) -> None:
    report = build_report(small_corpus, empty_store, n_boot=50)
    assert report.boards == [] and report.primary is None and report.pairwise is None
    first = report.notes[0]
    assert first.kind == "info" and "No judge scores" in first.text
    assert any("chatanime judge" in c for c in first.commands)
    assert not any("uncalibrated" in n.text for n in report.notes)
    assert report.diversity is not None
    assert set(report.diversity.systems) == set(small_corpus.systems)
    # the overview counts what the slice holds, and every answer is within the 150-char cap
    ov = report.overview
    assert ov.n_characters == len(CHARACTERS) and ov.n_scenarios == len(SCENARIOS)
    human = next(o for o in ov.systems if o.summary.system == "human")
    assert human.summary.dialogues == len(CHARACTERS) * len(SCENARIOS)
    assert human.summary.within_limit == human.summary.answers
    assert human.style["length"] > 0
    # round 2 differs per system in the release: the note says so with the counts
    assert ov.round2_shared == 0 and ov.n_items == len(CHARACTERS) * len(SCENARIOS)
    assert any("Round 1 is matched exactly" in n.text for n in report.notes)
    # examples: every character x chosen scenario, all 11 systems side by side
    assert len(report.examples) == len(CHARACTERS) * len(SCENARIOS)
    assert all(len(e.answers) == 11 for e in report.examples)


def test_no_store_at_all_still_builds(small_corpus: Corpus) -> None:
    report = build_report(small_corpus, None, n_boot=50, diversity=False)
    assert report.boards == [] and "No judge scores" in report.notes[0].text


def test_sources_are_kept_apart_and_ordered(judged: build.Report) -> None:
    sources = [b.source for b in judged.boards]
    assert sources == ["judge:ensemble", "judge:fake/judge-a", "judge:fake/judge-b"]
    assert judged.primary is not None and judged.primary.source == "judge:ensemble"
    assert [b.kind for b in judged.boards] == ["ensemble", "judge", "judge"]
    assert any("uncalibrated" in n.text for n in judged.notes)


def test_leaderboard_means_equal_the_stored_scores(
    judged: build.Report, judged_store: Store
) -> None:
    raw = raw_scores(judged_store)
    item = raw.groupby(["judge", "system", "character", "scenario"])["v"].mean()
    for judge in ("fake/judge-a", "fake/judge-b"):
        board = next(b.board for b in judged.boards if b.source == f"judge:{judge}")
        expected = item.loc[judge].groupby("system").mean()
        for system, value in expected.items():
            cell = board.cell(str(system), "overall")
            assert cell is not None
            assert cell.estimate.mean == pytest.approx(value, abs=1e-12)
            assert cell.estimate.lo <= cell.estimate.mean <= cell.estimate.hi
    # the ensemble: per item and metric the mean of the judges that scored it
    per_metric = raw.groupby(["judge", "system", "character", "scenario", "metric"])["v"].mean()
    ens_items = per_metric.groupby(["system", "character", "scenario", "metric"]).mean()
    ens = ens_items.groupby(["system", "character", "scenario"]).mean().groupby("system").mean()
    board = judged.boards[0].board
    for system, value in ens.items():
        cell = board.cell(str(system), "overall")
        assert cell is not None and cell.estimate.mean == pytest.approx(value, abs=1e-12)


def test_unscored_items_are_counted_per_source(judged: build.Report) -> None:
    by_source = {b.source: b.board for b in judged.boards}
    a = by_source["judge:fake/judge-a"].cell("gpt-4.1", "overall")
    b = by_source["judge:fake/judge-b"].cell("gpt-4.1", "overall")
    ens = by_source["judge:ensemble"].cell("gpt-4.1", "overall")
    n_items = len(CHARACTERS) * len(SCENARIOS)
    assert a is not None and b is not None and ens is not None
    assert (a.estimate.n, a.estimate.n_missing) == (n_items - len(UNSCORED), len(UNSCORED))
    assert (b.estimate.n, b.estimate.n_missing) == (n_items, 0)
    assert (ens.estimate.n, ens.estimate.n_missing) == (n_items, 0)  # judge b covers them
    note = next(n for n in judged.notes if "Unscored" in n.text)
    assert f"judge:fake/judge-a: {len(UNSCORED)}" in note.text


def test_planted_order_ranks_and_tests_against_the_fans(judged: build.Report) -> None:
    board = judged.boards[0].board
    assert board.systems[0] == "qwen-max" and board.systems[-1] == "doubao-rp"
    top = board.cell("qwen-max", "overall")
    assert top is not None and top.rank is not None and top.rank.rank == 1
    comps = [c for c in board.comparisons if c.baseline == "human"]
    qwen = next(c for c in comps if c.system == "qwen-max" and c.level == "overall")
    rp = next(c for c in comps if c.system == "doubao-rp" and c.level == "overall")
    assert qwen.result.mean_diff > 0 and qwen.p_holm < 0.05
    assert rp.result.mean_diff < 0 and rp.p_holm < 0.05
    assert all(c.p_holm >= c.result.p_value for c in comps)
    per_metric = [c for c in comps if c.system == "qwen-max" and c.level in METRICS]
    assert len(per_metric) == 9


def test_style_control_and_pairwise_sections_exist(judged: build.Report) -> None:
    for b in judged.boards:
        assert b.style is not None and "overall" in b.style.results
        assert set(b.style.results) == {"overall", *METRICS}
    assert judged.pairwise is not None
    assert judged.pairwise.judges == ["fake/judge-a"]
    gpt = [c for c in judged.pairwise.cells if c.system == "gpt-4.1"]
    assert {c.dimension for c in gpt} == {"basic", "roleplay", "emotional"}
    assert all(c.win.mean > c.loss.mean and c.net.mean > 0 for c in gpt)
    assert all(c.n_items == len(CHARACTERS) * len(SCENARIOS) for c in gpt)


def test_pairwise_section_is_the_judge_modules_summary(
    judged: build.Report, judged_store: Store
) -> None:
    from chatanime.judge.pairwise_summary import summarise_vs_fans

    assert judged.pairwise == summarise_vs_fans(judged_store, n_boot=300, seed=0)


def test_judge_filter_restricts_sources(small_corpus: Corpus, judged_store: Store) -> None:
    report = build_report(
        small_corpus, judged_store, judges=["fake/judge-b"], n_boot=50, diversity=False
    )
    assert [b.source for b in report.boards] == ["judge:fake/judge-b"]


def test_a_failing_section_becomes_a_warning(
    small_corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(corpus: Corpus) -> None:
        raise RuntimeError("tokeniser exploded")

    monkeypatch.setattr(build, "_diversity", broken)
    report = build_report(small_corpus, None, n_boot=50)
    assert report.diversity is None
    warning = next(n for n in report.notes if n.text.startswith("automatic diversity:"))
    assert warning.kind == "warning" and "tokeniser exploded" in warning.text
    assert "diversity" not in report.notes[0].text  # the guidance does not promise it


def test_human_ratings_become_their_own_source(small_corpus: Corpus, empty_store: Store) -> None:
    from chatanime.annotate.ratings import save_ratings
    from chatanime.annotate.tables import assignments, items
    from tests.annotate.support import make_study

    systems = ("human", "gpt-4.1", "deepseek-v3")
    dialogues = list(
        small_corpus.filter(systems=list(systems), characters=["luffy", "naruto"]).dialogues
    )
    make_study(empty_store, dialogues=dialogues, scenarios=(1, 8, 16), systems=systems)
    planted = {"human": 5, "gpt-4.1": 3, "deepseek-v3": 2}
    query = select(
        assignments.c.annotator_id, assignments.c.position, items.c.id, items.c.kind, items.c.system
    ).join(items, items.c.id == assignments.c.item_id)
    with empty_store.engine.connect() as conn:
        tasks = conn.execute(query).all()
    for annotator, position, item_id, kind, system in tasks:
        values = (
            {"diversity": 4} if kind == "diversity" else dict.fromkeys(METRICS, planted[system])
        )
        save_ratings(empty_store.engine, annotator, position, item_id, values)
    report = build_report(small_corpus, empty_store, n_boot=50, diversity=False)
    assert [b.source for b in report.boards] == ["human:pilot"]
    board = report.boards[0].board
    for system, value in planted.items():
        cell = board.cell(system, "overall")
        assert cell is not None and cell.estimate.mean == value
        assert cell.estimate.n == 6  # 2 characters x 3 scenarios, annotators averaged
    assert not any("uncalibrated" in n.text for n in report.notes)
    assert [s.study_name for s in report.studies] == ["pilot"]
    # every output renders the study's source and, in HTML, its agreement table
    html = render_html(report)
    assert "Study “pilot”" in html and "Krippendorff α (ordinal)" in html
    assert ">human:pilot</li>" in html
    assert "## Leaderboard — `human:pilot`" in render_markdown(report)
    assert "human:pilot" in render_csv(report)


def test_systems_only_in_scores_get_a_colour_slot(small_corpus: Corpus, empty_store: Store) -> None:
    from tests.report.support import insert_judge_scores

    extra = Corpus(
        [
            d.model_copy(update={"system": "new-model"})
            for d in small_corpus.dialogues
            if d.system == "gpt-4.1"
        ],
        small_corpus.benchmark,
    )
    insert_judge_scores(empty_store, extra, "fake/judge-a")
    report = build_report(small_corpus, empty_store, n_boot=50, diversity=False)
    assert report.systems[-1] == "new-model"
    assert report.boards[0].board.systems == ["new-model"]
    assert not math.isnan(float(np.mean([c.estimate.mean for c in report.boards[0].board.cells])))


def test_bias_checks_find_the_planted_length_bias(judged: build.Report) -> None:
    assert judged.bias is not None
    by_judge = {jb.judge: jb for jb in judged.bias.judges}
    a, b = by_judge["fake/judge-a"], by_judge["fake/judge-b"]
    rho_a, rho_b = a.length["overall"].rho, b.length["overall"].rho
    assert rho_a is not None and rho_b is not None
    assert rho_a > 0.2 and abs(rho_b) < 0.1
    assert a.unscored == len(UNSCORED) and b.unscored == 0


def test_judged_diversity_is_its_own_source(judged: build.Report) -> None:
    (d,) = judged.judged_diversity
    assert d.source == "judge:fake/judge-a:diversity"
    human, qwen = d.estimates["human"], d.estimates["qwen-max"]
    assert human.mean == JUDGED_DIVERSITY["human"] and human.n_missing == 1
    assert human.n == len(CHARACTERS) - 1
    assert qwen.mean == JUDGED_DIVERSITY["qwen-max"] and d.systems[0] == "human"
    assert d.ranks["human"].rank == 1 and d.ranks["qwen-max"].order == len(d.estimates)


def test_system_against_system_pairs(small_corpus: Corpus, judged_store: Store) -> None:
    report = build_report(
        small_corpus,
        judged_store,
        judges=["fake/judge-b"],
        n_boot=50,
        diversity=False,
        pairs=[("qwen-max", "doubao-rp"), ("qwen-max", "not-a-system")],
    )
    board = report.boards[0].board
    pair = [c for c in board.comparisons if c.baseline == "doubao-rp"]
    assert len(pair) == 13 and all(c.system == "qwen-max" for c in pair)
    overall = next(c for c in pair if c.level == "overall")
    assert overall.result.mean_diff > 1.5 and overall.p_holm < 0.001
    assert not any(c.baseline == "not-a-system" for c in board.comparisons)
    assert "System against system" in render_html(report)
    assert "| qwen-max − doubao-rp |" in render_markdown(report)
