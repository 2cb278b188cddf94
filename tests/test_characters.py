"""The 20 built-in character cards: they load, match the release, stay concise, and fail loudly."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from chatanime.characters import (
    CARDS_PACKAGE,
    CardText,
    Character,
    builtin_characters,
    character_by_key,
    get_character,
    load_card_file,
    parse_card,
)
from chatanime.errors import DataError

HEADER = (
    "# Character card written by the chatanime team (not from the ChatAnime study). "
    "Version-bump on any content change."
)
CJK = re.compile(r"[\u4e00-\u9fff]")
# The brief asks for roughly 150-300 English words / 250-600 Chinese characters per language;
# the bounds leave some slack so a small edit does not fail CI, but catch a gutted or bloated card.
EN_WORDS = (120, 360)
ZH_CHARS = (200, 700)


def _cards_root() -> Any:
    return resources.files(CARDS_PACKAGE)


def _index_order() -> list[str]:
    index = yaml.safe_load(_cards_root().joinpath("index.yaml").read_text(encoding="utf-8"))
    order: list[str] = index["order"]
    return order


def _card_text(slug: str) -> str:
    text: str = _cards_root().joinpath(f"{slug}.yaml").read_text(encoding="utf-8")
    return text


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _all_text(card: CardText) -> list[str]:
    return list(_strings(card.model_dump()))


def _release_keys(release_dir: Path) -> list[str]:
    human = json.loads((release_dir / "human.json").read_text(encoding="utf-8"))
    return list(human)


def _luffy_raw() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(_card_text("luffy"))
    return raw


def _dump(raw: object) -> str:
    return yaml.safe_dump(raw, allow_unicode=True, sort_keys=False)


# --- the built-in set -------------------------------------------------------------------------


def test_all_twenty_load_in_index_order() -> None:
    chars = builtin_characters()
    assert len(chars) == 20
    assert [c.slug for c in chars] == _index_order()


def test_every_card_file_is_in_the_index() -> None:
    files = {
        entry.name.removesuffix(".yaml")
        for entry in _cards_root().iterdir()
        if entry.name.endswith(".yaml") and entry.name != "index.yaml"
    }
    assert files == set(_index_order())


def test_keys_are_the_release_keys_in_release_order(release_dir: Path) -> None:
    keys = [c.key for c in builtin_characters()]
    assert set(keys) == set(_release_keys(release_dir))
    assert keys == _release_keys(release_dir)


def test_names_are_unique_and_belong_to_their_key() -> None:
    chars = builtin_characters()
    for lang in ("zh", "en"):
        names = [c.card(lang).name for c in chars]
        assert len(set(names)) == len(names), lang
    for c in chars:
        # The Chinese work and name are the release key's own words, so the role-play prompt
        # ("你是《work》的name") says exactly what the study's did, and a card pasted onto the
        # wrong slug is caught.
        assert c.key == f"《{c.zh.work}》的{c.zh.name}", c.slug


@pytest.mark.parametrize("slug", _index_order())
def test_card_file_starts_with_provenance_header(slug: str) -> None:
    assert _card_text(slug).splitlines()[0] == HEADER


@pytest.mark.parametrize("slug", _index_order())
def test_card_lengths_are_concise(slug: str) -> None:
    char = get_character(slug)
    en_words = sum(len(s.split()) for s in _all_text(char.en))
    zh_chars = sum(len(CJK.findall(s)) for s in _all_text(char.zh))
    assert EN_WORDS[0] <= en_words <= EN_WORDS[1], f"{slug}: {en_words} English words"
    assert ZH_CHARS[0] <= zh_chars <= ZH_CHARS[1], f"{slug}: {zh_chars} Chinese characters"


@pytest.mark.parametrize("slug", _index_order())
def test_languages_are_not_mixed_up(slug: str) -> None:
    char = get_character(slug)
    assert not [s for s in _all_text(char.en) if CJK.search(s)], "Chinese text in the en card"
    for field in ("personality", "experiences", "behavioural_habits"):
        texts = list(_strings(char.zh.model_dump()[field]))
        assert all(CJK.search(s) for s in texts), f"{slug}: zh {field} is not Chinese"


@pytest.mark.parametrize("slug", _index_order())
def test_chinese_text_has_no_folded_line_spaces(slug: str) -> None:
    # A folded YAML block (">-") joins lines with a space, which reads as a typo in Chinese.
    stray = re.compile(
        r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]\s|\s[\u4e00-\u9fff\uff00-\uffef]"
    )
    bad = [s for s in _all_text(get_character(slug).zh) if stray.search(s)]
    assert not bad, f"{slug}: whitespace inside Chinese text: {bad}"


@pytest.mark.parametrize("slug", _index_order())
def test_experiences_pair_up_across_languages(slug: str) -> None:
    char = get_character(slug)
    assert 5 <= len(char.zh.experiences) <= 10
    assert len(char.zh.experiences) == len(char.en.experiences)


# --- lookup -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "luffy",
        "  LUFFY ",
        "蒙奇·D·路飞",
        "Monkey D. Luffy",
        "monkey d. luffy",
        "《海贼王》的蒙奇·D·路飞",
    ],
)
def test_get_character_by_slug_key_and_names(query: str) -> None:
    assert get_character(query).slug == "luffy"


def test_get_character_finds_every_card_by_each_name() -> None:
    for char in builtin_characters():
        assert get_character(char.zh.name) is char
        assert get_character(char.en.name) is char
        assert character_by_key(char.key) is char


def test_unknown_character_lists_known_slugs() -> None:
    with pytest.raises(DataError, match=r"unknown character 'zoro'; known characters: luffy, "):
        get_character("zoro")
    assert character_by_key("《海贼王》的罗罗诺亚·索隆") is None


def test_card_language_switch() -> None:
    char = get_character("levi")
    assert char.card() is char.zh
    assert char.card("en").name == "Levi Ackerman"
    with pytest.raises(ValueError, match="unknown card language 'fr'"):
        char.card("fr")


# --- broken cards -----------------------------------------------------------------------------


def test_missing_field_names_file_and_field() -> None:
    raw = _luffy_raw()
    del raw["zh"]["personality"]
    with pytest.raises(DataError) as info:
        parse_card(_dump(raw), "broken.yaml")
    assert str(info.value) == "broken.yaml: field 'zh.personality': Field required"


def test_missing_nested_speech_field() -> None:
    raw = _luffy_raw()
    del raw["en"]["speech_style"]["catchphrases"]
    with pytest.raises(DataError, match=r"^broken\.yaml: field 'en\.speech_style\.catchphrases'"):
        parse_card(_dump(raw), "broken.yaml")


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda r: r.__setitem__("version", "one"), "version"),
        (lambda r: r["zh"].__setitem__("experiences", "went to sea"), "zh.experiences"),
        (lambda r: r["en"].__setitem__("experiences", ["a", "b"]), "en.experiences"),
        (lambda r: r["zh"].__setitem__("mood", "happy"), "zh.mood"),
        (lambda r: r.__setitem__("slug", "Luffy!"), "slug"),
    ],
)
def test_wrong_type_or_value_names_the_field(mutate: Any, field: str) -> None:
    raw = _luffy_raw()
    mutate(raw)
    with pytest.raises(DataError, match=rf"^luffy\.yaml: field '{re.escape(field)}': "):
        parse_card(_dump(raw), "luffy.yaml")


def test_bad_yaml_names_the_file() -> None:
    with pytest.raises(DataError, match=r"^broken\.yaml: not valid YAML"):
        parse_card("slug: luffy\nzh: [unclosed\n", "broken.yaml")


def test_non_mapping_card() -> None:
    with pytest.raises(DataError, match=r"^list\.yaml: a character card must be a mapping"):
        parse_card("- luffy\n- naruto\n", "list.yaml")


def test_load_card_file_names_the_path(tmp_path: Path) -> None:
    good = tmp_path / "oc.yaml"
    good.write_text(_card_text("rem"), encoding="utf-8")
    assert load_card_file(good) == get_character("rem")
    raw: dict[str, Any] = yaml.safe_load(_card_text("rem"))
    del raw["key"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(_dump(raw), encoding="utf-8")
    with pytest.raises(DataError, match=rf"^{re.escape(str(bad))}: field 'key'"):
        load_card_file(bad)


# --- hashing ----------------------------------------------------------------------------------


def test_sha256_is_stable_and_tracks_content() -> None:
    text = _card_text("luffy")
    base = parse_card(text, "luffy.yaml")
    assert re.fullmatch(r"[0-9a-f]{64}", base.sha256)
    assert parse_card(text, "again.yaml").sha256 == base.sha256
    # Comments and layout are not content.
    assert parse_card("# another comment\n" + text, "luffy.yaml").sha256 == base.sha256

    edited = text.replace("嘻嘻嘻！", "嘿嘿嘿！", 1)
    assert edited != text
    assert parse_card(edited, "luffy.yaml").sha256 != base.sha256

    raw = _luffy_raw()
    raw["version"] += 1
    assert parse_card(_dump(raw), "luffy.yaml").sha256 != base.sha256


def test_builtin_hashes_are_distinct() -> None:
    hashes = {c.sha256 for c in builtin_characters()}
    assert len(hashes) == 20


def test_character_is_frozen() -> None:
    char: Character = get_character("violet")
    with pytest.raises(ValueError):
        char.version = 2  # type: ignore[misc]
