"""``chatanime collect create-study``: its options, and every option reaching the study."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from chatanime.annotate.collect_tables import collect_dialogues, collect_studies
from chatanime.cli.collect import register
from chatanime.store import open_store
from tests.cli.support import built_command, option_table, required_options

BASE = "http://127.0.0.1:8000"
STORE_HELP = "Store URL or SQLite path (else $CHATANIME_STORE, else default)."
# The command's public surface: option -> (flags, default, help). Scripts depend on it.
OPTIONS = {
    "name": (("--name",), None, "Unique study name; also the system name."),
    "user_sim": (("--user-sim",), None, "User-simulator model for round 2 (provider/model)."),
    "characters": (("--characters",), None, "Comma-separated character slugs or names."),
    "scenarios": (("--scenarios",), None, "Scenario ids and ranges, e.g. 1-10 (default: all)."),
    "benchmark": (("--benchmark",), "chatanime", "Benchmark name or folder."),
    "respondents_per_character": (
        ("--respondents-per-character",),
        1,
        "Respondents per character; they share its scenarios.",
    ),
    "respondents": (
        ("--respondents",),
        "",
        "name:character pairs (a bare name is assigned a character); "
        "default: <character>-1, <character>-2, ...",
    ),
    "limit": (
        ("--limit",),
        None,
        "Answer limit (characters in Chinese, words in English; default: the benchmark's).",
    ),
    "min_length": (("--min-length",), 5, "Shortest accepted answer."),
    "quiz": (("--quiz",), None, "Screening quiz (YAML, canon questions per character)."),
    "user_sim_attempts": (
        ("--user-sim-attempts",),
        3,
        "Simulator attempts when a turn is rejected.",
    ),
    "user_sim_timeout": (("--user-sim-timeout",), 30.0, "Seconds per simulator call."),
    "seed": (("--seed",), None, "Seed for dealing scenarios."),
    "store": (("--store",), None, STORE_HELP),
    "base_url": (("--base-url",), BASE, "Public URL of the web app, used in invite links."),
}


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_create_study_options_keep_their_flags_defaults_and_help() -> None:
    command = built_command(register, "collect", "create-study")
    assert option_table(command) == OPTIONS
    assert required_options(command) == {"name", "user_sim", "characters"}


def test_every_option_reaches_the_study(cli: typer.Typer, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    quiz = tmp_path / "quiz.yaml"
    quiz.write_text("characters:\n  levi:\n    - {question: q, accept: [a]}\n", encoding="utf-8")
    args = ["collect", "create-study", "--name", "fans-en", "--user-sim", "fake/user-sim",
            "--characters", "Levi,luffy", "--scenarios", "3-6", "--benchmark", "chatanime-en",
            "--respondents-per-character", "2", "--respondents", "ann:levi,bob,cat,dan",
            "--limit", "40", "--min-length", "2", "--quiz", str(quiz), "--user-sim-attempts", "2",
            "--user-sim-timeout", "5", "--seed", "4", "--store", url,
            "--base-url", "http://fans.example"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "4 respondents, 8 dialogues, limit 40, user simulator fake/user-sim." in result.output
    assert result.output.count("http://fans.example/r/") == 4
    assert re.search(r"^  ann\s+levi\s+http", result.output, re.MULTILINE)  # as asked for
    store = open_store(url)
    with store.engine.connect() as conn:
        config = json.loads(conn.execute(select(collect_studies.c.config_json)).scalar_one())
        n = len(conn.execute(select(collect_dialogues.c.id)).all())
    store.dispose()
    assert n == 8 and sorted(config["scenarios"]) == ["3", "4", "5", "6"]
    assert (config["language"], config["limit"], config["min_length"]) == ("en", 40, 2)
    assert (config["per_character"], config["seed"]) == (2, 4)
    assert set(config["characters"]) == {"levi", "luffy"}
    assert (config["simulator"]["attempts"], config["simulator"]["timeout_s"]) == (2, 5.0)
    assert set(config["quiz"]["characters"]) == {"levi"}
