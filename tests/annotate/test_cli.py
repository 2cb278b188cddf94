"""``chatanime annotate ...`` and ``chatanime agreement`` through typer (a local app)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from chatanime.annotate.ratings import count_ratings, save_ratings, task_metrics
from chatanime.annotate.worklist import annotator_for_token, task_at
from chatanime.cli.annotate import register
from chatanime.errors import DataError
from chatanime.store import open_store

LINK = re.compile(r"^\s+(\w+)\s+(http://annot\.example/a/(\S+))$", re.MULTILINE)


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def _create(cli: typer.Typer, release_dir: Path, store: str) -> dict[str, str]:
    result = CliRunner().invoke(
        cli,
        [
            "annotate",
            "create-study",
            "--name",
            "pilot",
            "--data",
            str(release_dir),
            "--systems",
            "human,deepseek-v3,gpt-4.1",
            "--characters",
            "luffy,漩涡鸣人",
            "--scenarios",
            "1-3",
            "--overlap",
            "2",
            "--annotators",
            "alice,bob,carol",
            "--diversity-sets",
            "1",
            "--diversity-n",
            "3",
            "--store",
            store,
            "--base-url",
            "http://annot.example/",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "24 items, 48 assignments" in result.output
    assert re.search(r"token: \S{30,}", result.output)
    return {m.group(1): m.group(3) for m in LINK.finditer(result.output)}


def test_create_rate_export_and_agreement(
    cli: typer.Typer, release_dir: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    tokens = _create(cli, release_dir, url)
    assert set(tokens) == {"alice", "bob", "carol"}
    store = open_store(url)
    for k, token in enumerate(tokens.values()):
        with store.engine.connect() as conn:
            who = annotator_for_token(conn, token)
            assert who is not None
            tasks = [task_at(conn, who, p) for p in range(1, who.total + 1)]
        for task in tasks:
            assert task is not None
            values = {
                m: 1 + (len(task.item_id) + k + i) % 5
                for i, m in enumerate(task_metrics(task.kind, who.config))
            }
            save_ratings(store.engine, who.id, task.position, task.item_id, values)
    n = count_ratings(store.engine, who.study_id)
    assert n == 2 * (18 * 9 + 6)

    runner = CliRunner()
    out = tmp_path / "r.csv"
    result = runner.invoke(
        cli, ["annotate", "export", "--study", "pilot", "--store", url, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert len(out.read_text(encoding="utf-8").splitlines()) == n + 1
    result = runner.invoke(
        cli, ["annotate", "export", "--study", "pilot", "--store", url, "--format", "jsonl"]
    )
    assert len([json.loads(x) for x in result.output.splitlines()]) == n

    result = runner.invoke(cli, ["agreement", "--study", "pilot", "--store", url, "--n-boot", "30"])
    assert result.exit_code == 0, result.output
    assert "α ordinal" in result.output and "fluency" in result.output
    assert "No scored pointwise judgments" in result.output
    result = runner.invoke(
        cli, ["agreement", "--study", "pilot", "--store", url, "--n-boot", "30", "--json"]
    )
    data = json.loads(result.output)
    assert data["n_ratings"] == n and len(data["agreement"]) == 10
    assert data["agreement"][0]["alpha"]["n"] == 18


def test_links_rotates_tokens(cli: typer.Typer, release_dir: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    old = _create(cli, release_dir, url)
    result = CliRunner().invoke(
        cli,
        [
            "annotate",
            "links",
            "--study",
            "pilot",
            "--annotators",
            "bob",
            "--admin",
            "--store",
            url,
            "--base-url",
            "http://annot.example",
        ],
    )
    assert result.exit_code == 0, result.output
    new = {m.group(1): m.group(3) for m in LINK.finditer(result.output)}
    assert set(new) == {"bob"} and new["bob"] != old["bob"]
    assert "Admin token:" in result.output
    store = open_store(url)
    with store.engine.connect() as conn:
        assert annotator_for_token(conn, old["bob"]) is None
        assert annotator_for_token(conn, new["bob"]) is not None
        assert annotator_for_token(conn, old["alice"]) is not None


def test_unknown_system_is_a_data_error(
    cli: typer.Typer, release_dir: Path, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "annotate",
            "create-study",
            "--name",
            "x",
            "--data",
            str(release_dir),
            "--systems",
            "human,gpt-5",
            "--characters",
            "luffy",
            "--scenarios",
            "1-3",
            "--annotators",
            "a,b",
            "--store",
            f"sqlite:///{tmp_path / 's.db'}",
        ],
    )
    assert isinstance(result.exception, DataError) and "gpt-5" in str(result.exception)
