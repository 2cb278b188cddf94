"""What a model call costs, from a price table users can override.

Prices are data (``data/pricing.yaml``: USD per million input/output tokens per
``provider/model``), because list prices change more often than code. A model with
no entry costs ``None`` — unknown — never a guess: a wrong number in a cost report
is worse than a visible gap. Entries ending in ``*`` cover a family of names
(``fake/*``, dated snapshots); the longest matching prefix wins over shorter ones,
and an exact entry wins over every pattern.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chatanime.errors import DataError

PRICES_ENV = "CHATANIME_PRICES"
MESSAGE_OVERHEAD_TOKENS = 4
"""Tokens a chat format adds around each message (role markers), for estimates."""


class Price(BaseModel):
    """USD per one million tokens."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    note: str = ""


class PriceFile(BaseModel):
    """The YAML shape of the built-in table and of user overrides."""

    model_config = ConfigDict(extra="forbid")

    version: int = 1
    currency: Literal["USD"] = "USD"
    updated: str = ""
    models: dict[str, Price]


@dataclass(frozen=True)
class CostEstimate:
    """A dry-run forecast: token counts are estimates from characters."""

    model: str
    calls: int
    input_tokens: int
    output_tokens: int
    usd: float | None


class PriceTable:
    """Prices by model name, with ``*`` family patterns."""

    def __init__(self, prices: Mapping[str, Price], sources: tuple[str, ...] = ()) -> None:
        self._exact = {k: v for k, v in prices.items() if not k.endswith("*")}
        patterns = {k[:-1]: v for k, v in prices.items() if k.endswith("*")}
        self._patterns = sorted(patterns.items(), key=lambda item: len(item[0]), reverse=True)
        self.sources = sources

    def price(self, model: str) -> Price | None:
        """The entry for ``model``, or ``None`` when the table does not know it."""
        if model in self._exact:
            return self._exact[model]
        for prefix, price in self._patterns:
            if model.startswith(prefix):
                return price
        return None

    def cost(self, model: str, input_tokens: int, output_tokens: int) -> float | None:
        """USD for one call's usage, or ``None`` if the model has no price."""
        price = self.price(model)
        if price is None:
            return None
        return (input_tokens * price.input + output_tokens * price.output) / 1_000_000

    def estimate(
        self, model: str, prompts: Iterable[str], output_tokens_per_call: int
    ) -> CostEstimate:
        """Forecast a run of one call per prompt, each answered with ~``output_tokens_per_call``."""
        calls = 0
        input_tokens = 0
        for prompt in prompts:
            calls += 1
            input_tokens += estimate_tokens(prompt) + MESSAGE_OVERHEAD_TOKENS
        output_tokens = calls * output_tokens_per_call
        return CostEstimate(
            model, calls, input_tokens, output_tokens, self.cost(model, input_tokens, output_tokens)
        )


def estimate_tokens(text: str) -> int:
    """A tokenizer-free token estimate: one per CJK character, one per four other characters.

    Close enough for budgets and rate limits across providers whose tokenizers differ;
    real usage from the provider always replaces it once a call returns.
    """
    cjk = len(_CJK.findall(text))
    return cjk + math.ceil((len(text) - cjk) / 4)


# CJK punctuation, kana, ideographs, compatibility ideographs, full-width forms, Hangul.
_CJK = re.compile("[\u3000-\u9fff\uf900-\ufaff\uff00-\uffef\uac00-\ud7af]")


def load_prices(path: Path) -> dict[str, Price]:
    """Read one price file; a bad file is a DataError naming it."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"Price file {path} does not exist.") from None
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(f"Price file {path} cannot be read: {exc}") from exc
    return _validate(raw, str(path))


def _validate(raw: object, where: str) -> dict[str, Price]:
    try:
        return PriceFile.model_validate(raw).models
    except ValidationError as exc:
        first = exc.errors()[0]
        location = ".".join(str(part) for part in first["loc"])
        raise DataError(f"Price file {where} is invalid at {location}: {first['msg']}.") from exc


def builtin_prices() -> dict[str, Price]:
    """The table shipped with the package."""
    text = resources.files("chatanime.data").joinpath("pricing.yaml").read_text(encoding="utf-8")
    return _validate(yaml.safe_load(text), "chatanime/data/pricing.yaml")


def price_table(override: Path | None = None) -> PriceTable:
    """Built-in prices, with entries from ``override`` (else ``$CHATANIME_PRICES``) on top."""
    prices = builtin_prices()
    sources: tuple[str, ...] = ("builtin",)
    if override is None and os.environ.get(PRICES_ENV):
        override = Path(os.environ[PRICES_ENV])
    if override is not None:
        prices.update(load_prices(override))
        sources += (str(override),)
    return PriceTable(prices, sources)
