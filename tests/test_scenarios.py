"""Scenario schema, persona/emotion enums and the release's id and question conventions."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from chatanime.errors import DataError
from chatanime.scenarios import (
    Emotion,
    Persona,
    Scenario,
    normalise_question,
    parse_scenarios,
    persona_for_release_id,
)


def _raw(**overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": 1,
        "persona": "student",
        "emotion": "joy",
        "location": "library",
        "daily_event": "Found a great book.",
        "question_r1": "Guess what I found today?",
    }
    item.update(overrides)
    return item


@pytest.mark.parametrize(
    ("scenario_id", "persona"),
    [
        (1, Persona.STUDENT),
        (15, Persona.STUDENT),
        (16, Persona.OFFICE_WORKER),
        (30, Persona.OFFICE_WORKER),
        (31, Persona.FREELANCER),
        (45, Persona.FREELANCER),
        (46, Persona.SELF_EMPLOYED),
        (60, Persona.SELF_EMPLOYED),
    ],
)
def test_persona_blocks_of_fifteen(scenario_id: int, persona: Persona) -> None:
    assert persona_for_release_id(scenario_id) is persona


@pytest.mark.parametrize("scenario_id", [0, 61, -3])
def test_persona_for_ids_outside_the_release_is_an_error(scenario_id: int) -> None:
    with pytest.raises(ValueError, match=r"1\.\.60"):
        persona_for_release_id(scenario_id)


def test_persona_and_emotion_values_and_labels() -> None:
    assert [p.value for p in Persona] == ["student", "office-worker", "freelancer", "self-employed"]
    assert Persona.OFFICE_WORKER.label("zh") == "上班族"
    assert Persona.SELF_EMPLOYED.label("en") == "self-employed"
    assert [e.value for e in Emotion] == [
        "joy",
        "affection",
        "surprise",
        "confusion",
        "anger",
        "worry",
        "loneliness",
        "sadness",
        "disappointment",
    ]
    assert len({e.label_zh for e in Emotion}) == 9
    assert Emotion.LONELINESS.label("zh") == "孤独"
    assert Emotion.WORRY.label("en") == "worry"


def test_normalise_question_maps_ascii_tilde_to_full_width() -> None:
    llm_form = "得到了大家的正面反馈诶~虽然做PPT到凌晨两点"
    human_form = "得到了大家的正面反馈诶～虽然做PPT到凌晨两点"
    assert normalise_question(llm_form) == human_form
    assert normalise_question(human_form) == human_form
    assert normalise_question("no tilde here!") == "no tilde here!"


def test_scenario_is_frozen_and_rejects_unknown_fields() -> None:
    scenario = Scenario.model_validate(_raw())
    assert scenario.persona is Persona.STUDENT
    with pytest.raises(ValidationError):
        scenario.id = 2  # type: ignore[misc]
    with pytest.raises(ValidationError, match="extra"):
        Scenario.model_validate(_raw(mood="happy"))
    with pytest.raises(ValidationError):
        Scenario.model_validate(_raw(id=0))
    with pytest.raises(ValidationError):
        Scenario.model_validate(_raw(question_r1=""))


def test_parse_scenarios_names_file_index_and_field() -> None:
    items = [_raw(id=i) for i in range(1, 5)]
    items[3]["persona"] = "pirate"
    with pytest.raises(DataError) as err:
        parse_scenarios(items, "my-bench/scenarios.yaml")
    message = str(err.value)
    assert message.startswith("my-bench/scenarios.yaml: scenarios[3].persona: Input should be")
    assert "'student'" in message and "'self-employed'" in message


def test_parse_scenarios_missing_field() -> None:
    item = _raw()
    del item["daily_event"]
    with pytest.raises(DataError, match=r"^f\.yaml: scenarios\[0\]\.daily_event: Field required"):
        parse_scenarios([item], "f.yaml")


def test_parse_scenarios_duplicate_id() -> None:
    items = [_raw(id=1), _raw(id=2), _raw(id=1)]
    with pytest.raises(DataError, match=r"scenarios\[2\]\.id: duplicate scenario id 1"):
        parse_scenarios(items, "f.yaml")


@pytest.mark.parametrize("raw", [None, [], {"id": 1}, "scenarios.yaml"])
def test_parse_scenarios_needs_a_non_empty_list(raw: object) -> None:
    with pytest.raises(DataError, match=r"^f\.yaml: scenarios: must be a non-empty list"):
        parse_scenarios(raw, "f.yaml")


def test_parse_scenarios_item_must_be_a_mapping() -> None:
    with pytest.raises(DataError, match=r"scenarios\[1\]: a scenario must be a mapping"):
        parse_scenarios([_raw(), "oops"], "f.yaml")


def test_parse_scenarios_keeps_order_and_values() -> None:
    parsed = parse_scenarios([_raw(id=7, emotion="anger"), _raw(id=3)], "f.yaml")
    assert [s.id for s in parsed] == [7, 3]
    assert parsed[0].emotion is Emotion.ANGER
