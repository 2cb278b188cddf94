"""Bias checks: length correlation, self-preference, unscored share, ensemble means."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import chatanime.backends.fake_judges  # noqa: F401  (registers the fake judges)
from chatanime.backends.fake_server import FakeServer
from chatanime.backends.registry import get_model
from chatanime.corpus import load_corpus
from chatanime.judge.bias import (
    ENSEMBLE,
    OVERALL,
    answer_length,
    answer_lengths,
    bias_report,
    mean_scores,
    model_family,
)
from chatanime.judge.job import JudgeJob, judge_async
from chatanime.judge.rubric import METRICS
from chatanime.runner import RunOptions
from chatanime.store import Store, open_store
from chatanime.store.schema import judgments, runs, scores

SYSTEMS = ("human", "gpt-4.1", "deepseek-v3")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    st = open_store(str(tmp_path / "bias.db"))
    with st.engine.begin() as conn:
        conn.execute(
            runs.insert().values(
                id="r", kind="judge", name="t", created_at="t", updated_at="t", config_json="{}"
            )
        )
    yield st
    st.dispose()


def add(store: Store, judge: str, system: str, scenario: int, value: float | None) -> None:
    """One judgment of (system, luffy, scenario): every metric ``value`` in both rounds."""
    jid = f"{judge}|{system}|{scenario}"
    with store.engine.begin() as conn:
        conn.execute(
            judgments.insert().values(
                id=jid, run_id="r", mode="pointwise", judge_model=judge, prompt_ref="p",
                rubric_ref="q", benchmark="chatanime", system=system, character="luffy",
                scenario=scenario, status="unscored" if value is None else "scored",
                created_at="t",
            )
        )  # fmt: skip
        if value is not None:
            conn.execute(
                scores.insert(),
                [
                    {"judgment_id": jid, "round": r, "metric": m, "value": value}
                    for r in (1, 2)
                    for m in METRICS
                ],
            )


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("openai/gpt-4.1", "gpt"),
        ("gpt-4.1", "gpt"),
        ("anthropic/claude-sonnet-4", "claude"),
        ("claude-sonnet-4", "claude"),
        ("deepseek/deepseek-chat", "deepseek"),
        ("deepseek-v3", "deepseek"),
        ("dashscope/qwen-max", "qwen"),
        ("qwen-max", "qwen"),
        ("zhipu/glm-4-plus", "glm"),
        ("glm-4-plus", "glm"),
        ("volcengine/doubao-1.5-pro-32k", "doubao"),
        ("doubao-rp", "doubao"),
        ("gemini-2.5-flash-preview", "gemini"),
        ("minimax-abab6.5s", "minimax"),
        ("xingchen-plus-v2", "xingchen"),
        ("openrouter/anthropic/claude-3.5-sonnet", "claude"),
        ("openai/my-finetune", "gpt"),
        ("human", None),
        ("fake/judge", None),
    ],
)
def test_model_family(name: str, family: str | None) -> None:
    assert model_family(name) == family


def test_family_overrides_win() -> None:
    assert model_family("fake/judge", {"fake/judge": "gpt"}) == "gpt"


def test_answer_length_counts_characters_or_words() -> None:
    assert answer_length("别怕， 我在！", "zh") == 6
    assert answer_length("Don't worry, I'm here!", "en") == 4


def test_self_preference_gap_net_of_other_judges_and_unscored_share(store: Store) -> None:
    for scenario in (2, 3, 4):
        add(store, "openai/gpt-4.1", "gpt-4.1", scenario, 5)
        add(store, "openai/gpt-4.1", "human", scenario, 3)
        add(store, "openai/gpt-4.1", "deepseek-v3", scenario, 3)
        for system in SYSTEMS:
            add(store, "deepseek/deepseek-chat", system, scenario, 4 if system == "human" else 3)
    add(store, "openai/gpt-4.1", "human", 5, None)
    report = bias_report(store, lengths={})
    by_judge = {jb.judge: jb for jb in report.judges}
    gpt = by_judge["openai/gpt-4.1"]
    assert (gpt.judgments, gpt.unscored) == (10, 1) and gpt.unscored_share == pytest.approx(0.1)
    sp = gpt.self_preference
    assert sp is not None and sp.family == "gpt" and sp.own_systems == ("gpt-4.1",)
    assert sp.gap == pytest.approx(2.0) and (sp.n_own, sp.n_others) == (3, 6)
    # the other judge rates gpt-4.1 0.5 below the rest: the net preference is 2.5
    assert sp.other_judges_gap == pytest.approx(-0.5) and sp.net_gap == pytest.approx(2.5)
    ds = by_judge["deepseek/deepseek-chat"].self_preference
    assert ds is not None and ds.gap == pytest.approx(-0.5)
    records = report.to_records()
    assert {"judge": "openai/gpt-4.1", "check": "self_gap", "metric": "gpt",
            "value": pytest.approx(2.0), "n": 3} in records  # fmt: skip


def test_no_self_preference_without_own_or_other_systems(store: Store) -> None:
    add(store, "openai/gpt-4.1", "human", 2, 3)
    add(store, "anthropic/claude-x", "claude-sonnet-4", 2, 3)
    by_judge = {jb.judge: jb for jb in bias_report(store, lengths={}).judges}
    assert by_judge["openai/gpt-4.1"].self_preference is None  # no gpt system scored
    assert by_judge["anthropic/claude-x"].self_preference is None  # no other system


def test_mean_scores_keep_each_judge_and_add_an_ensemble(store: Store) -> None:
    add(store, "a/j1", "human", 2, 4)
    add(store, "a/j1", "human", 3, 2)
    add(store, "b/j2", "human", 2, 5)
    add(store, "b/j2", "human", 3, None)  # unscored: the ensemble uses j1 alone for item 3
    means = mean_scores(store)
    assert means[("a/j1", "human")] == pytest.approx(3.0)
    assert means[("b/j2", "human")] == pytest.approx(5.0)
    assert means[(ENSEMBLE, "human")] == pytest.approx((4.5 + 2) / 2)
    only_two = mean_scores(store, items={("human", "luffy", 2)})
    assert only_two[(ENSEMBLE, "human")] == pytest.approx(4.5)
    assert mean_scores(store, prompt_ref="other") == {}
    assert mean_scores(store, rubric_ref="q") == means  # "q": the rubric ref of every row
    assert mean_scores(store, rubric_ref="q:no-examples") == {}
    assert bias_report(store, lengths={}, rubric_ref="q:no-examples").judges == ()
    assert len(bias_report(store, lengths={}, rubric_ref="q").judges) == 2


def test_length_correlation_is_computed_per_metric(store: Store) -> None:
    lengths = {}
    for scenario, value in ((2, 1), (3, 2), (4, 3), (5, 4)):
        add(store, "a/j1", "human", scenario, value)
        for r in (1, 2):
            lengths[("human", "luffy", scenario, r)] = 10 * value
    (jb,) = bias_report(store, lengths=lengths).judges
    assert set(jb.length) == {*METRICS, OVERALL}
    assert jb.length[OVERALL].rho == pytest.approx(1.0) and jb.length[OVERALL].n == 8
    constant = bias_report(store, lengths=dict.fromkeys(lengths, 50)).judges[0]
    assert constant.length["fluency"].rho is None  # undefined, not zero


async def test_planted_length_bias_is_detected_through_the_fake_server(
    release_dir: Path, tmp_path: Path, fake_server: FakeServer
) -> None:
    corpus = load_corpus(release_dir, download=False)
    job = JudgeJob(
        judges=("fake/judge", "fake/judge-length"),
        benchmark=corpus.benchmark,
        systems=("human", "gpt-4.1", "deepseek-v3"),
        characters=("naruto", "rem"),
        scenarios=tuple(range(2, 14)),
    )
    st = open_store(str(tmp_path / "bias-e2e.db"))
    report = await judge_async(
        job, corpus, st, models=get_model, options=RunOptions(progress=False)
    )
    lengths = answer_lengths(report.selection.dialogues, "zh")
    by_judge = {jb.judge: jb for jb in bias_report(st, lengths=lengths).judges}
    st.dispose()
    planted = by_judge["fake/judge-length"].length[OVERALL]
    plain = by_judge["fake/judge"].length[OVERALL]
    assert planted.n == 2 * len(report.selection.dialogues) == 2 * (72 - 3)  # rem 9: anchor
    assert planted.rho is not None and planted.rho > 0.6
    assert plain.rho is not None and abs(plain.rho) < 0.4
    assert by_judge["fake/judge"].unscored_share == 0.0
