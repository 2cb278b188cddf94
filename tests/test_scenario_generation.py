"""Scenario generation: grid balance, runs on the fake server, dry run, target and output.

The checks and near-duplicate removal have their own tests (test_scenario_checks.py,
test_scenario_duplicates.py); here they are seen through the runs that use them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

import chatanime.backends.fake_scenarios  # noqa: F401  (registers fake/scenario-writer*)
from chatanime.backends.base import GenerationParams
from chatanime.backends.fake_scenarios import BAD_KINDS
from chatanime.backends.fake_server import FakeServer
from chatanime.backends.registry import get_model
from chatanime.backends.retry import RetryPolicy
from chatanime.benchmark import load_benchmark
from chatanime.characters import get_character
from chatanime.errors import DataError
from chatanime.pricing import Price, PriceTable
from chatanime.runner import RunOptions
from chatanime.scenario_checks import Candidate, ScenarioProblem, ScenarioRules, check_scenario
from chatanime.scenario_generation import (
    RejectedAttempt,
    ScenarioJob,
    ScenarioWriter,
    dry_run,
    generate_scenarios_async,
    resolve_target,
    run_spec,
)
from chatanime.scenario_grid import GridBalance, GridCell, ScenarioGrid, build_grid
from chatanime.scenario_output import ScenarioReport, write_output
from chatanime.scenarios import Emotion, Persona
from chatanime.store import Store
from chatanime.store.schema import calls, units
from tests.plugins.store import table_rows as rows


@pytest.fixture
def store(any_store: Store) -> Store:
    """These rows must hold on both stores the product supports (SQLite, PostgreSQL)."""
    return any_store


P = ScenarioProblem
EXAMPLE = Path(__file__).resolve().parent.parent / (
    "src/chatanime/data/benchmarks/examples/original-character"
)
PRICES = PriceTable({"fake/scenario-writer*": Price(input=1.0, output=2.0)})
LUFFY = get_character("luffy")
EN_RULES = ScenarioRules.for_language("en")
ZH_EVENT = "用户在图书馆复习时发现期末考试提前了一周，很担心复习不完。"
ZH_LINE = "唉，期末考试突然提前了一周，我还有三门课没复习，你说我该怎么办呀？"


# ---------------------------------------------------------------- grid and balance


def test_grid_cells_in_order_and_default_locations() -> None:
    grid = ScenarioGrid.default("zh")
    assert len(grid.cells()) == 4 * 9 * 8
    small = ScenarioGrid.default(
        "en", personas=["freelancer", "student"], emotions=["joy"], locations=["a", "b"], per_cell=2
    )
    keys = [(c.persona.value, c.location, c.variant) for c in small.cells()]
    assert keys == [
        ("freelancer", "a", 1),
        ("freelancer", "a", 2),
        ("freelancer", "b", 1),
        ("freelancer", "b", 2),
        ("student", "a", 1),
        ("student", "a", 2),
        ("student", "b", 1),
        ("student", "b", 2),
    ]
    assert small.target_per_pair == 4


def test_grid_file_with_overrides_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "grid.yaml"
    path.write_text("personas: [student]\nlocations: [图书馆, 食堂]\nper_cell: 3\n", "utf-8")
    grid = build_grid("zh", path, per_cell=2, emotions=None)
    assert (grid.personas, len(grid.emotions), grid.locations, grid.per_cell) == (
        (Persona.STUDENT,),
        9,
        ("图书馆", "食堂"),
        2,
    )
    path.write_text("personas: [pirate]\n", "utf-8")
    with pytest.raises(DataError, match=r"grid.yaml: personas\[0\]"):
        build_grid("zh", path)
    with pytest.raises(DataError, match="locations"):
        build_grid("zh", locations=[])


def test_balance_counts_empty_and_underfilled_cells() -> None:
    grid = ScenarioGrid.default(
        "zh", personas=["student", "freelancer"], emotions=["joy", "anger"], locations=["x", "y"]
    )

    def cell(p: str, e: str, loc: str) -> GridCell:
        return GridCell(persona=Persona(p), emotion=Emotion(e), location=loc, variant=1)

    kept = [cell("student", "joy", "x"), cell("student", "joy", "y"), cell("student", "anger", "x")]
    balance = GridBalance.of(grid, kept)
    assert balance.target == 2 and balance.total == 3
    assert balance.count(Persona.STUDENT, Emotion.JOY) == 2
    assert balance.underfilled() == [(Persona.STUDENT, Emotion.ANGER)]
    assert balance.empty() == [
        (Persona.FREELANCER, Emotion.JOY),
        (Persona.FREELANCER, Emotion.ANGER),
    ]
    assert balance.locations == {"x": 2, "y": 1}


# ---------------------------------------------------------------- runs on the fake server


def small_job(language: str = "en", **overrides: Any) -> ScenarioJob:
    bench = load_benchmark(EXAMPLE) if language == "en" else None
    defaults = ("office", "café") if language == "en" else ("图书馆", "咖啡馆")
    grid = ScenarioGrid.default(
        language,
        personas=["student", "self-employed"],
        emotions=["joy", "worry"],
        locations=defaults,
        per_cell=overrides.pop("per_cell", 2),
    )
    values: dict[str, Any] = {
        "model": "fake/scenario-writer",
        "language": language,
        "grid": grid,
        "characters": bench.characters if bench else (LUFFY,),
        "params": GenerationParams(seed=1),
    }
    return ScenarioJob(**{**values, **overrides})


async def run(store: Store, server: FakeServer, job: ScenarioJob) -> ScenarioReport:
    options = RunOptions(
        progress=False, concurrency=4, retry=RetryPolicy(base_delay=0.01, max_delay=0.05)
    )
    return await generate_scenarios_async(
        job,
        store,
        models=lambda n: get_model(n, base_url=server.base_url),
        options=options,
        prices=PRICES,
    )


async def test_english_grid_becomes_a_loadable_benchmark(
    store: Store, fake_server: FakeServer, tmp_path: Path
) -> None:
    job = small_job("en")
    report = await run(store, fake_server, job)
    s = report.summary
    assert (s.total, s.done, s.failed, s.calls) == (16, 16, 0, 16)
    assert s.cost_usd > 0 and all(c.cost_usd > 0 for c in rows(store, calls))
    assert report.unfilled == () and report.unfinished == 0
    kept = len(report.scenarios)
    assert kept + len(report.near_duplicates) == 16 and kept >= 12
    assert [sc.id for sc in report.scenarios] == list(range(1, kept + 1))
    for scenario in report.scenarios:
        candidate = Candidate(daily_event=scenario.daily_event, question_r1=scenario.question_r1)
        assert check_scenario(candidate, rules=EN_RULES, names=job.names).ok
    assert report.balance.total == kept
    out = write_output(
        tmp_path / "my-bench", report.scenarios, language="en", characters=job.characters
    )
    bench = load_benchmark(out)
    assert (bench.name, bench.language, bench.answer_limit) == ("my-bench", "en", 100)
    assert [c.slug for c in bench.characters] == ["hana", "madoka"]
    assert (out / "characters/hana.yaml").is_file() and not (
        out / "characters/madoka.yaml"
    ).exists()
    assert bench.character("hana") == job.characters[0]
    assert bench.scenarios == report.scenarios
    personas = {(sc.persona, sc.emotion) for sc in bench.scenarios}
    assert personas == {(p, e) for p in job.grid.personas for e in job.grid.emotions}


async def test_rerun_makes_no_requests_and_gives_the_same_benchmark(
    store: Store, fake_server: FakeServer
) -> None:
    first = await run(store, fake_server, small_job("zh"))
    requests = fake_server.stats()["requests"]
    again = await run(store, fake_server, small_job("zh"))
    assert fake_server.stats()["requests"] == requests
    assert (again.summary.skipped, again.summary.calls) == (16, 0)
    assert again.scenarios == first.scenarios and first.scenarios
    assert fake_server.stats()["repeated_ok"] == 0


async def test_larger_grid_only_writes_the_new_cells(store: Store, fake_server: FakeServer) -> None:
    await run(store, fake_server, small_job("zh", per_cell=1))
    assert fake_server.stats()["requests"] == 8
    report = await run(store, fake_server, small_job("zh", per_cell=2))
    assert fake_server.stats()["requests"] == 16
    assert (report.summary.skipped, report.summary.done) == (8, 8)
    assert len(rows(store, units)) == 16


async def test_changing_the_checks_is_a_new_run(store: Store, fake_server: FakeServer) -> None:
    job = small_job("zh")
    stricter = small_job("zh", rules=ScenarioRules.for_language("zh", question_min=30))
    assert run_spec(job).id != run_spec(stricter).id
    assert run_spec(job).id == run_spec(small_job("zh", per_cell=5, dedupe_threshold=0.9)).id


PLANTED = {
    "names": P.NAMES_CHARACTER,
    "language": P.WRONG_LANGUAGE,
    "long": P.TOO_LONG,
    "short": P.TOO_SHORT,
    "narration": P.NOT_USER_VOICE,
    "meta": P.META,
    "json": P.UNPARSEABLE,
}


@pytest.mark.parametrize(("kind", "problem"), PLANTED.items())
@pytest.mark.parametrize("language", ["zh", "en"])
async def test_planted_bad_outputs_are_rejected_with_their_reason(
    store: Store, fake_server: FakeServer, kind: str, problem: ScenarioProblem, language: str
) -> None:
    job = small_job(language, model=f"fake/scenario-writer-bad-{kind}", attempts=1, per_cell=1)
    report = await run(store, fake_server, job)
    assert report.scenarios == () and len(report.unfilled) == 8
    assert report.rejections[problem] == 8
    assert report.summary.failed == 0  # a rejection is a value, not a failed unit
    result = next(iter(report.summary.results.values()))
    assert problem in result["rejected"][0]["problems"] and result["rejected"][0]["text"]


async def test_reask_quotes_the_problems_and_fills_the_cell(
    store: Store, fake_server: FakeServer
) -> None:
    job = small_job("zh", model="fake/scenario-writer-bad-names", attempts=2, per_cell=1)
    report = await run(store, fake_server, job)
    assert len(report.scenarios) + len(report.near_duplicates) == 8 and report.unfilled == ()
    assert report.rejections[P.NAMES_CHARACTER] == 8
    made = rows(store, calls)
    assert sorted({c.step for c in made}) == ["write#1", "write#2"] and len(made) == 16
    assert all("路飞" not in sc.question_r1 for sc in report.scenarios)


def test_reask_prompt_carries_reasons_and_the_rejected_answer() -> None:
    writer = ScenarioWriter(small_job("zh"))
    cell = writer.job.grid.cells()[0]
    first = writer.messages(cell)[0].content
    rejected = writer.judge(
        json.dumps({"daily_event": ZH_EVENT, "question_r1": "路飞，" + ZH_LINE}, ensure_ascii=False)
    )
    assert isinstance(rejected, RejectedAttempt)
    again = writer.messages(cell, rejected)[0].content
    assert "不合格" not in first and "学生" in first and "图书馆" in first
    assert again.startswith(first) and "question_r1 names '路飞'" in again and ZH_LINE in again


async def test_repeating_writer_is_deduplicated(store: Store, fake_server: FakeServer) -> None:
    job = small_job("zh", model="fake/scenario-writer-bad-repeat", per_cell=1)
    report = await run(store, fake_server, job)
    # the line differs only by the location: one survives, seven are near-duplicates of it
    assert len(report.scenarios) == 1 and len(report.near_duplicates) == 7
    assert report.rejections == {P.NEAR_DUPLICATE: 7}
    first = report.scenarios[0].question_r1
    assert all(d.similarity >= 0.6 for d in report.near_duplicates)
    assert any(d.of_question == first for d in report.near_duplicates)
    assert report.balance.empty()  # the grid is visibly unbalanced


def test_every_planted_kind_is_tested() -> None:
    assert set(BAD_KINDS) == {*PLANTED, "repeat"}


async def test_model_failure_is_recorded_and_finished_on_rerun(
    store: Store, fake_server: FakeServer
) -> None:
    fake_server.script("fake/scenario-writer", [{"fault": "401"}])
    job = small_job("zh", per_cell=1)
    report = await run(store, fake_server, job)
    assert report.summary.failed == 1 and report.unfinished == 1
    again = await run(store, fake_server, job)
    assert (again.summary.skipped, again.summary.done, again.unfinished) == (7, 1, 0)


def test_dry_run_counts_cells_and_prices_them() -> None:
    plan = dry_run(small_job("en"), PRICES)
    ((role, estimate),) = plan.estimates
    assert (plan.units, estimate.calls, role) == (16, 16, "scenario writer")
    assert estimate.usd is not None and estimate.usd > 0
    assert plan.run_id == run_spec(small_job("en")).id


def test_resolve_target_from_options() -> None:
    assert resolve_target(language="en").characters == load_benchmark("chatanime-en").characters
    example = resolve_target(str(EXAMPLE))
    assert (example.language, example.answer_limit) == ("en", 100)
    cards = resolve_target(
        language="zh", characters=["luffy", str(EXAMPLE / "characters/hana.yaml")]
    )
    assert [c.slug for c in cards.characters] == ["luffy", "hana"]
    with pytest.raises(DataError, match="contradicts"):
        resolve_target(str(EXAMPLE), "zh")


def test_a_card_without_the_target_language_fails_before_any_call(tmp_path: Path) -> None:
    card = yaml.safe_load((EXAMPLE / "characters/hana.yaml").read_text(encoding="utf-8"))
    del card["zh"]
    english_only = tmp_path / "hana-en.yaml"
    english_only.write_text(yaml.safe_dump(card, allow_unicode=True), encoding="utf-8")
    with pytest.raises(DataError, match=r"no `zh:` card block.*hana-en\.yaml"):
        resolve_target(language="zh", characters=[str(english_only)])
    target = resolve_target(language="en", characters=[str(english_only)])
    scenarios = load_benchmark(EXAMPLE).scenarios
    out = write_output(
        tmp_path / "en-bench", scenarios, language="en", characters=target.characters
    )
    written = yaml.safe_load((out / "characters/hana.yaml").read_text(encoding="utf-8"))
    assert "zh" not in written and written["en"] == card["en"]  # no `zh: null` written


def test_write_scenarios_file_and_refuse_to_clobber(tmp_path: Path) -> None:
    bench = load_benchmark(EXAMPLE)
    path = write_output(tmp_path / "s.yaml", bench.scenarios, language="en", header="made by me")
    text = path.read_text("utf-8")
    assert text.startswith("# made by me\n") and "language: en" in text
    single = tmp_path / "bench.yaml"
    single.write_text("name: x\nlanguage: en\ncharacters: [madoka]\nscenarios: s.yaml\n", "utf-8")
    assert load_benchmark(single).scenarios == bench.scenarios
    folder = tmp_path / "My Bench"
    write_output(folder, bench.scenarios, language="en", characters=bench.characters)
    assert load_benchmark(folder).name == "my-bench"
    with pytest.raises(DataError, match="--force"):
        write_output(folder, bench.scenarios, language="en", characters=bench.characters)
    write_output(
        folder, bench.scenarios[:2], language="en", characters=bench.characters, force=True
    )
    assert len(load_benchmark(folder).scenarios) == 2
    with pytest.raises(DataError, match="nothing to write"):
        write_output(tmp_path / "empty.yaml", (), language="en")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
