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
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chatanime.errors import DataError

CARDS_PACKAGE = "chatanime.data.characters"


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
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    slug: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    key: str = Field(min_length=1)
    version: int = Field(ge=1)
    zh: CardText
    en: CardText

    @property
    def name_zh(self) -> str:
        return self.zh.name

    @property
    def name_en(self) -> str:
        return self.en.name

    @property
    def work_zh(self) -> str:
        return self.zh.work

    @property
    def work_en(self) -> str:
        return self.en.work

    def card(self, language: str = "zh") -> CardText:
        """The card text in ``language`` ("zh" or "en")."""
        if language not in ("zh", "en"):
            raise ValueError(f"unknown card language {language!r}; use 'zh' or 'en'")
        return self.zh if language == "zh" else self.en

    @property
    def sha256(self) -> str:
        """Hash of the card content, stored with every prompt that quotes it."""
        payload = self.model_dump_json().encode("utf-8")
        return hashlib.sha256(payload).hexdigest()


def parse_card(text: str, source: str) -> Character:
    """Parse and validate one card file; errors name the file and the field."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DataError(f"{source}: not valid YAML ({exc})") from exc
    if not isinstance(raw, dict):
        raise DataError(f"{source}: a character card must be a mapping")
    try:
        return Character.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise DataError(f"{source}: field '{field}': {first['msg']}") from exc


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
        candidates = {char.slug, char.key.lower(), char.zh.name.lower(), char.en.name.lower()}
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
