"""`chatanime report` through typer, on a slice of the release (the full run is in bench/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from chatanime.cli.report import register
from chatanime.corpus import Corpus
from chatanime.errors import DataError
from chatanime.report import outputs
from chatanime.store import Store

runner = CliRunner()


@pytest.fixture
def app(small_corpus: Corpus, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> typer.Typer:
    """The report command on the small slice, in a clean working dir and user data dir."""

    def load(*args: Any, **kwargs: Any) -> Corpus:
        return small_corpus

    monkeypatch.setattr(outputs, "load_corpus", load)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("CHATANIME_STORE", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    application = typer.Typer()
    register(application)

    @application.callback()
    def main() -> None:
        """Test root."""

    return application


def test_default_is_html_in_out_with_a_terminal_summary(app: typer.Typer, tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", "--n-boot", "20"])
    assert result.exit_code == 0, result.output
    path = tmp_path / "out" / "report.html"
    assert path.is_file() and "<svg" in path.read_text(encoding="utf-8")
    assert "No judge scores" in result.output
    assert "automatic:diversity" in result.output
    assert "wrote" in result.output and "report.html" in result.output
    assert not (tmp_path / "xdg" / "chatanime" / "chatanime.db").exists()  # nothing created


def test_formats_and_store(app: typer.Typer, tmp_path: Path, judged_store: Store) -> None:
    url = judged_store.url
    for fmt, name in (("md", "r.md"), ("csv", "r.csv"), ("json", "r.json")):
        args = ["report", "--format", fmt, "--out", name, "--store", url, "--n-boot", "20"]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert (tmp_path / name).stat().st_size > 0
    assert "judge:ensemble" in result.output  # the summary shows the judged sources
    doc = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert doc["n_boot"] == 20 and "judge:ensemble" in doc["sources"]
    assert (tmp_path / "r.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # BOM for spreadsheets
    assert "## Leaderboard — `judge:ensemble`" in (tmp_path / "r.md").read_text(encoding="utf-8")


def test_judge_filter_and_terminal_format(app: typer.Typer, judged_store: Store) -> None:
    args = ["report", "--format", "terminal", "--store", judged_store.url, "--n-boot", "20"]
    result = runner.invoke(app, [*args, "--judge", "fake/judge-b"])
    assert result.exit_code == 0, result.output
    assert "judge:fake/judge-b" in result.output
    assert "judge:ensemble" not in result.output and "judge:fake/judge-a" not in result.output
    assert "wrote" not in result.output
    assert "Speech style" in result.output  # the full terminal report has the per-metric table


def test_compare_pairs(app: typer.Typer, tmp_path: Path, judged_store: Store) -> None:
    args = ["report", "--format", "json", "--out", "p.json", "--store", judged_store.url]
    result = runner.invoke(app, [*args, "--n-boot", "20", "--compare", "qwen-max:doubao-rp"])
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "p.json").read_text(encoding="utf-8"))
    pairs = [r for r in doc["tables"]["comparison"] if r["baseline"] == "doubao-rp"]
    assert {r["system"] for r in pairs} == {"qwen-max"} and len(pairs) == 13 * 3  # 3 sources
    result = runner.invoke(app, ["report", "--compare", "qwen-max"])
    assert isinstance(result.exception, DataError) and "A:B" in str(result.exception)


def test_bad_arguments_are_data_errors(app: typer.Typer) -> None:
    result = runner.invoke(app, ["report", "--format", "pdf"])
    assert isinstance(result.exception, DataError) and "unknown format" in str(result.exception)
    result = runner.invoke(app, ["report", "--n-boot", "0"])
    assert isinstance(result.exception, DataError) and "--n-boot" in str(result.exception)
