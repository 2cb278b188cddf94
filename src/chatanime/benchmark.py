"""Benchmarks: a language, a set of characters and a set of scenarios, defined as data.

The built-in ChatAnime benchmark (``chatanime``, Chinese), its English version
(``chatanime-en``) and a user's own benchmark are all read by the same loader
from the same format, so there is one code path to trust: a folder holding
``benchmark.yaml`` (plus ``scenarios.yaml`` and optional ``characters/*.yaml``)
or one YAML file holding everything inline. ``docs/benchmark-format.md``
describes the format.

Characters are named by built-in slug or by a card file of the same schema as
the built-in 20 (so a user can add an original character); they are resolved
through :mod:`chatanime.characters` when a benchmark is loaded, not at import.
Every validation problem is a :class:`~chatanime.errors.DataError` naming the
file and the field, because the person fixing it is editing that file.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from functools import cache, cached_property
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath
from typing import Any, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from chatanime.characters import (
    CardText,
    Character,
    add_block_hint,
    builtin_characters,
    parse_card,
)
from chatanime.errors import DataError
from chatanime.scenarios import Scenario, parse_scenarios, validation_message

BENCHMARKS_PACKAGE = "chatanime.data.benchmarks"
BENCHMARK_FILE = "benchmark.yaml"
DEFAULT_BENCHMARK = "chatanime"
BUILTIN_BENCHMARKS: tuple[str, ...] = ("chatanime", "chatanime-en")
_BUILTIN_BY_LANGUAGE = {"zh": "chatanime", "en": "chatanime-en"}

Language = Literal["zh", "en"]
_SLUG = r"^[a-z][a-z0-9_-]*$"
# Han, kana, hangul and full-width punctuation: none belongs in an English scenario.
_CJK = re.compile(
    r"[\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uff00-\uffef]"
)
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


class Benchmark(BaseModel):
    """A loaded, validated benchmark; ``sha256`` ties results to its exact content."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_SLUG)
    language: Language
    description: str = ""
    version: int = Field(default=1, ge=1)
    characters: tuple[Character, ...] = Field(min_length=1)
    scenarios: tuple[Scenario, ...] = Field(min_length=1)
    answer_limit: int = Field(default=150, ge=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> Benchmark:
        slugs = [c.slug for c in self.characters]
        ids = [s.id for s in self.scenarios]
        if len(set(slugs)) != len(slugs):
            raise ValueError(f"duplicate character slugs in {slugs}")
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate scenario ids")
        lacking = [c.slug for c in self.characters if self.language not in c.languages]
        if lacking:
            raise ValueError(f"characters without a {self.language!r} card block: {lacking}")
        return self

    @cached_property
    def sha256(self) -> str:
        """Hash of the whole content (cards included), stored with every run on it.

        Cached because it costs ~2 ms and callers ask per dialogue; ``model_copy``
        drops the cached value, since an update would otherwise leave it stale.
        """
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        copied = super().model_copy(update=update, deep=deep)
        copied.__dict__.pop("sha256", None)
        return copied

    @property
    def ref(self) -> str:
        """Short reference for reports: ``name@vN#hash12``."""
        return f"{self.name}@v{self.version}#{self.sha256[:12]}"

    def character(self, slug: str) -> Character:
        """The benchmark's character with this slug; unknown slugs are a ``DataError``."""
        for char in self.characters:
            if char.slug == slug:
                return char
        known = ", ".join(c.slug for c in self.characters)
        raise DataError(f"benchmark {self.name}: no character {slug!r}; it has: {known}")

    def card(self, slug: str) -> CardText:
        """The character's card in the benchmark's language (prompts quote this block)."""
        return self.character(slug).card(self.language)

    def scenario(self, scenario_id: int) -> Scenario:
        """The benchmark's scenario with this id; unknown ids are a ``DataError``."""
        for scenario in self.scenarios:
            if scenario.id == scenario_id:
                return scenario
        raise DataError(
            f"benchmark {self.name}: no scenario {scenario_id}; "
            f"ids are {self.scenarios[0].id}..{self.scenarios[-1].id}"
        )


class BenchmarkFile(BaseModel):
    """Schema of ``benchmark.yaml`` (or of a single-file benchmark)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=_SLUG)
    language: Language
    description: str = ""
    version: int = Field(default=1, ge=1)
    answer_limit: int = Field(default=150, ge=1)
    characters: list[str | dict[str, Any]] = Field(min_length=1)
    scenarios: str | list[Any]


class _Folder:
    """Where a benchmark's files live: a real directory or the package's data."""

    def __init__(self, root: Traversable, display: str) -> None:
        self.root = root
        self.display = display

    def name_of(self, relative: str) -> str:
        """How a file is named in error messages (as the user would type it)."""
        return relative if self.display in ("", ".") else f"{self.display}/{relative}"

    def read(self, relative: str, referrer: str, field: str) -> str:
        entry = self.root
        for part in PurePosixPath(relative).parts:
            entry = entry.joinpath(part)
        if not entry.is_file():
            raise DataError(f"{referrer}: {field}: file {relative!r} not found")
        return entry.read_text(encoding="utf-8")


def _parse_yaml_mapping(text: str, source: str) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DataError(f"{source}: not valid YAML ({exc})") from exc
    if not isinstance(raw, dict):
        raise DataError(f"{source}: expected a mapping at the top level")
    return raw


def _resolve_characters(spec: BenchmarkFile, folder: _Folder, source: str) -> list[Character]:
    """Turn slugs, card paths and inline cards into characters, rejecting duplicates."""
    chars: list[Character] = []
    for index, entry in enumerate(spec.characters):
        field = f"characters[{index}]"
        char = _resolve_character(entry, folder, source, field)
        if any(c.slug == char.slug for c in chars):
            raise DataError(f"{source}: {field}: duplicate character slug {char.slug!r}")
        _check_card_language(char, spec.language, f"{source}: {field}")
        chars.append(char)
    return chars


def _check_card_language(char: Character, language: Language, where: str) -> None:
    """Refuse at load time a card the benchmark's prompts could not quote.

    Without this, an English-only card in a Chinese benchmark would load and only
    fail at the first model call, deep in a run.
    """
    if language in char.languages:
        return
    card_file = char.source or where
    raise DataError(
        f"{where}: character {char.slug!r} ({card_file}) has no `{language}:` card block "
        f"but the benchmark language is {language!r}; {add_block_hint(language, card_file)}"
    )


def _resolve_character(
    entry: str | dict[str, Any], folder: _Folder, source: str, field: str
) -> Character:
    if isinstance(entry, dict):
        try:
            return Character.model_validate(entry).located(f"{source} ({field})")
        except ValidationError as exc:
            raise DataError(validation_message(source, exc, field)) from exc
    if entry.endswith((".yaml", ".yml")) or "/" in entry:
        text = folder.read(entry, source, field)
        return parse_card(text, folder.name_of(entry))
    for char in builtin_characters():
        if char.slug == entry:
            return char
    known = ", ".join(c.slug for c in builtin_characters())
    raise DataError(
        f"{source}: {field}: unknown character slug {entry!r} "
        f"(built-in slugs: {known}; or give a card file path ending in .yaml)"
    )


def _resolve_scenarios(
    spec: BenchmarkFile, folder: _Folder, source: str
) -> tuple[tuple[Scenario, ...], str, str]:
    """Read the scenarios inline or from their file; returns them, the file and the field."""
    if isinstance(spec.scenarios, list):
        return parse_scenarios(spec.scenarios, source), source, "scenarios"
    file_source = folder.name_of(spec.scenarios)
    raw = _parse_yaml_mapping(folder.read(spec.scenarios, source, "scenarios"), file_source)
    extra = set(raw) - {"language", "scenarios"}
    if extra:
        raise DataError(
            f"{file_source}: {sorted(extra)[0]}: unknown field (allowed: language, scenarios)"
        )
    declared = raw.get("language")
    if declared is not None and declared != spec.language:
        raise DataError(
            f"{file_source}: language: {declared!r} does not match the benchmark language "
            f"{spec.language!r} declared in {source}"
        )
    return parse_scenarios(raw.get("scenarios"), file_source), file_source, "scenarios"


def _check_language(
    scenarios: tuple[Scenario, ...], language: Language, source: str, field: str
) -> None:
    """Catch a scenario left in the other language (e.g. an untranslated line)."""
    for index, scenario in enumerate(scenarios):
        where = f"{field}[{index}]"
        if language == "en":
            for name in ("location", "daily_event", "question_r1"):
                if _CJK.search(getattr(scenario, name)):
                    raise DataError(
                        f"{source}: {where}.{name}: contains Chinese/Japanese/Korean text "
                        "but the benchmark language is 'en'"
                    )
        elif not _HAN.search(scenario.question_r1):
            raise DataError(
                f"{source}: {where}.question_r1: contains no Chinese text "
                "but the benchmark language is 'zh'"
            )


def _build(raw: Mapping[str, Any], folder: _Folder, source: str) -> Benchmark:
    """Validate a benchmark mapping read from ``source`` and resolve what it references."""
    try:
        spec = BenchmarkFile.model_validate(dict(raw))
    except ValidationError as exc:
        raise DataError(validation_message(source, exc)) from exc
    characters = _resolve_characters(spec, folder, source)
    scenarios, scenario_source, field = _resolve_scenarios(spec, folder, source)
    _check_language(scenarios, spec.language, scenario_source, field)
    return Benchmark(
        name=spec.name,
        language=spec.language,
        description=spec.description.strip(),
        version=spec.version,
        characters=tuple(characters),
        scenarios=scenarios,
        answer_limit=spec.answer_limit,
    )


def _load_file(folder: _Folder, filename: str) -> Benchmark:
    source = folder.name_of(filename)
    text = folder.read(filename, source, "file")
    return _build(_parse_yaml_mapping(text, source), folder, source)


@cache
def _load_builtin(name: str) -> Benchmark:
    root = resources.files(BENCHMARKS_PACKAGE).joinpath(name)
    return _load_file(_Folder(root, name), BENCHMARK_FILE)


def load_benchmark(name_or_path: str | Path = DEFAULT_BENCHMARK) -> Benchmark:
    """Load a built-in benchmark by name, a benchmark folder, or a single benchmark file.

    A string equal to a built-in name (``chatanime``, ``chatanime-en``) always
    means the built-in; anything else is a path.
    """
    if isinstance(name_or_path, str) and name_or_path in BUILTIN_BENCHMARKS:
        return _load_builtin(name_or_path)
    path = Path(name_or_path)
    if path.is_dir():
        if not (path / BENCHMARK_FILE).is_file():
            raise DataError(f"{path}: not a benchmark folder (no {BENCHMARK_FILE} in it)")
        return _load_file(_Folder(path, str(path)), BENCHMARK_FILE)
    if path.is_file():
        return _load_file(_Folder(path.parent, str(path.parent)), path.name)
    raise DataError(
        f"{name_or_path}: no such benchmark; give a built-in name "
        f"({', '.join(BUILTIN_BENCHMARKS)}), a folder with {BENCHMARK_FILE}, or a YAML file"
    )


def list_builtin_benchmarks() -> tuple[Benchmark, ...]:
    """Every built-in benchmark, the default (``chatanime``) first."""
    return tuple(_load_builtin(name) for name in BUILTIN_BENCHMARKS)


def builtin_benchmark_for_language(language: str) -> Benchmark:
    """The built-in ChatAnime benchmark in ``language`` ("zh" or "en")."""
    if language not in _BUILTIN_BY_LANGUAGE:
        raise DataError(f"no built-in benchmark in language {language!r}; use 'zh' or 'en'")
    return _load_builtin(_BUILTIN_BY_LANGUAGE[language])


__all__ = [
    "BENCHMARK_FILE",
    "BUILTIN_BENCHMARKS",
    "DEFAULT_BENCHMARK",
    "Benchmark",
    "BenchmarkFile",
    "builtin_benchmark_for_language",
    "list_builtin_benchmarks",
    "load_benchmark",
]
