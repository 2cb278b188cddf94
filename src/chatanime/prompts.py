"""Prompt templates as versioned, hashed data.

Every prompt the product sends lives in ``data/prompts/<id>.<language>.yaml``::

    id: roleplay
    version: 1
    language: zh
    variables: [character, card]
    template: |
      你是{{ character }}……

Templates are Jinja2 with ``StrictUndefined`` so a missing variable is an error at
render time instead of an empty hole in a prompt that was already paid for; the
declared ``variables`` list must match what the template uses, so a typo in a
data file is caught when it is loaded. The sha256 of the file content is stored
with every call, which is how a score is tied to the exact prompt that produced it.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import jinja2
import jinja2.meta
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chatanime.errors import DataError

PROMPTS_PACKAGE = "chatanime.data.prompts"
_ENV = jinja2.Environment(
    undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False
)


class PromptFile(BaseModel):
    """The schema of a prompt data file."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    version: int = Field(ge=1)
    language: str = Field(pattern=r"^(zh|en)$")
    description: str = ""
    variables: list[str]
    template: str = Field(min_length=1)


class VersionedSpec(Protocol):
    """The header every versioned data file has (prompts, rubrics)."""

    @property
    def id(self) -> str: ...

    @property
    def version(self) -> int: ...

    @property
    def language(self) -> str: ...


SpecT = TypeVar("SpecT", bound=VersionedSpec)


class VersionedData(Generic[SpecT]):
    """A validated data file with the sha256 of its text.

    ``ref`` is what results store to name the exact text behind them, so every kind of
    versioned data (prompts, rubrics) spells it the same way.
    """

    def __init__(self, spec: SpecT, sha256: str, source: str) -> None:
        self.spec = spec
        self.sha256 = sha256
        self.source = source

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def version(self) -> int:
        return self.spec.version

    @property
    def language(self) -> str:
        return self.spec.language

    @property
    def ref(self) -> str:
        """Short reference stored with results: ``id.lang@vN#hash12``."""
        return f"{self.id}.{self.language}@v{self.version}#{self.sha256[:12]}"


class PromptTemplate(VersionedData[PromptFile]):
    """A loaded prompt: render it with exactly the declared variables."""

    def __init__(self, spec: PromptFile, sha256: str, source: str) -> None:
        super().__init__(spec, sha256, source)
        self._template = _ENV.from_string(spec.template)

    def render(self, **variables: Any) -> str:
        """Render; unknown or missing variables raise ``DataError``."""
        declared = set(self.spec.variables)
        missing = declared - variables.keys()
        extra = variables.keys() - declared
        if missing or extra:
            raise DataError(
                f"prompt {self.ref}: missing variables {sorted(missing)}, "
                f"unexpected variables {sorted(extra)}"
            )
        try:
            return self._template.render(**variables).strip()
        except jinja2.UndefinedError as exc:
            raise DataError(f"prompt {self.ref}: {exc}") from exc


def parse_prompt(text: str, source: str) -> PromptTemplate:
    """Validate a prompt file: schema, and declared variables == used variables."""
    try:
        spec = PromptFile.model_validate(yaml.safe_load(text))
    except (yaml.YAMLError, ValidationError) as exc:
        raise DataError(f"{source}: invalid prompt file: {exc}") from exc
    used = jinja2.meta.find_undeclared_variables(_ENV.parse(spec.template))
    if used != set(spec.variables):
        raise DataError(
            f"{source}: template uses {sorted(used)} but declares {sorted(spec.variables)}"
        )
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return PromptTemplate(spec, digest, source)


@cache
def load_prompt(prompt_id: str, language: str = "zh") -> PromptTemplate:
    """Load a built-in prompt by id and language (``zh`` or ``en``)."""
    name = f"{prompt_id}.{language}.yaml"
    entry = resources.files(PROMPTS_PACKAGE).joinpath(name)
    if not entry.is_file():
        raise DataError(f"no built-in prompt {name}")
    return parse_prompt(entry.read_text(encoding="utf-8"), name)


def load_prompt_file(path: Path) -> PromptTemplate:
    """Load a user-supplied prompt file (same schema as the built-ins)."""
    return parse_prompt(path.read_text(encoding="utf-8"), str(path))
