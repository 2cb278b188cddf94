"""The 20 built-in character cards: they load, match the release, stay concise, and fail loudly."""

from __future__ import annotations

import hashlib
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


def test_builtin_hashes_keep_the_two_block_payload() -> None:
    # Stored runs reference these hashes: with both blocks present, the hash must stay the
    # hash of the full dump, as it was before the blocks became optional.
    for char in builtin_characters():
        assert char.languages == ("zh", "en")
        full = hashlib.sha256(char.model_dump_json().encode("utf-8")).hexdigest()
        assert char.sha256 == full, char.slug


# --- one-language cards -----------------------------------------------------------------------


def _one_language(drop: str) -> str:
    raw = _luffy_raw()
    del raw[drop]
    raw["slug"] = "solo"
    return _dump(raw)


def test_a_card_may_have_one_block_only() -> None:
    solo = parse_card(_one_language("zh"), "cards/solo.yaml")
    assert solo.zh is None and solo.languages == ("en",)
    assert solo.card("en").name == "Monkey D. Luffy"
    assert solo.blocks == (solo.card("en"),) and solo.names == ("Monkey D. Luffy",)
    assert solo.source == "cards/solo.yaml"
    zh_only = parse_card(_one_language("en"), "zh.yaml")
    assert zh_only.languages == ("zh",) and zh_only.names == ("蒙奇·D·路飞",)


def test_display_names_fall_back_to_the_block_the_card_has() -> None:
    solo = parse_card(_one_language("zh"), "solo.yaml")
    assert (solo.name_zh, solo.name_en) == ("Monkey D. Luffy", "Monkey D. Luffy")
    assert (solo.work_zh, solo.work_en) == ("One Piece", "One Piece")
    assert solo.display_card("zh") is solo.en
    luffy = get_character("luffy")
    assert (luffy.name_zh, luffy.name_en) == ("蒙奇·D·路飞", "Monkey D. Luffy")
    assert luffy.display_card("en") is luffy.en


def test_asking_for_a_missing_block_says_which_and_where_to_add_it() -> None:
    solo = parse_card(_one_language("zh"), "cards/solo.yaml")
    with pytest.raises(DataError) as info:
        solo.card("zh")
    assert str(info.value) == (
        "character 'solo' has no `zh:` card block (it has `en:`); "
        "add a `zh:` block to cards/solo.yaml to use it in a 'zh' benchmark"
    )
    zh_only = parse_card(_one_language("en"), "cards/zh-only.yaml")
    with pytest.raises(DataError, match=r"add an `en:` block to cards/zh-only\.yaml"):
        zh_only.card("en")
    # A card built without a file still says which card to fix.
    unlocated = Character.model_validate(yaml.safe_load(_one_language("zh")))
    with pytest.raises(DataError, match=r"add a `zh:` block to the card of 'solo'"):
        unlocated.card("zh")


def test_a_card_without_any_block_is_refused() -> None:
    raw = _luffy_raw()
    del raw["zh"], raw["en"]
    with pytest.raises(DataError) as info:
        parse_card(_dump(raw), "cards/empty.yaml")
    assert str(info.value).startswith(
        "cards/empty.yaml: a character card needs a `zh:` block, an `en:` block, or both"
    )
    raw["en"] = None  # an explicit empty block is no block either
    with pytest.raises(DataError, match=r"^cards/empty\.yaml: a character card needs"):
        parse_card(_dump(raw), "cards/empty.yaml")


def test_one_block_hash_leaves_the_absent_block_out() -> None:
    solo = parse_card(_one_language("zh"), "a.yaml")
    payload = solo.model_dump_json(exclude={"zh"}).encode("utf-8")
    assert solo.sha256 == hashlib.sha256(payload).hexdigest()
    assert parse_card(_one_language("zh"), "elsewhere/b.yaml").sha256 == solo.sha256
    assert parse_card(_one_language("en"), "a.yaml").sha256 != solo.sha256


def test_where_a_card_was_read_is_not_part_of_it(tmp_path: Path) -> None:
    first = parse_card(_card_text("rem"), "one.yaml")
    second = parse_card(_card_text("rem"), "two.yaml")
    assert (first.source, second.source) == ("one.yaml", "two.yaml")
    assert first == second and first.sha256 == second.sha256
    assert "one.yaml" not in first.model_dump_json()
