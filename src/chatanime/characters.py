"""The 20 characters of the ChatAnime study and their character cards.

A card is a data file (``data/characters/<slug>.yaml``) rather than code so that
it can be reviewed, versioned and hashed like a prompt: the role-play prompt's
card variant and the judge's role-playing reference both quote it, and a score
is only comparable with another if they saw the same card (see ``Card.sha256``).
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from chatanime.errors import DataError

CARDS_PACKAGE = "chatanime.data.characters"
CARD_LANGUAGES: tuple[str, ...] = ("zh", "en")
NO_BLOCK = (
    "a character card needs a `zh:` block, an `en:` block, or both "
    "(one for each language of the benchmarks it is used in)"
)
# Where ``Character.source`` lives in the instance ``__dict__`` (outside the fields).
_SOURCE_KEY = "_card_source"


class SpeechStyle(BaseModel):
    """How the character talks: the part of a card the Speech Style metric checks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tone: str = Field(min_length=1)
    catchphrases: list[str] = Field(min_length=1)
    addressing_others: str = Field(min_length=1)
    sentence_endings: str = Field(min_length=1)


class CardText(BaseModel):
    """One language's version of a card."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    work: str = Field(min_length=1)
    name: str = Field(min_length=1)
    forms_of_address: list[str] = Field(min_length=1)
    personality: str = Field(min_length=1)
    speech_style: SpeechStyle
    behavioural_habits: list[str] = Field(min_length=2)
    experiences: list[str] = Field(min_length=5, max_length=10)

    def summary(self) -> str:
        """A two-line digest for terminal output."""
        return f"{self.name} ({self.work}) — {self.personality}"


class Character(BaseModel):
    """A character: stable ASCII slug, the release's JSON key, and its card.

    ``key`` is how the release names the character (``《作品》的角色``); joins
    across system files always go through it, never through file order.

    The 20 built-in cards carry a ``zh`` and an ``en`` block; a user's card only
    needs the block of each language it is used in (a benchmark checks its own
    language when it loads), so an English-only benchmark needs no Chinese card.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    slug: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    key: str = Field(min_length=1)
    version: int = Field(ge=1)
    zh: CardText | None = None
    en: CardText | None = None

    @model_validator(mode="after")
    def _has_a_block(self) -> Character:
        if self.zh is None and self.en is None:
            raise ValueError(NO_BLOCK)
        return self

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages the card has a block for, in ``CARD_LANGUAGES`` order."""
        return tuple(lang for lang in CARD_LANGUAGES if getattr(self, lang) is not None)

    @property
    def blocks(self) -> tuple[CardText, ...]:
        """The card's blocks (one or two), for checks that look at every name it goes by."""
        return tuple(self.card(lang) for lang in self.languages)

    @property
    def names(self) -> tuple[str, ...]:
        """The character's name in each block it has (lookups accept any of them)."""
        return tuple(block.name for block in self.blocks)

    @property
    def source(self) -> str | None:
        """The file the card was read from, if known; only error messages use it.

        Kept out of the fields (like a cached property) so that it changes neither
        equality, dumps nor :attr:`sha256`: the same card read from two places is
        the same card.
        """
        value = self.__dict__.get(_SOURCE_KEY)
        return value if isinstance(value, str) else None

    def located(self, source: str) -> Character:
        """This character, remembering ``source`` (a file, or a file and field) for errors."""
        copy = self.model_copy()
        copy.__dict__[_SOURCE_KEY] = source
        return copy

    def display_card(self, language: str) -> CardText:
        """The block in ``language``, else the block the card has: for labels, never prompts.

        A prompt must quote the benchmark's own language (:meth:`card`), but a name
        shown in a table is better in the other language than missing.
        """
        _check_language(language)
        block = getattr(self, language)
        return block if isinstance(block, CardText) else self.blocks[0]

    @property
    def name_zh(self) -> str:
        return self.display_card("zh").name

    @property
    def name_en(self) -> str:
        return self.display_card("en").name

    @property
    def work_zh(self) -> str:
        return self.display_card("zh").work

    @property
    def work_en(self) -> str:
        return self.display_card("en").work

    def card(self, language: str = "zh") -> CardText:
        """The card text in ``language`` ("zh" or "en"); a missing block is a ``DataError``."""
        _check_language(language)
        block = getattr(self, language)
        if isinstance(block, CardText):
            return block
        where = self.source or f"the card of {self.slug!r}"
        has = ", ".join(f"`{lang}:`" for lang in self.languages)
        raise DataError(
            f"character {self.slug!r} has no `{language}:` card block (it has {has}); "
            f"{add_block_hint(language, where)} to use it in a {language!r} benchmark"
        )

    @property
    def sha256(self) -> str:
        """Hash of the card content, stored with every prompt that quotes it.

        An absent block is left out of the payload rather than dumped as ``null``,
        so a card with both blocks (every built-in) hashes as it did before blocks
        became optional, and stored runs still match their cards.
        """
        absent = {lang for lang in CARD_LANGUAGES if getattr(self, lang) is None}
        payload = self.model_dump_json(exclude=absent or None).encode("utf-8")
        return hashlib.sha256(payload).hexdigest()


def add_block_hint(language: str, where: str) -> str:
    """The fix every missing-block error suggests: "add an `en:` block to <where>"."""
    article = "an" if language == "en" else "a"
    return f"add {article} `{language}:` block to {where}"


def _check_language(language: str) -> None:
    if language not in CARD_LANGUAGES:
        raise ValueError(f"unknown card language {language!r}; use 'zh' or 'en'")


def parse_card(text: str, source: str) -> Character:
    """Parse and validate one card file; errors name the file and the field."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DataError(f"{source}: not valid YAML ({exc})") from exc
    if not isinstance(raw, dict):
        raise DataError(f"{source}: a character card must be a mapping")
    try:
        char = Character.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        if not first["loc"]:  # a whole-card rule, e.g. neither language block
            raise DataError(f"{source}: {first.get('ctx', {}).get('error', first['msg'])}") from exc
        field = ".".join(str(p) for p in first["loc"])
        raise DataError(f"{source}: field '{field}': {first['msg']}") from exc
    return char.located(source)


def load_card_file(path: Path) -> Character:
    """Load a user-written card (e.g. an original character of a custom benchmark)."""
    return parse_card(path.read_text(encoding="utf-8"), str(path))


@cache
def builtin_characters() -> tuple[Character, ...]:
    """The 20 built-in characters, in the release's order (``order`` in the index)."""
    root = resources.files(CARDS_PACKAGE)
    index = yaml.safe_load(root.joinpath("index.yaml").read_text(encoding="utf-8"))
    cards = []
    for slug in index["order"]:
        entry = root.joinpath(f"{slug}.yaml")
        cards.append(parse_card(entry.read_text(encoding="utf-8"), f"{slug}.yaml"))
    return tuple(cards)


def get_character(name: str) -> Character:
    """Find a built-in character by slug, release key, or Chinese/English name."""
    needle = name.strip().lower()
    for char in builtin_characters():
        candidates = {char.slug, char.key.lower(), *(n.lower() for n in char.names)}
        if needle in candidates:
            return char
    known = ", ".join(c.slug for c in builtin_characters())
    raise DataError(f"unknown character {name!r}; known characters: {known}")


def character_by_key(key: str) -> Character | None:
    """The built-in character whose release key is ``key``, if any."""
    for char in builtin_characters():
        if char.key == key:
            return char
    return None
