"""Benchmarks as data: the two built-ins, user folders and files, validation errors, hashing."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from rich.console import Console
from typer.testing import CliRunner

from chatanime.benchmark import (
    BUILTIN_BENCHMARKS,
    Benchmark,
    builtin_benchmark_for_language,
    list_builtin_benchmarks,
    load_benchmark,
)
from chatanime.cli import benchmarks as benchmarks_cli
from chatanime.cli.benchmarks import register
from chatanime.errors import DataError
from chatanime.scenarios import Emotion, builtin_scenarios, normalise_question
from chatanime.scenarios import persona_for_release_id as persona_of

CJK = re.compile(
    r"[\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uff00-\uffef]"
)
HAN = re.compile(r"[\u4e00-\u9fff]")
DATA = Path(str(resources.files("chatanime.data.benchmarks")))
EXAMPLE = DATA / "examples" / "original-character"
HANA_CARD = EXAMPLE / "characters" / "hana.yaml"


def _release(path: Path) -> dict[str, list[dict[str, Any]]]:
    data: dict[str, list[dict[str, Any]]] = json.loads(path.read_text(encoding="utf-8"))
    return data


# --- the built-in benchmarks ---------------------------------------------------------------


def test_builtins_are_listed_default_first() -> None:
    benches = list_builtin_benchmarks()
    assert [b.name for b in benches] == list(BUILTIN_BENCHMARKS) == ["chatanime", "chatanime-en"]
    assert [b.language for b in benches] == ["zh", "en"]
    assert load_benchmark() is benches[0]


@pytest.mark.parametrize("name", BUILTIN_BENCHMARKS)
def test_builtin_shape(name: str) -> None:
    bench = load_benchmark(name)
    assert len(bench.characters) == 20
    assert [s.id for s in bench.scenarios] == list(range(1, 61))
    assert all(s.persona is persona_of(s.id) for s in bench.scenarios)
    assert {s.emotion for s in bench.scenarios} == set(Emotion)
    assert bench.description


def test_builtin_characters_are_the_release_characters_in_order(release_dir: Path) -> None:
    human = _release(release_dir / "human.json")
    for name in BUILTIN_BENCHMARKS:
        assert [c.key for c in load_benchmark(name).characters] == list(human)


def test_zh_questions_equal_human_json_for_every_character(release_dir: Path) -> None:
    bench = load_benchmark("chatanime")
    human = _release(release_dir / "human.json")
    for key, dialogs in human.items():
        assert [d["dialog_id"] for d in dialogs] == [s.id for s in bench.scenarios], key
        assert [d["question_r1"] for d in dialogs] == [s.question_r1 for s in bench.scenarios], key


def test_zh_questions_equal_llm_files_after_normalising(release_dir: Path) -> None:
    bench = load_benchmark("chatanime")
    expected = [s.question_r1 for s in bench.scenarios]
    llm_files = sorted(p for p in release_dir.glob("*.json") if p.stem != "human")
    assert len(llm_files) == 10
    for path in llm_files:
        for key, dialogs in _release(path).items():
            raw = [d["question_r1"] for d in dialogs]
            assert [normalise_question(q) for q in raw] == expected, (path.name, key)
            # The normalisation is what makes them equal: the raw text differs at 24 and 37.
            assert [
                i + 1 for i, (a, b) in enumerate(zip(raw, expected, strict=True)) if a != b
            ] == [24, 37]


def test_zh_annotations_are_chinese() -> None:
    for s in load_benchmark("chatanime").scenarios:
        assert HAN.search(s.location) and HAN.search(s.daily_event), s.id


def test_en_mirrors_zh_and_contains_no_cjk() -> None:
    zh, en = load_benchmark("chatanime"), load_benchmark("chatanime-en")
    assert [(s.id, s.persona, s.emotion) for s in en.scenarios] == [
        (s.id, s.persona, s.emotion) for s in zh.scenarios
    ]
    assert [c.slug for c in en.characters] == [c.slug for c in zh.characters]
    for s in en.scenarios:
        for text in (s.location, s.daily_event, s.question_r1):
            assert text.strip() and not CJK.search(text), (s.id, text)
    assert len({s.question_r1 for s in en.scenarios}) == 60


def test_card_follows_the_benchmark_language() -> None:
    zh, en = load_benchmark("chatanime"), load_benchmark("chatanime-en")
    assert zh.card("luffy") == zh.character("luffy").zh
    assert en.card("luffy") == en.character("luffy").en
    assert zh.scenario(24).question_r1.endswith("一切都值了！")


def test_builtin_scenarios_by_language() -> None:
    assert builtin_scenarios("zh") == load_benchmark("chatanime").scenarios
    assert builtin_scenarios("en") == builtin_benchmark_for_language("en").scenarios
    with pytest.raises(DataError, match="'fr'"):
        builtin_scenarios("fr")


def test_lookup_helpers_reject_unknown_ids() -> None:
    bench = load_benchmark("chatanime")
    assert bench.character("violet").slug == "violet"
    with pytest.raises(DataError, match="no character 'zoro'"):
        bench.character("zoro")
    with pytest.raises(DataError, match="no scenario 61"):
        bench.scenario(61)


# --- user-defined benchmarks ---------------------------------------------------------------


def test_example_with_an_original_character_loads() -> None:
    bench = load_benchmark(EXAMPLE)
    assert bench.name == "original-character-example"
    assert bench.language == "en"
    assert [c.slug for c in bench.characters] == ["hana", "madoka"]
    assert bench.card("hana").name == "Hana Asahi"
    assert [s.persona.value for s in bench.scenarios] == [
        "student",
        "office-worker",
        "freelancer",
        "self-employed",
    ]


def test_single_file_form_loads(tmp_path: Path) -> None:
    hana = yaml.safe_load(HANA_CARD.read_text(encoding="utf-8"))
    spec = {
        "name": "one-file",
        "language": "zh",
        "characters": ["rem", hana],
        "scenarios": [
            {
                "id": 5,
                "persona": "freelancer",
                "emotion": "worry",
                "location": "工作室",
                "daily_event": "客户一直催稿。",
                "question_r1": "客户又在催稿了，我今晚还能睡觉吗？",
            }
        ],
    }
    path = tmp_path / "one.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    bench = load_benchmark(str(path))
    assert [c.slug for c in bench.characters] == ["rem", "hana"]
    assert bench.card("hana").name == "朝日花"
    assert bench.scenario(5).location == "工作室"
    assert bench.answer_limit == 150 and bench.version == 1


def test_folder_and_single_file_forms_hash_the_same(tmp_path: Path) -> None:
    folder = load_benchmark(EXAMPLE)
    spec = yaml.safe_load((EXAMPLE / "benchmark.yaml").read_text(encoding="utf-8"))
    spec["characters"] = [yaml.safe_load(HANA_CARD.read_text(encoding="utf-8")), "madoka"]
    spec["scenarios"] = yaml.safe_load((EXAMPLE / "scenarios.yaml").read_text("utf-8"))["scenarios"]
    path = tmp_path / "inline.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True, width=60), encoding="utf-8")
    assert load_benchmark(path).sha256 == folder.sha256


def test_sha256_is_stable_and_content_sensitive(tmp_path: Path) -> None:
    copy = tmp_path / "bench"
    shutil.copytree(EXAMPLE, copy)
    first = load_benchmark(copy)
    assert re.fullmatch(r"[0-9a-f]{64}", first.sha256)
    assert load_benchmark(copy).sha256 == first.sha256
    assert load_benchmark("chatanime").sha256 != load_benchmark("chatanime-en").sha256
    assert first.ref == f"original-character-example@v1#{first.sha256[:12]}"

    scenarios = copy / "scenarios.yaml"
    scenarios.write_text(
        scenarios.read_text(encoding="utf-8").replace("two weeks!", "two weeks?"), "utf-8"
    )
    changed_question = load_benchmark(copy).sha256
    card = copy / "characters" / "hana.yaml"
    card.write_text(card.read_text(encoding="utf-8").replace("Hana Asahi", "Hana Asa"), "utf-8")
    changed_card = load_benchmark(copy).sha256
    assert len({first.sha256, changed_question, changed_card}) == 3
    assert first.model_copy(update={"answer_limit": 99}).sha256 != first.sha256


# --- validation errors name the file and the field -----------------------------------------

Edit = Callable[[Path], None]


def _edit_yaml(name: str, change: Callable[[Any], None]) -> Edit:
    def apply(folder: Path) -> None:
        path = folder / name
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        change(data)
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")

    return apply


def _write(name: str, text: str) -> Edit:
    def apply(folder: Path) -> None:
        (folder / name).write_text(text, encoding="utf-8")

    return apply


def _set_scenario(index: int, field: str, value: Any) -> Edit:
    return _edit_yaml("scenarios.yaml", lambda d: d["scenarios"][index].__setitem__(field, value))


BAD_CASES: dict[str, tuple[Edit, str, str]] = {
    "missing scenario field": (
        _edit_yaml("scenarios.yaml", lambda d: d["scenarios"][1].pop("question_r1")),
        "scenarios.yaml",
        "scenarios[1].question_r1: Field required",
    ),
    "bad persona": (
        _set_scenario(3, "persona", "pirate"),
        "scenarios.yaml",
        "scenarios[3].persona: Input should be 'student', 'office-worker'",
    ),
    "bad emotion": (
        _set_scenario(0, "emotion", "boredom"),
        "scenarios.yaml",
        "scenarios[0].emotion: Input should be 'joy'",
    ),
    "duplicate scenario id": (
        _set_scenario(2, "id", 1),
        "scenarios.yaml",
        "scenarios[2].id: duplicate scenario id 1",
    ),
    "unknown character slug": (
        _edit_yaml("benchmark.yaml", lambda d: d["characters"].append("zoro")),
        "benchmark.yaml",
        "characters[2]: unknown character slug 'zoro'",
    ),
    "duplicate character": (
        _edit_yaml("benchmark.yaml", lambda d: d["characters"].append("madoka")),
        "benchmark.yaml",
        "characters[2]: duplicate character slug 'madoka'",
    ),
    "missing card file": (
        _edit_yaml("benchmark.yaml", lambda d: d["characters"].append("characters/ghost.yaml")),
        "benchmark.yaml",
        "characters[2]: file 'characters/ghost.yaml' not found",
    ),
    "bad card": (
        _edit_yaml("characters/hana.yaml", lambda d: d["en"].pop("personality")),
        "characters/hana.yaml",
        "en.personality",
    ),
    "card without any language block": (
        _edit_yaml("characters/hana.yaml", lambda d: [d.pop("zh"), d.pop("en")]),
        "characters/hana.yaml",
        "a character card needs a `zh:` block, an `en:` block, or both",
    ),
    "missing benchmark field": (
        _edit_yaml("benchmark.yaml", lambda d: d.pop("language")),
        "benchmark.yaml",
        "language: Field required",
    ),
    "unknown benchmark field": (
        _edit_yaml("benchmark.yaml", lambda d: d.__setitem__("judge", "gpt")),
        "benchmark.yaml",
        "judge: Extra inputs are not permitted",
    ),
    "bad language": (
        _edit_yaml("benchmark.yaml", lambda d: d.__setitem__("language", "fr")),
        "benchmark.yaml",
        "language: Input should be 'zh' or 'en'",
    ),
    "bad yaml in scenarios": (
        _write("scenarios.yaml", "scenarios:\n  - id: 1\n   persona: [student\n"),
        "scenarios.yaml",
        "not valid YAML",
    ),
    "bad yaml in benchmark": (
        _write("benchmark.yaml", "name: x\n\tlanguage: en\n"),
        "benchmark.yaml",
        "not valid YAML",
    ),
    "scenarios not a mapping": (
        _write("scenarios.yaml", "- just a list\n"),
        "scenarios.yaml",
        "expected a mapping",
    ),
    "mixed language: Chinese question in an English benchmark": (
        _set_scenario(2, "question_r1", "今天终于接到了梦想中的工作室的项目！"),
        "scenarios.yaml",
        "scenarios[2].question_r1: contains Chinese/Japanese/Korean text",
    ),
    "mixed language: full-width punctuation in an English event": (
        _set_scenario(0, "daily_event", "The advisor asked for a rewrite，again."),
        "scenarios.yaml",
        "scenarios[0].daily_event: contains Chinese/Japanese/Korean text",
    ),
    "mixed language: scenarios file declares another language": (
        _edit_yaml("scenarios.yaml", lambda d: d.__setitem__("language", "zh")),
        "scenarios.yaml",
        "language: 'zh' does not match the benchmark language 'en'",
    ),
    "mixed language: benchmark says zh, scenarios file says en": (
        _edit_yaml(
            "benchmark.yaml",
            lambda d: d.__setitem__("language", "zh"),
        ),
        "scenarios.yaml",
        "language: 'en' does not match",
    ),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_input_names_file_and_field(case: str, tmp_path: Path) -> None:
    edit, filename, fragment = BAD_CASES[case]
    folder = tmp_path / "my-bench"
    shutil.copytree(EXAMPLE, folder)
    edit(folder)
    with pytest.raises(DataError) as err:
        load_benchmark(folder)
    message = str(err.value)
    assert message.startswith(f"{folder}/{filename}: "), message
    assert fragment in message, message


def test_zh_benchmark_with_an_english_question(tmp_path: Path) -> None:
    folder = tmp_path / "b"
    shutil.copytree(EXAMPLE, folder)
    _edit_yaml("benchmark.yaml", lambda d: d.__setitem__("language", "zh"))(folder)
    _edit_yaml("scenarios.yaml", lambda d: d.pop("language"))(folder)
    with pytest.raises(DataError) as err:
        load_benchmark(folder)
    assert str(err.value).startswith(f"{folder}/scenarios.yaml: scenarios[0].question_r1: ")
    assert "no Chinese text" in str(err.value)


def test_single_file_errors_name_the_file_and_inline_field(tmp_path: Path) -> None:
    hana = yaml.safe_load(HANA_CARD.read_text(encoding="utf-8"))
    del hana["zh"]["name"]
    path = tmp_path / "one.yaml"
    spec = {"name": "one", "language": "en", "characters": [hana], "scenarios": "nope.yaml"}
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    with pytest.raises(DataError, match=r"one\.yaml: characters\[0\]\.zh\.name: Field required"):
        load_benchmark(path)
    spec["characters"] = ["madoka"]
    spec["scenarios"] = [{"id": 1, "persona": "student"}]
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    with pytest.raises(DataError, match=r"one\.yaml: scenarios\[0\]\.emotion: Field required"):
        load_benchmark(path)


def test_missing_benchmark_paths(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no such benchmark.*chatanime-en"):
        load_benchmark(tmp_path / "nowhere")
    with pytest.raises(DataError, match="not a benchmark folder"):
        load_benchmark(tmp_path)
    folder = tmp_path / "b"
    shutil.copytree(EXAMPLE, folder)
    (folder / "scenarios.yaml").unlink()
    with pytest.raises(DataError, match=r"benchmark\.yaml: scenarios: file 'scenarios.yaml' not"):
        load_benchmark(folder)


def test_benchmark_model_rejects_duplicates() -> None:
    bench = load_benchmark(EXAMPLE)
    with pytest.raises(ValueError, match="duplicate scenario ids"):
        Benchmark.model_validate(
            {**bench.model_dump(), "scenarios": [bench.scenarios[0], bench.scenarios[0]]}
        )


# --- one-language cards ---------------------------------------------------------------------

ZH_SCENARIO = {
    "id": 5,
    "persona": "freelancer",
    "emotion": "worry",
    "location": "工作室",
    "daily_event": "客户一直催稿。",
    "question_r1": "客户又在催稿了，我今晚还能睡觉吗？",
}


def _hana(drop: str) -> dict[str, Any]:
    """The example card without its ``drop`` block."""
    card: dict[str, Any] = yaml.safe_load(HANA_CARD.read_text(encoding="utf-8"))
    del card[drop]
    return card


def _english_only_example(tmp_path: Path) -> Path:
    folder = tmp_path / "en-only"
    shutil.copytree(EXAMPLE, folder)
    _edit_yaml("characters/hana.yaml", lambda d: d.pop("zh"))(folder)
    return folder


def test_english_benchmark_with_an_english_only_card_loads(tmp_path: Path) -> None:
    folder = _english_only_example(tmp_path)
    bench = load_benchmark(folder)
    hana = bench.character("hana")
    assert hana.languages == ("en",) and bench.card("hana").name == "Hana Asahi"
    assert hana.source == f"{folder}/characters/hana.yaml"
    assert load_benchmark(folder).sha256 == bench.sha256
    assert bench.sha256 != load_benchmark(EXAMPLE).sha256  # the card's content changed


def test_chinese_benchmark_refuses_an_english_only_card_at_load(tmp_path: Path) -> None:
    cards = tmp_path / "cards"
    cards.mkdir()
    (cards / "hana.yaml").write_text(yaml.safe_dump(_hana("zh")), encoding="utf-8")
    path = tmp_path / "zh.yaml"
    spec = {
        "name": "zh-bench",
        "language": "zh",
        "characters": ["rem", "cards/hana.yaml"],
        "scenarios": [ZH_SCENARIO],
    }
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_benchmark(path)
    card = f"{tmp_path}/cards/hana.yaml"
    assert str(err.value) == (
        f"{tmp_path}/zh.yaml: characters[1]: character 'hana' ({card}) has no `zh:` card block "
        f"but the benchmark language is 'zh'; add a `zh:` block to {card}"
    )


def test_inline_one_language_cards_follow_the_same_rule(tmp_path: Path) -> None:
    path = tmp_path / "one.yaml"
    spec = {
        "name": "one",
        "language": "zh",
        "characters": [_hana("en")],
        "scenarios": [ZH_SCENARIO],
    }
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    assert load_benchmark(path).card("hana").name == "朝日花"
    spec["characters"] = ["rem", _hana("zh")]
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_benchmark(path)
    assert str(err.value).startswith(f"{path}: characters[1]: character 'hana' ")
    assert f"add a `zh:` block to {path} (characters[1])" in str(err.value)


def test_benchmark_model_rejects_a_card_without_its_language(tmp_path: Path) -> None:
    bench = load_benchmark(_english_only_example(tmp_path))
    with pytest.raises(ValueError, match=r"characters without a 'zh' card block: \['hana'\]"):
        Benchmark.model_validate({**dict(bench), "language": "zh"})


# --- CLI -----------------------------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    # A wide console so that table cells are not folded across lines.
    monkeypatch.setattr(benchmarks_cli, "console", Console(width=400))
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """Root."""

    register(app)
    return app


def test_cli_lists_builtins(cli: typer.Typer) -> None:
    result = CliRunner().invoke(cli, ["benchmarks"])
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if "│" in line}
    assert re.search(r"│\s*zh\s*│\s*20\s*│\s*60\s*│", rows["chatanime"])
    assert re.search(r"│\s*en\s*│\s*20\s*│\s*60\s*│", rows["chatanime-en"])


def test_cli_show_and_validate(cli: typer.Typer) -> None:
    runner = CliRunner()
    shown = runner.invoke(cli, ["benchmarks", "show", "chatanime-en"])
    assert shown.exit_code == 0, shown.output
    assert "Luffy" in shown.output
    assert "Introduction to Psychology" in shown.output
    ok = runner.invoke(cli, ["benchmarks", "validate", str(EXAMPLE)])
    assert ok.exit_code == 0 and "original-character-example" in ok.output


def test_cli_validate_surfaces_data_error(cli: typer.Typer, tmp_path: Path) -> None:
    folder = tmp_path / "b"
    shutil.copytree(EXAMPLE, folder)
    _set_scenario(0, "persona", "pirate")(folder)
    result = CliRunner().invoke(cli, ["benchmarks", "validate", str(folder)])
    assert isinstance(result.exception, DataError)
    assert "scenarios[0].persona" in str(result.exception)
