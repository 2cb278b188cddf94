"""The judge job over the release: selection, rows, multiple judges, resume, retries."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

import chatanime.backends.fake_judges  # noqa: F401  (registers the fake judges)
from chatanime.backends.base import GenerationParams
from chatanime.backends.fake_server import FakeServer
from chatanime.backends.registry import get_model
from chatanime.backends.retry import RetryPolicy
from chatanime.corpus import Corpus, load_corpus
from chatanime.errors import DataError
from chatanime.judge.job import (
    JudgeJob,
    JudgeReport,
    dry_run,
    judge_async,
    run_spec,
    select_dialogues,
    with_stored_systems,
)
from chatanime.judge.pointwise import NO_REPLY
from chatanime.pricing import Price, PriceTable
from chatanime.runner import RunOptions
from chatanime.store import Store
from chatanime.store.schema import calls, dialogues, judgments, runs, scores, units
from tests.kill_support import count_rows, kill_after_rows, script_env, wait_idle


@pytest.fixture
def store(any_store: Store) -> Store:
    """These rows must hold on both stores the product supports (SQLite, PostgreSQL)."""
    return any_store


FAST = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02)
SCENARIOS = (1, 2, 3, 4, 5, 6)  # luffy 1 is an anchor dialogue of the rubric


@pytest.fixture(scope="module")
def corpus(release_dir: Path) -> Corpus:
    return load_corpus(release_dir, download=False)


def make_job(corpus: Corpus, **changes: Any) -> JudgeJob:
    job = JudgeJob(
        judges=("fake/judge",),
        benchmark=corpus.benchmark,
        systems=("human", "gpt-4.1"),
        characters=("luffy",),
        scenarios=SCENARIOS,
    )
    return replace(job, **changes)


async def run(job: JudgeJob, corpus: Corpus, store: Store, **options: Any) -> JudgeReport:
    opts = RunOptions(progress=False, retry=FAST, **options)
    return await judge_async(job, corpus, store, models=get_model, options=opts)


def count(store: Store, table: Any, *where: Any) -> int:
    with store.engine.connect() as conn:
        query = select(func.count()).select_from(table)
        return int(conn.execute(query.where(*where) if where else query).scalar_one())


def requests(server: FakeServer) -> int:
    return int(server.stats()["requests"])


def test_selection_excludes_anchor_dialogues_for_every_system(corpus: Corpus) -> None:
    sel = select_dialogues(
        corpus, systems=["human", "gpt-4.1"], characters=["luffy"], scenarios=list(SCENARIOS)
    )
    assert sel.excluded_anchors == 2
    assert {d.scenario for d in sel.dialogues} == {2, 3, 4, 5, 6}
    # ordered by character, scenario, then system: a limit keeps pairs together
    assert [(d.scenario, d.system) for d in sel.dialogues[:4]] == [
        (2, "human"), (2, "gpt-4.1"), (3, "human"), (3, "gpt-4.1"),
    ]  # fmt: skip
    kept = select_dialogues(
        corpus, systems=["human"], characters=["luffy"], scenarios=[1], include_anchors=True
    )
    assert kept.excluded_anchors == 0 and len(kept.dialogues) == 1


def test_unknown_system_or_character_is_a_data_error(corpus: Corpus) -> None:
    with pytest.raises(DataError, match="no-such-model"):
        select_dialogues(corpus, systems=["no-such-model"])
    with pytest.raises(DataError, match="zoro"):
        select_dialogues(corpus, characters=["zoro"])


async def test_two_judges_score_a_subset_end_to_end(
    corpus: Corpus, store: Store, fake_server: FakeServer
) -> None:
    job = make_job(corpus, judges=("fake/judge", "fake/judge-length"))
    report = await run(job, corpus, store)
    assert report.complete and len(report.selection.dialogues) == 10
    assert [r.counts.scored for r in report.runs] == [10, 10]
    with store.engine.connect() as conn:
        rows = conn.execute(select(judgments)).all()
        run_rows = conn.execute(select(runs)).all()
    assert len(rows) == 20 and count(store, scores) == 20 * 18
    assert {r.judge_model for r in rows} == {"fake/judge", "fake/judge-length"}
    prompt = job.prompt()
    assert {r.prompt_ref for r in rows} == {prompt.ref} and prompt.sha256[:12] in prompt.ref
    assert {r.rubric_ref for r in rows} == {prompt.rubric.ref}
    assert {(r.system, r.scenario) for r in rows if r.scenario == 1} == set()
    # one run per judge, each recording how many anchor dialogues were left out
    assert len(run_rows) == 2 and {r.kind for r in run_rows} == {"judge"}
    for run_row in run_rows:
        config = json.loads(run_row.config_json)
        assert config["anchors"] == {"included": False, "excluded": 2}
        assert config["prompt_sha256"] == prompt.sha256
        assert config["selection"]["items"] == 10


async def test_rerun_makes_no_new_requests_and_no_duplicates(
    corpus: Corpus, store: Store, fake_server: FakeServer
) -> None:
    job = make_job(corpus)
    first = await run(job, corpus, store)
    sent = requests(fake_server)
    second = await run(job, corpus, store)
    assert requests(fake_server) == sent == 10
    assert second.runs[0].summary.skipped == 10 and second.runs[0].summary.calls == 0
    assert second.runs[0].summary.run_id == first.runs[0].summary.run_id
    assert count(store, judgments) == 10 and count(store, scores) == 180
    assert fake_server.stats()["repeated_ok"] == 0


async def test_rerun_after_a_partial_run_only_judges_the_rest(
    corpus: Corpus, store: Store, fake_server: FakeServer
) -> None:
    await run(make_job(corpus, limit=4), corpus, store)
    assert requests(fake_server) == 4
    report = await run(make_job(corpus), corpus, store)
    assert requests(fake_server) == 10 and report.runs[0].summary.skipped == 4
    assert count(store, judgments) == 10 and fake_server.stats()["repeated_ok"] == 0


async def test_no_reply_is_stored_then_retried_by_the_next_run(
    corpus: Corpus, store: Store, fake_server: FakeServer
) -> None:
    job = make_job(corpus, scenarios=(2,))
    fake_server.script("fake/judge", [{"fault": "500"}, {"fault": "500"}])  # both retries
    first = await run(job, corpus, store, concurrency=1)
    assert not first.complete and first.runs[0].counts.no_reply == 1
    no_reply = count(store, judgments, judgments.c.status == "unscored")
    assert no_reply == 1 and count(store, scores) == 18  # the other item was scored
    with store.engine.connect() as conn:
        error = conn.execute(select(judgments.c.error).where(judgments.c.status == "unscored"))
        assert error.scalar_one().startswith(NO_REPLY)
    second = await run(job, corpus, store)
    assert second.complete and second.runs[0].summary.calls == 1
    assert count(store, judgments, judgments.c.status == "scored") == 2
    assert count(store, judgments) == 2 and count(store, scores) == 36
    assert count(store, units) == 3  # the retry is a unit of its own
    before = requests(fake_server)
    third = await run(job, corpus, store)
    assert requests(fake_server) == before and third.runs[0].summary.calls == 0


async def test_invalid_replies_are_final_and_not_retried(
    corpus: Corpus, store: Store, fake_server: FakeServer
) -> None:
    job = make_job(corpus, judges=("fake/judge-garbage",), scenarios=(2,), repairs=0)
    first = await run(job, corpus, store)
    assert first.complete and first.runs[0].counts.unscored == 2
    sent = requests(fake_server)
    await run(job, corpus, store)
    assert requests(fake_server) == sent


async def test_other_sampling_parameters_cannot_mix_into_the_same_judgments(
    corpus: Corpus, store: Store, fake_server: FakeServer
) -> None:
    await run(make_job(corpus, scenarios=(2,)), corpus, store)
    hot = make_job(corpus, scenarios=(2,), params=GenerationParams(temperature=1.0))
    with pytest.raises(DataError, match="different sampling parameters"):
        await run(hot, corpus, store)
    # the timeout is not a sampling parameter: same run
    slow = make_job(corpus, scenarios=(2,), params=GenerationParams(temperature=0.0, timeout_s=9))
    report = await run(slow, corpus, store)
    assert report.runs[0].summary.skipped == 2


async def test_per_round_mode_is_its_own_set_of_judgments(
    corpus: Corpus, store: Store, fake_server: FakeServer
) -> None:
    await run(make_job(corpus, scenarios=(2,)), corpus, store)
    report = await run(make_job(corpus, scenarios=(2,), mode="pointwise-round"), corpus, store)
    assert report.runs[0].counts.scored == 2 and requests(fake_server) == 2 + 4
    modes = count(store, judgments, judgments.c.mode == "pointwise-round")
    assert modes == 2 and count(store, judgments) == 4


async def test_generated_systems_are_read_from_the_store(
    corpus: Corpus, store: Store, fake_server: FakeServer
) -> None:
    luffy2 = corpus.get("gpt-4.1", "luffy", 2)
    assert luffy2 is not None
    with store.engine.begin() as conn:
        conn.execute(
            runs.insert().values(
                id="gen-x", kind="generate", name="new", created_at="t", updated_at="t",
                config_json="{}",
            )
        )  # fmt: skip
        conn.execute(
            dialogues.insert().values(
                run_id="gen-x", system="new-model", benchmark="chatanime", character="luffy",
                scenario=2, question_r1=luffy2.q1, answer_r1="嘻嘻嘻！交给我吧！",
                question_r2=luffy2.q2, answer_r2="吃肉去！", sources_json="{}", created_at="t",
            )
        )  # fmt: skip
    extended = with_stored_systems(corpus, store, ["new-model", "human"])
    job = make_job(extended, systems=("new-model",), scenarios=(2,))
    report = await run(job, extended, store)
    assert report.runs[0].counts.scored == 1
    assert count(store, judgments, judgments.c.system == "new-model") == 1


def test_dry_run_estimates_without_calling(corpus: Corpus, fake_server: FakeServer) -> None:
    prices = PriceTable({"fake/judge": Price(input=2.0, output=8.0)})
    plan = dry_run(make_job(corpus, mode="pointwise-round"), corpus, prices)
    (estimate,) = plan.estimates
    assert plan.items == 10 and plan.excluded_anchors == 2
    assert estimate.calls == 20 and estimate.input_tokens > 20 * 2000
    assert estimate.usd is not None and estimate.usd > 0
    assert requests(fake_server) == 0


async def test_without_rubric_examples_the_server_gets_no_examples_and_a_new_run(
    corpus: Corpus, store: Store, fake_server: FakeServer
) -> None:
    # fake/echo replies with the prompt it received; with no repairs that reply is stored
    # as the judgment's raw text, so the rows show exactly what reached the server.
    echo: dict[str, Any] = {"judges": ("fake/echo",), "repairs": 0}
    full = await run(make_job(corpus, **echo), corpus, store)
    bare = await run(make_job(corpus, rubric_examples=False, **echo), corpus, store)
    assert full.selection == bare.selection and bare.selection.excluded_anchors == 2
    assert requests(fake_server) == 2 * len(full.selection.dialogues) == 20
    prompt = make_job(corpus).prompt()
    examples = [ex.text for _, ex in prompt.rubric.examples()]
    anchors = list(prompt.rubric.metric("fluency").anchors.values())
    with store.engine.connect() as conn:
        rows = conn.execute(select(judgments)).all()
        found = conn.execute(select(runs.c.id, runs.c.config_json)).all()
        sent = dict(
            conn.execute(
                select(judgments.c.rubric_ref, func.avg(calls.c.input_tokens))
                .join(judgments, calls.c.run_id == judgments.c.run_id)
                .group_by(judgments.c.rubric_ref)
            ).all()
        )
    assert len({r.id for r in rows}) == 20
    by_ref = {ref: [r for r in rows if r.rubric_ref == ref] for ref in {r.rubric_ref for r in rows}}
    assert set(by_ref) == {prompt.rubric.ref, f"{prompt.rubric.ref}:no-examples"}
    with_examples, without = by_ref[prompt.rubric.ref], by_ref[f"{prompt.rubric.ref}:no-examples"]
    assert all(all(t in r.raw_text for t in examples) for r in with_examples)
    assert not any(t in r.raw_text for r in without for t in examples)
    assert all(all(t in r.raw_text for t in anchors) for r in without)
    assert sent[prompt.rubric.ref] - sent[f"{prompt.rubric.ref}:no-examples"] > 3000
    configs = {run_id: json.loads(config) for run_id, config in found}
    assert {r.run_id for r in with_examples} != {r.run_id for r in without}
    (bare_config,) = (configs[r] for r in {r.run_id for r in without})
    assert bare_config["rubric"].endswith(":no-examples") and not bare_config["rubric_examples"]
    (full_config,) = (configs[r] for r in {r.run_id for r in with_examples})
    assert full_config["rubric"] == prompt.rubric.ref and full_config["rubric_examples"]


def test_the_default_run_identity_is_unchanged_by_the_option(corpus: Corpus) -> None:
    job = make_job(corpus)
    spec = run_spec(job.judge("fake/judge"), corpus.benchmark)
    keys = {"judge", "mode", "prompt", "repair", "rubric", "benchmark", "params"}
    assert set(spec.identity) == keys and spec.identity["rubric"] == job.prompt().rubric.ref
    bare = replace(job, rubric_examples=False)
    assert run_spec(bare.judge("fake/judge"), corpus.benchmark).id != spec.id


def test_dry_run_without_rubric_examples_estimates_fewer_tokens(corpus: Corpus) -> None:
    prices = PriceTable({"fake/judge": Price(input=2.0, output=8.0)})
    (full,) = dry_run(make_job(corpus), corpus, prices).estimates
    (bare,) = dry_run(make_job(corpus, rubric_examples=False), corpus, prices).estimates
    assert full.calls == bare.calls == 10
    assert full.input_tokens - bare.input_tokens > 10 * 3000


KILL_SCRIPT = """
import sys
from pathlib import Path
from chatanime.backends.registry import get_model
from chatanime.corpus import load_corpus
from chatanime.judge.job import JudgeJob, judge
from chatanime.runner import RunOptions
from chatanime.store import open_store

url, db, data = sys.argv[1:4]
corpus = load_corpus(Path(data), download=False)
job = JudgeJob(judges=("fake/judge",), benchmark=corpus.benchmark, systems=("human", "gpt-4.1"),
               characters=("naruto",), scenarios=tuple(range(2, 22)))
report = judge(job, corpus, open_store(db), models=lambda n: get_model(n, base_url=url),
               options=RunOptions(concurrency=4, progress=False))
print("done", report.runs[0].counts.scored)
"""


def test_kill_minus_9_then_rerun_repeats_and_duplicates_nothing(
    tmp_path: Path, release_dir: Path, fake_server_factory: Callable[..., FakeServer]
) -> None:
    script, db = tmp_path / "judge.py", tmp_path / "kill.db"
    script.write_text(KILL_SCRIPT, encoding="utf-8")
    env = script_env()
    srv = fake_server_factory(latency_ms=100)
    args = [sys.executable, str(script), srv.base_url, str(db), str(release_dir)]
    kill_after_rows(args, env, db, "judgments")
    at_kill = wait_idle(srv)
    stored_calls, stored = count_rows(db, "calls"), count_rows(db, "judgments")
    assert 5 <= stored < 40
    assert at_kill["requests"] - stored_calls <= 4  # at most one lost call per worker
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
    after = wait_idle(srv)
    assert "done 40" in done.stdout
    assert after["requests"] - at_kill["requests"] == 40 - stored_calls
    assert count_rows(db, "judgments") == 40 and count_rows(db, "scores") == 40 * 18
