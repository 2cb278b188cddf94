"""Creating collection studies: respondents per character, dealt scenarios, secrets, quiz."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from chatanime.annotate.collect_answers import (
    AnswerError,
    clean_answer,
    respondent_for_token,
)
from chatanime.annotate.collect_quiz import grade, load_quiz, parse_quiz
from chatanime.annotate.collect_study import (
    SimulatorSettings,
    parse_respondents,
    rotate_collection_admin_token,
    rotate_respondent_links,
)
from chatanime.annotate.collect_tables import collect_dialogues, collect_studies, respondents
from chatanime.errors import DataError
from chatanime.store import Store
from tests.annotate.collect_support import make_collection


def _cells(store: Store) -> list[tuple[str, str, int, int]]:
    with store.engine.connect() as conn:
        return [
            (r.name, r.character, r.scenario, r.position)
            for r in conn.execute(
                select(
                    respondents.c.name,
                    collect_dialogues.c.character,
                    collect_dialogues.c.scenario,
                    collect_dialogues.c.position,
                ).join(respondents, respondents.c.id == collect_dialogues.c.respondent_id)
            )
        ]


def test_scenarios_are_dealt_once_per_character_among_its_respondents(store: Store) -> None:
    created = make_collection(
        store,
        characters=("luffy", "漩涡鸣人"),
        scenarios=tuple(range(1, 12)),
        per_character=2,
        respondents=(("alice", "luffy"), ("bob", None), ("carol", "naruto"), ("dave", None)),
    )
    assert {(i.respondent, i.character) for i in created.invites} == {
        ("alice", "luffy"),
        ("bob", "luffy"),
        ("carol", "naruto"),
        ("dave", "naruto"),
    }
    cells = _cells(store)
    assert created.n_dialogues == len(cells) == 22
    for character in ("luffy", "naruto"):
        mine = [c for c in cells if c[1] == character]
        assert sorted(c[2] for c in mine) == list(range(1, 12))  # every cell exactly once
        loads = Counter(c[0] for c in mine)
        assert sorted(loads.values()) == [5, 6]
    for name in ("alice", "bob", "carol", "dave"):
        positions = sorted((c[3], c[2]) for c in cells if c[0] == name)
        assert [p for p, _ in positions] == list(range(1, len(positions) + 1))
        assert [s for _, s in positions] == sorted(s for _, s in positions)


def test_default_respondents_and_the_snapshot(store: Store) -> None:
    created = make_collection(store, per_character=2, scenarios=(1, 2, 3, 4), limit=120)
    assert sorted(i.respondent for i in created.invites) == [
        "luffy-1",
        "luffy-2",
        "naruto-1",
        "naruto-2",
    ]
    with store.engine.connect() as conn:
        study = conn.execute(select(collect_studies)).one()
        hashes = set(conn.execute(select(respondents.c.token_hash)).scalars())
        person = respondent_for_token(conn, created.invites[0].token)
    config = json.loads(study.config_json)
    assert config["limit"] == 120 and config["language"] == "zh"
    assert config["question_source"] == "release"
    assert config["simulator"]["model"] == "fake/user-sim"
    assert config["simulator"]["prompt_ref"].startswith("user-sim.zh@v1#")
    assert set(config["scenarios"]) == {"1", "2", "3", "4"}
    assert config["character_keys"]["luffy"] == "《海贼王》的蒙奇·D·路飞"
    for secret in [created.admin_token, *(i.token for i in created.invites)]:
        assert secret not in study.config_json and secret not in hashes
    assert person is not None and person.card.name == "蒙奇·D·路飞" and person.limit == 120


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"per_character": 2, "respondents": (("a", "luffy"),)}, "has 1 respondents"),
        ({"respondents": (("a", "luffy"), ("a", "naruto"))}, "unique"),
        ({"respondents": (("a b", "luffy"), ("c", "naruto"))}, "short ASCII"),
        ({"respondents": (("a", "goku"), ("c", "naruto"))}, "no character 'goku'"),
        ({"respondents": (("a", "gintoki"), ("c", "naruto"))}, "not in the study"),
        ({"scenarios": (1, 99)}, "no scenario 99"),
        ({"per_character": 4}, "between 1 and the number of scenarios"),
        ({"characters": ("luffy", "蒙奇·D·路飞")}, "unique"),
        ({"name": "two words"}, "short ASCII"),
        ({"limit": 0}, "answer limit"),
    ],
)
def test_bad_studies_are_refused_before_anything_is_written(
    sqlite_store: Store, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(DataError, match=message):
        make_collection(sqlite_store, **kwargs)  # type: ignore[arg-type]
    with sqlite_store.engine.connect() as conn:
        assert conn.execute(select(collect_studies)).all() == []


def test_names_are_unique_per_store_and_links_rotate(sqlite_store: Store) -> None:
    created = make_collection(sqlite_store)
    with pytest.raises(DataError, match="already exists"):
        make_collection(sqlite_store)
    old = {i.respondent: i.token for i in created.invites}
    new = rotate_respondent_links(sqlite_store, created.name, ["luffy-1"])
    assert [i.respondent for i in new] == ["luffy-1"]
    with sqlite_store.engine.connect() as conn:
        assert respondent_for_token(conn, old["luffy-1"]) is None
        assert respondent_for_token(conn, new[0].token) is not None
        assert respondent_for_token(conn, old["naruto-1"]) is not None
    with pytest.raises(DataError, match="no respondent"):
        rotate_respondent_links(sqlite_store, created.name, ["zed"])
    with pytest.raises(DataError, match="no collection study"):
        rotate_respondent_links(sqlite_store, "nope")
    assert rotate_collection_admin_token(sqlite_store, created.study_id) != created.admin_token


def test_parse_respondents_and_simulator_settings() -> None:
    assert parse_respondents("alice:luffy, bob ,carol:漩涡鸣人,") == (
        ("alice", "luffy"),
        ("bob", None),
        ("carol", "漩涡鸣人"),
    )
    with pytest.raises(DataError, match="provider/model"):
        SimulatorSettings("user-sim")


def test_the_server_counts_like_the_benchmark(sqlite_store: Store) -> None:
    created = make_collection(sqlite_store, limit=10, min_length=3)
    with sqlite_store.engine.connect() as conn:
        person = respondent_for_token(conn, created.invites[0].token)
    assert person is not None
    assert clean_answer("  一二三四五\r\n六七八九十  ", person) == "一二三四五\n六七八九十"
    for text, key in (
        ("一二三四五六七八九十一", "err_too_long"),
        ("一二", "err_too_short"),
        ("一二三\x00", "err_control"),
        (" \n ", "err_empty"),
    ):
        with pytest.raises(AnswerError) as caught:
            clean_answer(text, person)
        assert caught.value.key == key


def test_english_limits_count_words(sqlite_store: Store) -> None:
    created = make_collection(
        sqlite_store, benchmark="chatanime-en", limit=5, name="fans-en", characters=("luffy",)
    )
    with sqlite_store.engine.connect() as conn:
        person = respondent_for_token(conn, created.invites[0].token)
    assert person is not None and person.language == "en"
    assert clean_answer("Don't give up, eat meat!", person)  # 5 words, one is don't
    with pytest.raises(AnswerError):
        clean_answer("Don't give up, we eat meat!", person)


def test_quiz_files_are_validated_and_graded(tmp_path: Path) -> None:
    chars = {"luffy": None, "naruto": None}
    path = tmp_path / "quiz.yaml"
    path.write_text(
        "pass_score: 1\ncharacters:\n  luffy:\n"
        "    - {question: 果实？, choices: [橡胶, 烧烧], answer: 橡胶}\n"
        "    - {question: 梦想？, accept: [海贼王]}\n",
        encoding="utf-8",
    )
    quiz = load_quiz(path, chars)
    result = grade(quiz, "luffy", {"q_0": "烧烧", "q_1": " 海贼王 "})
    assert (result.score, result.total, result.passed) == (1, 2, True)
    assert result.correct == (False, True)
    with pytest.raises(DataError, match="not one of the choices"):
        grade(quiz, "luffy", {"q_0": "别的", "q_1": "x"})
    bad = [
        ({"characters": {"conan": []}}, "not in the study"),
        ({"characters": {"luffy": [{"question": "?", "choices": ["a"], "answer": "b"}]}}, "one of"),
        ({"characters": {"luffy": [{"question": "?"}]}}, "needs"),
        ({"characters": {"luffy": [{"question": "?", "accept": ["x"]}]}, "extra": 1}, "extra"),
        ([], "mapping"),
    ]
    for raw, message in bad:
        with pytest.raises(DataError, match=message):
            parse_quiz(raw, "quiz.yaml", chars)
