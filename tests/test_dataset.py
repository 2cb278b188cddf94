"""Loading system files: every kind of bad input names file, character and dialog id."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from chatanime.benchmark import load_benchmark
from chatanime.corpus import load_corpus, load_system
from chatanime.dataset import load_system_file, write_system_file
from chatanime.dialogue import Dialogue
from chatanime.errors import DataError

LUFFY = "《海贼王》的蒙奇·D·路飞"


def _human(release_dir: Path) -> dict[str, list[dict[str, object]]]:
    data: dict[str, list[dict[str, object]]] = json.loads(
        (release_dir / "human.json").read_text(encoding="utf-8")
    )
    return data


def _write(tmp_path: Path, name: str, payload: object) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    return path


def test_truncated_file_names_the_file(release_dir: Path, tmp_path: Path) -> None:
    text = (release_dir / "human.json").read_text(encoding="utf-8")
    path = tmp_path / "broken.json"
    path.write_text(text[: len(text) // 2], encoding="utf-8")
    with pytest.raises(DataError, match=r"broken\.json: invalid JSON .*truncated"):
        load_system(path, load_benchmark("chatanime"))


def test_wrong_field_type_names_character_and_dialog(release_dir: Path, tmp_path: Path) -> None:
    data = _human(release_dir)
    data[LUFFY][5]["answer_r1"] = 42
    path = _write(tmp_path, "mine.json", data)
    with pytest.raises(DataError) as info:
        load_system(path, load_benchmark("chatanime"))
    assert str(info.value) == (
        f"mine.json, character '{LUFFY}', dialog_id 6: field 'answer_r1' must be a non-empty string"
    )


def test_missing_field_and_empty_string(release_dir: Path, tmp_path: Path) -> None:
    data = _human(release_dir)
    del data[LUFFY][0]["question_r2"]
    with pytest.raises(DataError, match="dialog_id 1: field 'question_r2' is missing"):
        load_system(_write(tmp_path, "a.json", data), load_benchmark("chatanime"))
    data = _human(release_dir)
    data[LUFFY][2]["answer_r2"] = "   "
    with pytest.raises(DataError, match="dialog_id 3: field 'answer_r2' must be a non-empty"):
        load_system(_write(tmp_path, "b.json", data), load_benchmark("chatanime"))


def test_incomplete_file_names_missing_dialogs(release_dir: Path, tmp_path: Path) -> None:
    data = _human(release_dir)
    data[LUFFY] = data[LUFFY][:57]
    with pytest.raises(
        DataError, match=f"c.json, character '{LUFFY}': missing dialog_id 58, 59, 60"
    ):
        load_system(_write(tmp_path, "c.json", data), load_benchmark("chatanime"))
    data = _human(release_dir)
    del data[LUFFY]
    with pytest.raises(DataError, match=re.escape("missing dialog_id 1, 2, 3, 4, 5 ...")):
        load_system(_write(tmp_path, "d.json", data), load_benchmark("chatanime"))


def test_duplicate_and_out_of_range_ids(release_dir: Path, tmp_path: Path) -> None:
    data = _human(release_dir)
    data[LUFFY][1]["dialog_id"] = 1
    with pytest.raises(DataError, match="dialog_id 1: duplicate dialog_id"):
        load_system(_write(tmp_path, "e.json", data), load_benchmark("chatanime"))
    data = _human(release_dir)
    data[LUFFY][59]["dialog_id"] = 61
    with pytest.raises(DataError, match="dialog_id 61: dialog_id out of range 1-60"):
        load_system(_write(tmp_path, "f.json", data), load_benchmark("chatanime"))


def test_unknown_character_and_changed_question(release_dir: Path, tmp_path: Path) -> None:
    data = _human(release_dir)
    data["《某作品》的某人"] = data.pop(LUFFY)
    with pytest.raises(DataError, match="character '《某作品》的某人': unknown character"):
        load_system(_write(tmp_path, "g.json", data), load_benchmark("chatanime"))
    data = _human(release_dir)
    data[LUFFY][9]["question_r1"] = "改过的问题？"
    with pytest.raises(DataError, match="dialog_id 10: question_r1 differs"):
        load_system(_write(tmp_path, "h.json", data), load_benchmark("chatanime"))


def test_tilde_variant_is_normalised(release_dir: Path) -> None:
    bench = load_benchmark("chatanime")
    llm = load_system(release_dir / "qwen-max.json", bench)
    human = load_system(release_dir / "human.json", bench)
    q_llm = {d.scenario: d.q1 for d in llm if d.character == "luffy"}
    q_human = {d.scenario: d.q1 for d in human if d.character == "luffy"}
    assert q_llm == q_human
    raw = json.loads((release_dir / "qwen-max.json").read_text(encoding="utf-8"))
    assert "~" in raw[LUFFY][23]["question_r1"]
    assert "～" in q_llm[24]


def test_jsonl_user_file_joins_the_corpus(release_dir: Path, tmp_path: Path) -> None:
    human = _human(release_dir)
    lines = []
    for rec in human[LUFFY][:3]:
        row = {"character": "luffy", **rec, "answer_r1": f"我的模型：{rec['answer_r1']}"}
        lines.append(json.dumps(row, ensure_ascii=False))
    path = tmp_path / "my-model.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    corpus = load_corpus(release_dir, extra=[path])
    assert "my-model" in corpus.systems
    mine = corpus.filter(systems=["my-model"])
    assert len(mine) == 3
    d = corpus.get("my-model", "luffy", 2)
    assert d is not None and d.a1.startswith("我的模型：")


def test_jsonl_bad_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"character": "luffy", "dialog_id": 1}\n{oops\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"x\.jsonl: line 2: invalid JSON"):
        load_system_file(path, {"luffy": "luffy"})


def test_write_round_trip(tmp_path: Path) -> None:
    ds = [
        Dialogue(system="s", character="luffy", scenario=i, q1="q", a1=f"a{i}", q2="q2", a2="b")
        for i in (2, 1)
    ]
    path = write_system_file(ds, tmp_path / "out" / "s.json", {"luffy": LUFFY})
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert list(raw) == [LUFFY]
    assert [r["dialog_id"] for r in raw[LUFFY]] == [1, 2]
    back = load_system_file(path, {LUFFY: "luffy"})
    assert {d.a1 for d in back} == {"a1", "a2"}
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["s.json"]
