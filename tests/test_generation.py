"""The generate job end to end against the fake server: rows, resume, kill -9, export, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from chatanime.backends.base import GenerationParams
from chatanime.backends.fake_server import FakeServer
from chatanime.backends.registry import get_model
from chatanime.backends.retry import RetryPolicy
from chatanime.benchmark import load_benchmark
from chatanime.cli.generate import parse_ids, register
from chatanime.dataset import load_system_file
from chatanime.errors import DataError
from chatanime.generation import (
    GenerationJob,
    GenerationReport,
    dry_run,
    export_system,
    generate_async,
    run_spec,
)
from chatanime.pricing import Price, PriceTable
from chatanime.prompts import load_prompt
from chatanime.runner import RunOptions
from chatanime.store import Store, open_store
from chatanime.store.schema import calls, dialogues, runs, units
from tests.kill_support import count_rows, kill_after_rows, script_env, wait_idle
from tests.plugins.store import table_rows as rows


@pytest.fixture
def store(any_store: Store) -> Store:
    """These rows must hold on both stores the product supports (SQLite, PostgreSQL)."""
    return any_store


BENCH = load_benchmark("chatanime")
PRICES = PriceTable(
    {"fake/actor": Price(input=1.0, output=2.0), "fake/user-sim": Price(input=0.5, output=0.5)}
)


@pytest.fixture
def server(fake_server: FakeServer) -> FakeServer:
    """The shared fake server of tests/plugins/fake.py (reset for each test)."""
    return fake_server


def job(**overrides: Any) -> GenerationJob:
    values: dict[str, Any] = {
        "name": "my-model",
        "actor": "fake/actor",
        "user_sim": "fake/user-sim",
        "benchmark": BENCH,
        "characters": ("luffy",),
        "scenarios": (1, 2, 3, 4),
    }
    return GenerationJob(**{**values, **overrides})


async def generate_with(
    store: Store, server: FakeServer, the_job: GenerationJob, **kwargs: Any
) -> GenerationReport:
    options = RunOptions(
        progress=False,
        concurrency=kwargs.pop("concurrency", 4),
        retry=RetryPolicy(base_delay=0.01, max_delay=0.05),
    )
    return await generate_async(
        the_job,
        store,
        models=lambda n: get_model(n, base_url=server.base_url),
        options=options,
        prices=PRICES,
        **kwargs,
    )


async def test_small_run_stores_dialogues_calls_and_config(
    store: Store, server: FakeServer
) -> None:
    report = await generate_with(store, server, job())
    assert (report.summary.done, report.summary.failed, report.selected) == (4, 0, 4)
    stored = rows(store, dialogues)
    assert sorted((d.character, d.scenario) for d in stored) == [("luffy", i) for i in (1, 2, 3, 4)]
    for d in stored:
        assert d.system == "my-model" and d.benchmark == "chatanime"
        assert d.question_r1 == BENCH.scenario(d.scenario).question_r1
        assert d.answer_r1 and d.question_r2 and d.answer_r2
        assert json.loads(d.sources_json)["q2"] == "user-sim:fake/user-sim"
    made = rows(store, calls)
    assert sorted(c.role for c in made).count("actor") == 8 and len(made) == 12
    for c in made:
        assert c.input_tokens > 0 and c.output_tokens > 0 and c.latency_s > 0
        assert c.cost_usd is not None and c.cost_usd > 0
    (run_row,) = rows(store, runs)
    config = json.loads(run_row.config_json)
    roleplay, user_sim = load_prompt("roleplay", "zh"), load_prompt("user-sim", "zh")
    retry = load_prompt("user-sim-retry", "zh")
    assert config["prompts"] == {
        "actor": roleplay.ref,
        "user_sim": user_sim.ref,
        "user_sim_retry": retry.ref,
    }
    assert config["prompt_sha256"] == {
        "actor": roleplay.sha256,
        "user_sim": user_sim.sha256,
        "user_sim_retry": retry.sha256,
    }
    assert config["benchmark"] == {"name": "chatanime", "sha256": BENCH.sha256}
    assert config["models"] == {"actor": "fake/actor", "user_sim": "fake/user-sim"}
    assert "chatanime" in config and "params" in config
    assert config["concurrency"] == 4 and config["rate_limits"] == {}
    assert report.summary.cost_usd == pytest.approx(sum(c.cost_usd for c in made))
    assert report.mean_user_turn_length is not None and 60 <= report.mean_user_turn_length <= 150


async def test_rerun_calls_nothing(store: Store, server: FakeServer) -> None:
    await generate_with(store, server, job())
    before = server.stats()["requests"]
    again = await generate_with(store, server, job())
    assert server.stats()["requests"] == before
    assert (again.summary.skipped, again.summary.calls) == (4, 0)
    assert len(rows(store, dialogues)) == 4


async def test_card_variant_records_card_hashes(store: Store, server: FakeServer) -> None:
    report = await generate_with(store, server, job(card=True, scenarios=(1,)))
    assert report.summary.done == 1
    config = json.loads(rows(store, runs)[0].config_json)
    assert config["card_sha256"]["luffy"] == BENCH.character("luffy").sha256
    assert config["prompts"]["actor"] == load_prompt("roleplay-card", "zh").ref
    assert run_spec(job(card=True)).id != run_spec(job()).id


async def test_simulator_speaking_as_the_character_is_a_recorded_failure(
    store: Store, server: FakeServer
) -> None:
    bad = "蒙奇·D·路飞：别担心！我当初学霸气的时候也控制不好，只要坚持练习就一定能行！你相信我吗？"
    server.script("fake/user-sim", [{"text": bad}] * 3)
    report = await generate_with(store, server, job(scenarios=(1, 2, 3)), concurrency=1)
    s = report.summary
    assert (s.done, s.failed) == (2, 1)
    ((unit_id, error),) = s.errors.items()
    assert unit_id.endswith(":luffy:1") and "3 attempts" in error and "speaker label" in error
    failed = [u for u in rows(store, units) if u.status == "failed"]
    assert len(failed) == 1 and failed[0].error == error
    steps = sorted(c.step for c in rows(store, calls) if c.unit_id == unit_id)
    assert steps == ["actor1#1", "usersim#1", "usersim#2", "usersim#3"]
    assert len(rows(store, dialogues)) == 2
    # a rerun replays the rejected attempts (no new request) and fails the same way
    before = server.stats()["requests"]
    again = await generate_with(store, server, job(scenarios=(1, 2, 3)))
    assert again.summary.failed == 1 and server.stats()["requests"] == before
    # one more attempt is a new step of the same run, and it succeeds
    more = await generate_with(store, server, job(scenarios=(1, 2, 3), user_sim_attempts=4))
    assert more.summary.done == 1 and len(rows(store, dialogues)) == 3


async def test_answers_over_the_limit_are_counted(store: Store, server: FakeServer) -> None:
    server.script("fake/actor", [{"text": "好" * 170}])
    report = await generate_with(store, server, job(scenarios=(1, 2)), concurrency=1)
    assert report.over_limit == {1: 1, 2: 0}
    assert any(len(d.answer_r1) == 170 for d in rows(store, dialogues))


async def test_same_name_for_a_different_run_is_refused(store: Store, server: FakeServer) -> None:
    await generate_with(store, server, job(scenarios=(1,)))
    other = job(scenarios=(1,), params=GenerationParams(temperature=0.3))
    with pytest.raises(DataError, match="choose another --name"):
        await generate_with(store, server, other)


async def test_export_round_trips_through_the_dataset_loader(
    store: Store, server: FakeServer, tmp_path: Path
) -> None:
    report = await generate_with(store, server, job(), out_dir=tmp_path / "out")
    assert report.exported == tmp_path / "out" / "my-model.json"
    raw = json.loads(report.exported.read_text(encoding="utf-8"))
    assert list(raw) == [BENCH.character("luffy").key]
    assert [r["dialog_id"] for r in raw[BENCH.character("luffy").key]] == [1, 2, 3, 4]
    slugs = {c.key: c.slug for c in BENCH.characters}
    loaded = load_system_file(report.exported, slugs)
    stored = {(d.character, d.scenario): d for d in rows(store, dialogues)}
    assert len(loaded) == 4
    for d in loaded:
        row = stored[(d.character, d.scenario)]
        assert (d.system, d.a1, d.q2, d.a2) == (
            "my-model",
            row.answer_r1,
            row.question_r2,
            row.answer_r2,
        )
    with pytest.raises(DataError):
        export_system(store, "nobody", BENCH, tmp_path)


def test_dry_run_counts_calls_and_prices() -> None:
    plan = dry_run(job(characters=("luffy", "naruto"), scenarios=None), PRICES)
    assert plan.units == 120
    assert [(role, e.model, e.calls) for role, e in plan.estimates] == [
        ("actor (round 1)", "fake/actor", 120),
        ("user simulator", "fake/user-sim", 120),
        ("actor (round 2)", "fake/actor", 120),
    ]
    r1, _, r2 = (e for _, e in plan.estimates)
    assert r2.input_tokens > r1.input_tokens > 0 and r1.usd is not None and r1.usd > 0
    assert plan.total_usd == pytest.approx(sum(e.usd or 0 for _, e in plan.estimates))
    unpriced = dry_run(job(actor="openai/some-new-model"), PRICES)
    assert unpriced.total_usd is None and unpriced.unpriced == ["openai/some-new-model"]


def test_parse_ids() -> None:
    assert parse_ids("1-5,9") == (1, 2, 3, 4, 5, 9)
    assert parse_ids("3, 3,2") == (3, 2)
    for bad in ("x", "5-1", ""):
        with pytest.raises(DataError):
            parse_ids(bad)


def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def root() -> None:
        """Test root (keeps ``generate`` a sub-command)."""

    return app


def test_cli_generates_and_exports(server: FakeServer, tmp_path: Path) -> None:
    db, out = tmp_path / "cli.db", tmp_path / "out"
    args = [
        "generate",
        "--model",
        "fake/actor",
        "--user-sim",
        "fake/user-sim",
        "--name",
        "cli-sys",
        "--characters",
        "luffy,naruto",
        "--scenarios",
        "1-3",
        "--limit",
        "4",
        "--store",
        str(db),
        "--base-url",
        server.base_url,
        "--out",
        str(out),
        "--no-progress",
        "--rpm",
        "6000",
        "--concurrency",
        "3",
    ]
    result = CliRunner().invoke(cli(), args)
    assert result.exit_code == 0, result.output
    assert "4 generated now" in result.output and "exported" in result.output
    data = json.loads((out / "cli-sys.json").read_text(encoding="utf-8"))
    assert sum(len(v) for v in data.values()) == 4
    again = CliRunner().invoke(cli(), args)
    assert again.exit_code == 0 and "4 already done" in again.output
    st = open_store(str(db))
    (run_row,) = rows(st, runs)
    st.dispose()
    config = json.loads(run_row.config_json)
    assert config["rate_limits"] == {"*": {"rpm": 6000.0, "tpm": None}}
    assert config["concurrency"] == 3 and config["system"] == "cli-sys"


def test_cli_dry_run_names_unpriced_models() -> None:
    args = [
        "generate",
        "--model",
        "openai/some-new-model",
        "--user-sim",
        "openai/gpt-4.1",
        "--name",
        "x",
        "--limit",
        "10",
        "--dry-run",
    ]
    result = CliRunner().invoke(cli(), args)
    assert result.exit_code == 0, result.output
    assert "10 dialogues" in result.output and "no price" in result.output
    assert load_prompt("roleplay", "zh").ref in result.output
    assert "openai/some-new-model has no price" in result.output


KILL_SCRIPT = """
import sys
from chatanime.backends.registry import get_model
from chatanime.benchmark import load_benchmark
from chatanime.generation import GenerationJob, generate
from chatanime.runner import RunOptions
from chatanime.store import open_store

url, db = sys.argv[1], sys.argv[2]
job = GenerationJob(name="killed", actor="fake/actor", user_sim="fake/user-sim",
                    benchmark=load_benchmark("chatanime"), characters=("luffy",),
                    scenarios=tuple(range(1, 41)))
report = generate(job, open_store(db), models=lambda n: get_model(n, base_url=url),
                  options=RunOptions(concurrency=4, progress=False))
print("done", report.summary.done, report.summary.failed)
"""


def test_kill_minus_9_then_rerun_loses_and_repeats_nothing(
    tmp_path: Path, fake_server_factory: Callable[..., FakeServer]
) -> None:
    script, db = tmp_path / "gen.py", tmp_path / "kill.db"
    script.write_text(KILL_SCRIPT, encoding="utf-8")
    needed, concurrency = 40 * 3, 4
    env = script_env()
    srv = fake_server_factory(latency_ms=100)
    args = [sys.executable, str(script), srv.base_url, str(db)]
    kill_after_rows(args, env, db, dialogues.name)
    at_kill = wait_idle(srv)
    stored_calls, stored_dialogues = count_rows(db, calls.name), count_rows(db, dialogues.name)
    assert 5 <= stored_dialogues < 40
    # only calls whose answers were not yet stored are lost, at most one per worker
    assert at_kill["requests"] - stored_calls <= concurrency
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
    after = wait_idle(srv)
    assert "done" in done.stdout
    # the rerun asked exactly for the calls that were not stored: no finished call repeated
    assert after["requests"] - at_kill["requests"] == needed - stored_calls
    assert after["repeated_ok"] <= at_kill["requests"] - stored_calls
    st = open_store(str(db))
    with st.engine.connect() as conn:
        cells = conn.execute(select(dialogues.c.character, dialogues.c.scenario)).all()
    st.dispose()
    assert sorted(cells) == [("luffy", i) for i in range(1, 41)]
    assert count_rows(db, calls.name) == needed


def test_cli_exits_1_when_dialogues_failed(server: FakeServer, tmp_path: Path) -> None:
    server.script("fake/user-sim", [{"text": "好的"}] * 2)
    args = [
        "generate", "--model", "fake/actor", "--user-sim", "fake/user-sim", "--name", "f",
        "--limit", "1", "--user-sim-attempts", "2", "--store", str(tmp_path / "f.db"),
        "--base-url", server.base_url, "--no-progress",
    ]  # fmt: skip
    result = CliRunner().invoke(cli(), args)
    assert result.exit_code == 1, result.output
    assert "1 failed" in result.output and "length 2 < 30" in result.output
    assert "asks no question" in result.output
