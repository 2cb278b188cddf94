"""``chatanime fake-server``: registration, option errors, and a real foreground run."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import httpx
import typer
from typer.testing import CliRunner

from chatanime.cli.fake import register


def app() -> typer.Typer:
    root = typer.Typer()
    register(root)

    @root.command()
    def other() -> None:  # a second command keeps typer in multi-command mode
        pass

    return root


def test_help_lists_the_options() -> None:
    result = CliRunner().invoke(app(), ["fake-server", "--help"])
    assert result.exit_code == 0
    for option in ("--latency-ms", "--fault-rate", "--faults", "--port", "--retry-after"):
        assert option in result.output


def test_unknown_fault_is_a_usage_error() -> None:
    result = CliRunner().invoke(app(), ["fake-server", "--faults", "429,boom"])
    assert result.exit_code == 2
    assert "boom" in result.output


def test_serves_until_terminated() -> None:
    code = (
        "import typer; from chatanime.cli.fake import register; app = typer.Typer(); "
        "register(app); app.command('x')(lambda: None); "
        "app(['fake-server', '--port', '0', '--latency-ms', '1'])"
    )
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+/v1", line)
        assert found, line
        models = httpx.get(f"{found.group(0)}/models", timeout=5).json()
        assert "fake/actor" in {m["id"] for m in models["data"]}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
