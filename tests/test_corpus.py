"""The validated release as objects and tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatanime.corpus import Corpus, export_corpus, load_corpus, summarise


@pytest.fixture(scope="module")
def corpus(release_dir: Path) -> Corpus:
    return load_corpus(release_dir)


def test_release_has_11_systems_of_20_by_60(corpus: Corpus) -> None:
    assert len(corpus.systems) == 11
    assert corpus.systems[0] == "human"
    assert len(corpus) == 11 * 1200
    for s in summarise(corpus):
        assert (s.dialogues, s.answers, s.characters) == (1200, 2400, 20)
        assert s.within_limit == 2400 and s.max_len <= 150


def test_join_is_by_key_not_position(corpus: Corpus, release_dir: Path) -> None:
    raw = json.loads((release_dir / "gemini-2.5-flash-preview.json").read_text(encoding="utf-8"))
    first_key = next(iter(raw))
    assert first_key != "《海贼王》的蒙奇·D·路飞"  # this file orders characters differently
    luffy = raw["《海贼王》的蒙奇·D·路飞"][0]
    d = corpus.get("gemini-2.5-flash-preview", "luffy", 1)
    assert d is not None and d.a1 == luffy["answer_r1"]


def test_filters(corpus: Corpus) -> None:
    sub = corpus.filter(systems=["human", "gpt-4.1"], characters=["luffy"], personas=["student"])
    assert len(sub) == 2 * 15
    assert {d.scenario for d in sub.dialogues} == set(range(1, 16))
    assert len(corpus.filter(scenarios=[16, 31, 46])) == 11 * 20 * 3
    assert corpus.persona(16) == "office-worker" and corpus.persona(46) == "self-employed"


def test_dataframe_arrow_and_answers(corpus: Corpus) -> None:
    sub = corpus.filter(characters=["naruto"])
    df = sub.to_dataframe()
    assert df.shape[0] == 11 * 60
    assert {"system", "character", "scenario", "persona", "answer_r2"} <= set(df.columns)
    table = sub.to_arrow()
    assert table.num_rows == 11 * 60
    answers = sub.answers()
    assert len(answers) == 2 * 11 * 60
    assert {a.round for a in answers} == {1, 2}


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_export(corpus: Corpus, tmp_path: Path, fmt: str) -> None:
    sub = corpus.filter(systems=["human"], characters=["luffy"])
    out = export_corpus(sub, tmp_path / f"x.{fmt}", fmt)
    if fmt == "jsonl":
        rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
        assert len(rows) == 60 and rows[0]["character"] == "luffy"
    elif fmt == "csv":
        import pandas as pd

        assert pd.read_csv(out).shape[0] == 60
    else:
        import pyarrow.parquet as pq

        assert pq.read_table(out).num_rows == 60
