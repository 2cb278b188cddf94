"""The ESRP rubric data files and their loader (chatanime.judge.rubric)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from chatanime.errors import DataError
from chatanime.judge.rubric import (
    DIMENSION_IDS,
    DIMENSION_METRICS,
    DIMENSIONS,
    METRICS,
    Rubric,
    exclude_anchor_items,
    load_rubric,
    parse_rubric,
)

ARCHITECTURE_METRICS = {
    "basic": ["fluency", "coherency", "consistency"],
    "roleplay": ["character_knowledge", "speech_style", "behavioral_habit"],
    "emotional": ["emotional_value", "experience_sharing", "demand_matching"],
}
LANGS = ("zh", "en")


def builtin_text(language: str) -> str:
    entry = resources.files("chatanime.data.rubrics").joinpath(f"esrp.{language}.yaml")
    return entry.read_text(encoding="utf-8")


def builtin_raw(language: str) -> dict[str, Any]:
    raw = yaml.safe_load(builtin_text(language))
    assert isinstance(raw, dict)
    return raw


@pytest.fixture(scope="module")
def release_answers(release_dir: Path) -> dict[tuple[str, str, int, int], str]:
    """(system, slug, scenario, round) -> answer text, joined by release key, not file order."""
    index = resources.files("chatanime.data.characters").joinpath("index.yaml")
    slugs = yaml.safe_load(index.read_text(encoding="utf-8"))["order"]
    keys = list(json.loads((release_dir / "human.json").read_text(encoding="utf-8")))
    assert len(keys) == len(slugs) == 20
    slug_of = dict(zip(keys, slugs, strict=True))
    answers: dict[tuple[str, str, int, int], str] = {}
    for path in sorted(release_dir.glob("*.json")):
        for key, dialogues in json.loads(path.read_text(encoding="utf-8")).items():
            for dlg in dialogues:
                for rnd in (1, 2):
                    answers[(path.stem, slug_of[key], dlg["dialog_id"], rnd)] = dlg[
                        f"answer_r{rnd}"
                    ]
    return answers


@pytest.mark.parametrize("language", LANGS)
def test_builtin_loads_with_identity(language: str) -> None:
    rubric = load_rubric(language)
    assert (rubric.id, rubric.version, rubric.language) == ("esrp", 1, language)
    digest = hashlib.sha256(builtin_text(language).encode("utf-8")).hexdigest()
    assert rubric.sha256 == digest
    assert rubric.ref == f"esrp.{language}@v1#{digest[:12]}"


def test_constants_match_architecture() -> None:
    assert list(METRICS) == [m for dim in ARCHITECTURE_METRICS.values() for m in dim]
    assert list(DIMENSION_IDS) == list(ARCHITECTURE_METRICS)
    assert {d: list(ms) for d, ms in DIMENSION_METRICS.items()} == ARCHITECTURE_METRICS
    assert list(DIMENSIONS) == list(METRICS)
    assert all(DIMENSIONS[m] == d for d, ms in ARCHITECTURE_METRICS.items() for m in ms)


@pytest.mark.parametrize("language", LANGS)
def test_metrics_dimensions_and_anchors(language: str) -> None:
    rubric = load_rubric(language)
    assert rubric.metric_ids == METRICS
    assert len(rubric.metric_ids) == 9
    assert [rubric.dimension(d).id for d in rubric.dimension_ids] == list(DIMENSION_IDS)
    for metric_id in METRICS:
        metric = rubric.metric(metric_id)
        assert rubric.dimension_of(metric_id) == DIMENSIONS[metric_id]
        assert sorted(metric.anchors) == [1, 3, 5]
        assert all(text.strip() for text in metric.anchors.values())
        assert {ex.score for ex in metric.examples} == {1, 3, 5}, metric_id
    assert sorted(rubric.spec.diversity.anchors) == [1, 3, 5]
    with pytest.raises(DataError, match="unknown metric"):
        rubric.dimension_of("politeness")


def test_every_example_quotes_the_release_exactly(
    release_answers: dict[tuple[str, str, int, int], str],
) -> None:
    for language in LANGS:
        for metric_id, ex in load_rubric(language).examples():
            if ex.ref is None:
                assert ex.constructed, (language, metric_id)
                continue
            key = (ex.ref.system, ex.ref.character, ex.ref.scenario, ex.ref.round)
            assert key in release_answers, (language, metric_id, key)
            assert ex.text == release_answers[key], (language, metric_id, key)


def test_examples_are_balanced_towards_fans() -> None:
    examples = [ex for _, ex in load_rubric("zh").examples()]
    fans = [ex for ex in examples if ex.ref is not None and ex.ref.system == "human"]
    assert 3 * len(fans) >= len(examples)
    assert sum(ex.score == 5 for ex in fans) >= 3
    # Fans are not only good examples, and LLM answers are not only bad ones.
    assert any(ex.score < 5 for ex in fans)
    llm_top = [ex for ex in examples if ex.score == 5 and ex.ref and ex.ref.system != "human"]
    assert llm_top
    assert all(len(ex.text) <= 150 for ex in examples)


def test_constructed_examples_are_marked() -> None:
    for language in LANGS:
        constructed = [ex for _, ex in load_rubric(language).examples() if ex.ref is None]
        assert constructed
        assert all(ex.constructed for ex in constructed)


def test_zh_and_en_share_refs_and_texts() -> None:
    zh, en = load_rubric("zh"), load_rubric("en")

    def shape(rubric: Rubric) -> list[tuple[str, int, Any, str]]:
        return [
            (m, ex.score, ex.ref.model_dump() if ex.ref else None, ex.text)
            for m, ex in rubric.examples()
        ]

    assert shape(zh) == shape(en)
    assert zh.example_refs() == en.example_refs()
    assert all(ex.translation for _, ex in en.examples())
    assert [ex.note for _, ex in zh.examples()] != [ex.note for _, ex in en.examples()]


def test_hash_changes_with_content() -> None:
    text = builtin_text("zh")
    original = parse_rubric(text, "a.yaml")
    changed = parse_rubric(text.replace("流畅度", "流利度", 1), "a.yaml")
    assert changed.sha256 != original.sha256
    assert changed.ref != original.ref
    assert parse_rubric(text, "b.yaml").sha256 == original.sha256


def test_user_file_loads_from_path(tmp_path: Path) -> None:
    path = tmp_path / "my-rubric.yaml"
    path.write_text(builtin_text("en"), encoding="utf-8")
    rubric = load_rubric(path=path)
    assert rubric.sha256 == load_rubric("en").sha256
    assert rubric.source == str(path)


def _mutations() -> list[tuple[str, Any, str]]:
    def drop_metric(raw: dict[str, Any]) -> None:
        raw["metrics"].pop()

    def rename_metric(raw: dict[str, Any]) -> None:
        raw["metrics"][0]["id"] = "grammar"

    def wrong_dimension(raw: dict[str, Any]) -> None:
        raw["metrics"][3]["dimension"] = "basic"

    def missing_anchor(raw: dict[str, Any]) -> None:
        del raw["metrics"][1]["anchors"][3]

    def extra_key(raw: dict[str, Any]) -> None:
        raw["metrics"][2]["weight"] = 2

    def bad_score(raw: dict[str, Any]) -> None:
        raw["metrics"][0]["examples"][0]["score"] = 4

    def unmarked_constructed(raw: dict[str, Any]) -> None:
        raw["metrics"][0]["examples"][0]["ref"] = None

    def bad_round(raw: dict[str, Any]) -> None:
        raw["metrics"][0]["examples"][0]["ref"]["round"] = 3

    def bad_dimensions(raw: dict[str, Any]) -> None:
        raw["dimensions"].pop()

    def no_guidance(raw: dict[str, Any]) -> None:
        raw["guidance"]["do_not_reward"] = []

    def bad_scale(raw: dict[str, Any]) -> None:
        raw["scale"]["max"] = 10

    return [
        ("drop_metric", drop_metric, "metrics"),
        ("rename_metric", rename_metric, "metrics.0"),
        ("wrong_dimension", wrong_dimension, "metrics.3"),
        ("missing_anchor", missing_anchor, "metrics.1.anchors"),
        ("extra_key", extra_key, "metrics.2.weight"),
        ("bad_score", bad_score, "metrics.0.examples.0.score"),
        ("unmarked_constructed", unmarked_constructed, "metrics.0.examples.0"),
        ("bad_round", bad_round, "metrics.0.examples.0.ref.round"),
        ("bad_dimensions", bad_dimensions, "dimensions"),
        ("no_guidance", no_guidance, "guidance.do_not_reward"),
        ("bad_scale", bad_scale, "scale.max"),
    ]


@pytest.mark.parametrize(
    ("name", "mutate", "field"), _mutations(), ids=[m[0] for m in _mutations()]
)
def test_bad_files_name_file_and_field(tmp_path: Path, name: str, mutate: Any, field: str) -> None:
    raw = builtin_raw("zh")
    mutate(raw)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_rubric(path=path)
    message = str(info.value)
    assert str(path) in message
    assert f"field '{field}'" in message


def test_invalid_yaml_and_missing_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("metrics: [unclosed", encoding="utf-8")
    with pytest.raises(DataError, match=r"broken\.yaml: not valid YAML"):
        load_rubric(path=broken)
    with pytest.raises(DataError, match=r"nope\.yaml: cannot read"):
        load_rubric(path=tmp_path / "nope.yaml")
    with pytest.raises(DataError, match="no built-in rubric"):
        load_rubric("fr")


@dataclass(frozen=True)
class Item:
    system: str
    character: str
    scenario: int


def test_exclude_anchor_items_removes_exactly_the_referenced_items() -> None:
    rubric = load_rubric("zh")
    refs = rubric.example_refs()
    assert len(refs) >= 20
    anchors = [Item(*ref) for ref in sorted(refs)]
    # Same dialogue from another system, same system on another scenario: both stay.
    others = [Item("qwen-max", "taiga", 1), Item("human", "taiga", 2), Item("gpt-4.1", "luffy", 60)]
    assert not {(o.system, o.character, o.scenario) for o in others} & refs
    items = [x for pair in zip(anchors, others * len(anchors), strict=False) for x in pair]
    kept = exclude_anchor_items(items, rubric)
    assert kept == [x for x in items if x not in anchors]
    assert exclude_anchor_items(items) == kept  # default: the built-ins


def test_exclude_whole_dialogue_drops_every_system() -> None:
    rubric = load_rubric("en")
    character, scenario = sorted(rubric.anchor_dialogues())[0]
    items = [Item(s, character, scenario) for s in ("human", "qwen-max", "gpt-4.1")]
    items.append(Item("human", character, scenario % 60 + 1))
    assert exclude_anchor_items(items, rubric, whole_dialogue=True) == items[3:]


@pytest.mark.parametrize("language", LANGS)
def test_render_is_compact_complete_and_blind(language: str) -> None:
    rubric = load_rubric(language)
    full = rubric.render_markdown()
    bare = rubric.render_markdown(include_examples=False)
    assert rubric.ref in full
    for metric_id in METRICS:
        metric = rubric.metric(metric_id)
        assert metric.name in bare and metric.measures in bare
        assert all(text in bare for text in metric.anchors.values())
    assert [full.index(f"({m})") for m in METRICS] == sorted(full.index(f"({m})") for m in METRICS)
    for _, ex in rubric.examples():
        assert ex.text in full and ex.note in full
        assert ex.text not in bare
    systems = {ex.ref.system for _, ex in rubric.examples() if ex.ref}
    assert not any(re.search(rf"\b{re.escape(s)}\b", full) for s in systems)
    assert rubric.spec.diversity.measures not in full
    assert rubric.spec.diversity.measures in rubric.render_markdown(include_diversity=True)
    assert len(full) < 16_000
    assert len(bare) < 7_000


def test_translations_render_only_on_request() -> None:
    rubric = load_rubric("en")
    translation = next(ex.translation for _, ex in rubric.examples() if ex.translation)
    assert translation not in rubric.render_markdown()
    assert translation in rubric.render_markdown(include_translations=True)
