"""JudgeSettings: one judge invocation's values turned into jobs and run arguments."""

from __future__ import annotations

import pytest

from chatanime.backends.base import GenerationParams
from chatanime.benchmark import Benchmark, load_benchmark
from chatanime.errors import DataError
from chatanime.judge.settings import JudgeSettings


@pytest.fixture(scope="module")
def bench() -> Benchmark:
    return load_benchmark("chatanime")


def test_pointwise_job_carries_every_choice(bench: Benchmark) -> None:
    params = GenerationParams(temperature=0.3, seed=7)
    settings = JudgeSettings(
        judges=("fake/a", "fake/b"),
        mode="pointwise-round",
        systems=("human",),
        scenarios=(2, 3),
        limit=5,
        language="en",
        include_anchors=True,
        rubric_examples=False,
        repairs=1,
        params=params,
    )
    job = settings.job(bench)
    assert (job.judges, job.mode, job.systems, job.scenarios, job.limit) == (
        ("fake/a", "fake/b"),
        "pointwise-round",
        ("human",),
        (2, 3),
        5,
    )
    assert job.include_anchors and not job.rubric_examples
    assert (job.repairs, job.params, job.judge_language) == (1, params, "en")
    prompt = job.prompt()
    assert not prompt.rubric_examples and prompt.language == "en"
    assert settings.job(bench, mode="pointwise").mode == "pointwise"


def test_rubric_examples_are_on_by_default(bench: Benchmark) -> None:
    job = JudgeSettings(judges=("fake/a",)).job(bench)
    assert job.rubric_examples and job.prompt().rubric_examples


def test_a_non_pointwise_mode_has_no_pointwise_job(bench: Benchmark) -> None:
    with pytest.raises(DataError, match="not a pointwise mode"):
        JudgeSettings(judges=("fake/a",), mode="diversity").job(bench)


def test_pairwise_and_diversity_judges_share_the_selection_and_sampling(
    bench: Benchmark,
) -> None:
    params = GenerationParams(temperature=0.5)
    settings = JudgeSettings(
        judges=("fake/a", "fake/b"),
        characters=("luffy",),
        params=params,
        diversity_size=4,
        seed=3,
    )
    pair = settings.pairwise_job(bench)
    assert (pair.judges, pair.characters, pair.params) == (("fake/a", "fake/b"), ("luffy",), params)
    judges = settings.diversity_judges(bench)
    assert [j.model for j in judges] == ["fake/a", "fake/b"]
    assert {(j.size, j.seed, j.language, j.params) for j in judges} == {(4, 3, "zh", params)}


def test_run_arguments_limit_rates_only_when_asked() -> None:
    assert JudgeSettings(judges=("fake/a",)).run_options().rate_limits == {}
    limited = JudgeSettings(judges=("fake/a",), concurrency=3, rpm=60.0).run_args()
    assert limited["options"].concurrency == 3 and set(limited["options"].rate_limits) == {"*"}
    assert limited["run_config"] == {"concurrency": 3, "rpm": 60.0, "tpm": None}
