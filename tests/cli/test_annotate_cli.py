"""``chatanime annotate create-study``: its options, and every option reaching the study."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from chatanime.annotate.tables import items, studies
from chatanime.cli.annotate import register
from chatanime.store import open_store
from tests.cli.support import built_command, option_table, required_options

# The command's public surface: option -> (flags, default, help). Scripts depend on it.
OPTIONS = {
    "name": (("--name",), None, "A unique study name, e.g. pilot."),
    "systems": (("--systems",), None, "Comma-separated systems, e.g. human,gpt-4.1."),
    "characters": (("--characters",), None, "Comma-separated character slugs or names."),
    "scenarios": (("--scenarios",), None, "Scenario ids and ranges, e.g. 1-10,15."),
    "annotators": (("--annotators",), None, "Comma-separated annotator names."),
    "overlap": (("--overlap",), 2, "Annotators per item (>= 2 for agreement)."),
    "diversity_sets": (
        ("--diversity-sets",),
        0,
        "Diversity sets per (system, character); 0 for none.",
    ),
    "diversity_n": (("--diversity-n",), 5, "Answers per diversity set."),
    "language": (
        ("--language",),
        None,
        "Rubric, cards and interface: zh or en (default: the benchmark's).",
    ),
    "seed": (("--seed",), None, "Seed for assignment and order."),
    "data": (("--data",), None, "Release folder (else $CHATANIME_DATA, cache)."),
    "extra": (("--extra",), None, "A system file to rate (e.g. runs/my-bot.json); repeatable."),
    "benchmark": (("--benchmark",), "chatanime", "Benchmark name or folder."),
    "store": (
        ("--store",),
        None,
        "Store URL or SQLite path (else $CHATANIME_STORE, else default).",
    ),
    "base_url": (
        ("--base-url",),
        "http://127.0.0.1:8000",
        "Public URL of the web app, used in invite links.",
    ),
}


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_create_study_options_keep_their_flags_defaults_and_help() -> None:
    command = built_command(register, "annotate", "create-study")
    assert option_table(command) == OPTIONS
    assert required_options(command) == {"name", "systems", "characters", "scenarios", "annotators"}


def test_every_option_reaches_the_study(
    cli: typer.Typer, release_dir: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    args = ["annotate", "create-study", "--name", "pilot", "--data", str(release_dir),
            "--systems", "human, qwen-max", "--characters", "漩涡鸣人", "--scenarios", "2-3,7",
            "--annotators", "a1,a2,a3", "--overlap", "3", "--diversity-sets", "1",
            "--diversity-n", "2", "--language", "en", "--seed", "11", "--store", url,
            "--base-url", "http://x.example/"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "8 items, 24 assignments." in result.output  # 2 systems x (3 dialogues + 1 set)
    assert result.output.count("http://x.example/a/") == 3
    store = open_store(url)
    with store.engine.connect() as conn:
        config = json.loads(conn.execute(select(studies.c.config_json)).scalar_one())
        systems = set(conn.execute(select(items.c.system)).scalars())
    store.dispose()
    assert systems == {"human", "qwen-max"}
    assert (config["characters"], config["scenarios"]) == (["naruto"], [2, 3, 7])
    assert (config["overlap"], config["diversity_sets"], config["diversity_n"]) == (3, 1, 2)
    assert (config["language"], config["seed"], config["benchmark"]) == ("en", 11, "chatanime")
