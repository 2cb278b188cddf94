"""``chatanime collect ...`` end to end: create, answer, export, and the export as a system."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from chatanime.annotate.app import create_app
from chatanime.annotate.collect_export import export_collection
from chatanime.backends.fake_server import FakeServer
from chatanime.cli import build_app
from chatanime.cli.collect import register
from chatanime.corpus import load_corpus
from chatanime.errors import DataError
from chatanime.store import open_store
from tests.annotate.collect_support import answer, fields, wait_status

LINK = re.compile(r"^\s+([\w.-]+)\s+(\w+)\s+(http://fans\.example/r/(\S+))$", re.MULTILINE)


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def _create(cli: typer.Typer, store: str, *extra: str) -> dict[str, tuple[str, str]]:
    result = CliRunner().invoke(
        cli,
        [
            "collect",
            "create-study",
            "--name",
            "fans-2026",
            "--benchmark",
            "chatanime",
            "--characters",
            "luffy,漩涡鸣人",
            "--scenarios",
            "1-4",
            "--respondents-per-character",
            "2",
            "--respondents",
            "alice:luffy,bob:luffy,carol,dave",
            "--user-sim",
            "fake/user-sim",
            "--store",
            store,
            "--base-url",
            "http://fans.example/",
            *extra,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "4 respondents, 8 dialogues, limit 150" in result.output
    return {m.group(1): (m.group(2), m.group(4)) for m in LINK.finditer(result.output)}


def _finish(client: TestClient, token: str, positions: int) -> None:
    for position in range(1, positions + 1):
        path = f"/r/{token}/{position}"
        csrf, dialogue = fields(client.get(path).text)
        form = {"csrf": csrf, "dialogue": dialogue}
        assert client.post(f"{path}/round1", data={**form, "text": answer(position)}).is_redirect
        wait_status(client, path)
        sent = client.post(f"{path}/round2", data={**form, "text": answer(position, 2)})
        assert sent.status_code == 303


def test_create_answer_export_and_load_next_to_the_release(
    cli: typer.Typer, tmp_path: Path, release_dir: Path, fake_server: FakeServer
) -> None:
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    links = _create(cli, store_url)
    assert {name: character for name, (character, _) in links.items()} == {
        "alice": "luffy",
        "bob": "luffy",
        "carol": "naruto",
        "dave": "naruto",
    }
    store = open_store(store_url)
    with TestClient(create_app(store), follow_redirects=False) as client:
        _finish(client, links["alice"][1], 2)
        _finish(client, links["carol"][1], 1)  # partial coverage: allowed for --extra files

    status = CliRunner().invoke(
        cli, ["collect", "status", "--study", "fans-2026", "--store", store_url]
    )
    assert status.exit_code == 0 and "3/8 dialogues" in status.output

    out = tmp_path / "fans-2026.json"
    result = CliRunner().invoke(
        cli, ["collect", "export", "--study", "fans-2026", "--out", str(out), "--store", store_url]
    )
    assert result.exit_code == 0 and "3 dialogues of system fans-2026" in result.output
    corpus = load_corpus(release_dir, extra=[out], download=False)
    fans = corpus.filter(systems=["fans-2026"]).dialogues
    assert len(fans) == 3 and {d.character for d in fans} == {"luffy", "naruto"}
    assert {d.a1 for d in fans} == {answer(1), answer(2)}
    human = corpus.get("human", fans[0].character, fans[0].scenario)
    assert human is not None and human.q1 == fans[0].q1  # the same opening line

    info = CliRunner().invoke(
        build_app(), ["data", "info", "--data", str(release_dir), "--extra", str(out)]
    )
    assert info.exit_code == 0, info.output
    assert "12 systems, 13203 dialogues" in info.output  # 11 x 1,200 + our 3

    jsonl = export_collection(store, "fans-2026", tmp_path / "fans-2026-meta.jsonl")
    rows = [json.loads(line) for line in jsonl.path.read_text(encoding="utf-8").splitlines()]
    assert jsonl.system == "fans-2026-meta" and len(rows) == 3
    assert all(r["simulator"]["model"] == "fake/user-sim" for r in rows)
    assert all(r["timings"]["r1_seconds"] is not None for r in rows)
    assert all(r["sources"]["a1"].startswith("human:") for r in rows)
    reloaded = load_corpus(release_dir, extra=[jsonl.path], download=False)
    assert len(reloaded.filter(systems=["fans-2026-meta"])) == 3
    store.dispose()


def test_links_rotate_and_errors_are_one_sentence(
    cli: typer.Typer, tmp_path: Path, fake_server: FakeServer
) -> None:
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    links = _create(cli, store_url)
    rotated = CliRunner().invoke(
        cli,
        [
            "collect",
            "links",
            "--study",
            "fans-2026",
            "--respondents",
            "bob",
            "--admin",
            "--store",
            store_url,
            "--base-url",
            "http://fans.example",
        ],
    )
    assert rotated.exit_code == 0, rotated.output
    new = {m.group(1): m.group(4) for m in LINK.finditer(rotated.output)}
    assert list(new) == ["bob"] and new["bob"] != links["bob"][1]
    assert "Admin token:" in rotated.output

    empty = CliRunner().invoke(
        cli,
        [
            "collect",
            "export",
            "--study",
            "fans-2026",
            "--out",
            str(tmp_path / "x.json"),
            "--store",
            store_url,
        ],
    )
    assert isinstance(empty.exception, DataError)
    assert "no finished dialogue" in str(empty.exception)

    quiz = tmp_path / "quiz.yaml"
    quiz.write_text("characters:\n  levi:\n    - {question: q, accept: [a]}\n", encoding="utf-8")
    bad = CliRunner().invoke(
        cli,
        [
            "collect",
            "create-study",
            "--name",
            "q",
            "--characters",
            "luffy",
            "--user-sim",
            "fake/user-sim",
            "--quiz",
            str(quiz),
            "--store",
            store_url,
        ],
    )
    assert isinstance(bad.exception, DataError) and "levi" in str(bad.exception)
