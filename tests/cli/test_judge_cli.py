"""``chatanime judge`` end to end against the fake server (CliRunner, real HTTP)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner, Result

import chatanime.backends.fake_judges  # noqa: F401  (registers the fake judges)
from chatanime.backends.fake_server import FakeServer
from chatanime.cli import judge as judge_cli
from chatanime.judge.prompt import JudgePrompt
from chatanime.judge.rubric import load_rubric
from chatanime.judge.settings import JudgeSettings
from chatanime.store import open_store
from chatanime.store.schema import judgments, scores


@pytest.fixture
def app() -> typer.Typer:
    root = typer.Typer()

    @root.command("version")
    def version() -> None:  # a second command keeps the root a group, as in chatanime
        typer.echo("0")

    judge_cli.register(root)
    return root


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "cli.db")


def invoke(app: typer.Typer, *args: str) -> Result:
    return CliRunner().invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "200"})


def base(release_dir: Path, db: str, *judges: str) -> list[str]:
    args = ["judge"]
    for model in judges:
        args += ["--judge", model]
    return [*args, "--data", str(release_dir), "--store", db, "--no-progress"]


def stored(db: str) -> tuple[list[Any], list[Any]]:
    store = open_store(db)
    try:
        with store.engine.connect() as conn:
            return conn.execute(select(judgments)).all(), conn.execute(select(scores)).all()
    finally:
        store.dispose()


SUBSET = ["--systems", "human,gpt-4.1", "--characters", "luffy", "--scenarios", "1-4"]


def test_judges_a_subset_end_to_end_and_prints_bias_checks(
    app: typer.Typer, release_dir: Path, db: str, fake_server: FakeServer
) -> None:
    result = invoke(app, *base(release_dir, db, "fake/judge", "fake/judge-length"), *SUBSET)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "6 items selected (2 anchor dialogues excluded)" in out
    for part in ("judges (items)", "ensemble", "bias checks", "length correlation", "overall"):
        assert part in out, part
    rows, score_rows = stored(db)
    assert len(rows) == 12 and len(score_rows) == 12 * 18
    prompt, rubric = JudgePrompt.load("zh"), load_rubric("zh")
    assert {r.judge_model for r in rows} == {"fake/judge", "fake/judge-length"}
    assert {r.prompt_ref for r in rows} == {prompt.ref}
    assert prompt.sha256[:12] in prompt.ref
    assert {r.rubric_ref for r in rows} == {rubric.ref} and f"@v{rubric.version}#" in rubric.ref
    assert {r.status for r in rows} == {"scored"}
    sent = fake_server.stats()["requests"]
    again = invoke(app, *base(release_dir, db, "fake/judge", "fake/judge-length"), *SUBSET)
    assert again.exit_code == 0 and fake_server.stats()["requests"] == sent == 12
    assert len(stored(db)[0]) == 12


def test_unscored_items_are_counted_not_failed(
    app: typer.Typer, release_dir: Path, db: str, fake_server: FakeServer
) -> None:
    args = [*base(release_dir, db, "fake/judge-garbage"), *SUBSET, "--repairs", "0"]
    result = invoke(app, *args, "--limit", "2")
    assert result.exit_code == 0, result.output
    assert "no JSON object" in result.output
    rows, score_rows = stored(db)
    assert [r.status for r in rows] == ["unscored", "unscored"] and score_rows == []
    assert all(r.raw_text for r in rows)


def test_english_prompt_and_per_round_mode(
    app: typer.Typer, release_dir: Path, db: str, fake_server: FakeServer
) -> None:
    args = [*base(release_dir, db, "fake/judge"), *SUBSET, "--limit", "2"]
    result = invoke(app, *args, "--language", "en", "--mode", "pointwise-round")
    assert result.exit_code == 0, result.output
    rows, _ = stored(db)
    assert {(r.mode, r.prompt_ref.split("#")[0]) for r in rows} == {
        ("pointwise-round", "judge.en@v1")
    }
    assert fake_server.stats()["requests"] == 4


def test_include_anchors_judges_them(
    app: typer.Typer, release_dir: Path, db: str, fake_server: FakeServer
) -> None:
    args = [*base(release_dir, db, "fake/judge"), *SUBSET, "--include-anchors"]
    assert invoke(app, *args).exit_code == 0
    assert 1 in {r.scenario for r in stored(db)[0]}


def test_diversity_mode(
    app: typer.Typer, release_dir: Path, db: str, fake_server: FakeServer
) -> None:
    args = [*base(release_dir, db, "fake/judge"), "--mode", "diversity"]
    result = invoke(app, *args, "--systems", "human,gpt-4.1", "--characters", "luffy,levi")
    assert result.exit_code == 0, result.output
    assert "LLM-judged diversity" in result.output
    rows, score_rows = stored(db)
    assert len(rows) == 4 and {(r.mode, r.scenario) for r in rows} == {("diversity", 0)}
    assert {(s.round, s.metric) for s in score_rows} == {(0, "diversity")}


def test_no_rubric_examples_flag_sends_no_examples_and_is_its_own_source(
    app: typer.Typer, release_dir: Path, db: str, fake_server: FakeServer
) -> None:
    # fake/echo's reply is the prompt the server received, stored as the raw text.
    args = [*base(release_dir, db, "fake/echo"), *SUBSET, "--limit", "2", "--repairs", "0"]
    bare = invoke(app, *args, "--no-rubric-examples")
    assert bare.exit_code == 0, bare.output
    rubric = load_rubric("zh")
    assert f"rubric {rubric.ref}:no-examples" in bare.output
    assert "2 items selected (2 anchor dialogues excluded)" in bare.output
    examples = [ex.text for _, ex in rubric.examples()]
    rows, _ = stored(db)
    assert len(rows) == 2 and {r.rubric_ref for r in rows} == {f"{rubric.ref}:no-examples"}
    assert not any(text in r.raw_text for r in rows for text in examples)
    full = invoke(app, *args, "--rubric-examples")
    assert full.exit_code == 0 and f"rubric {rubric.ref}\n" in full.output
    rows, _ = stored(db)
    assert len(rows) == 4 and len({r.run_id for r in rows}) == 2
    shown = [r for r in rows if r.rubric_ref == rubric.ref]
    assert len(shown) == 2 and all(text in r.raw_text for r in shown for text in examples)
    assert fake_server.stats()["requests"] == 4


def test_means_and_bias_checks_read_only_the_rubric_as_shown(
    app: typer.Typer, release_dir: Path, db: str, fake_server: FakeServer
) -> None:
    args = [*base(release_dir, db, "fake/judge"), *SUBSET, "--limit", "2"]
    number_cell = re.compile(r"│ +-?\d\.\d\d │")  # a mean or a correlation in a table
    full = invoke(app, *args)
    assert full.exit_code == 0 and number_cell.search(full.output)
    fake_server.script("fake/judge", [{"text": "not json"}] * 2)
    bare = invoke(app, *args, "--no-rubric-examples", "--repairs", "0")
    assert bare.exit_code == 0, bare.output
    # this run scored nothing; the scores of the run with examples are not mixed in
    assert "2/2 (100%)" in bare.output and not number_cell.search(bare.output)


def test_dry_run_calls_nothing(
    app: typer.Typer, release_dir: Path, db: str, fake_server: FakeServer
) -> None:
    result = invoke(app, *base(release_dir, db, "fake/judge"), *SUBSET, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "dry run: 6 items (2 anchors excluded)" in result.output
    assert fake_server.stats()["requests"] == 0 and stored(db)[0] == []


def test_usage_errors(app: typer.Typer, release_dir: Path, db: str) -> None:
    missing = CliRunner().invoke(app, ["judge", "--data", str(release_dir)])
    assert missing.exit_code == 2 and "--judge" in missing.output
    mode = CliRunner().invoke(app, ["judge", "--judge", "fake/judge", "--mode", "bogus"])
    assert mode.exit_code == 2 and "pointwise" in mode.output


@pytest.fixture
def extra_subcommand() -> Iterator[None]:
    """A sub-command added the way another area would add ``judge audit``."""

    @judge_cli.judge_app.command("probe")
    def probe(name: str = "x") -> None:
        typer.echo(f"probe {name}")

    yield
    judge_cli.judge_app.registered_commands.pop()


def test_sub_commands_of_judge_run_without_judging(
    app: typer.Typer, extra_subcommand: None
) -> None:
    result = CliRunner().invoke(app, ["judge", "probe", "--name", "audit"])
    assert result.exit_code == 0 and result.output.strip() == "probe audit"


def test_modes_can_be_registered_by_other_areas(
    app: typer.Typer, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[JudgeSettings] = []

    def handler(opts: JudgeSettings) -> int:
        seen.append(opts)
        return 0

    monkeypatch.setitem(judge_cli.MODES, "pairwise-vs-fans", handler)
    result = CliRunner().invoke(
        app, ["judge", "--judge", "fake/a", "--judge", "fake/b", "--mode", "pairwise-vs-fans"]
    )
    assert result.exit_code == 0, result.output
    assert seen[0].judges == ("fake/a", "fake/b") and seen[0].params.temperature == 0.0
