"""Price table: lookups, families, overrides, estimates."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatanime.errors import DataError
from chatanime.pricing import PRICES_ENV, Price, PriceTable, estimate_tokens, price_table


@pytest.fixture(autouse=True)
def no_env_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PRICES_ENV, raising=False)


def test_builtin_prices_for_study_models() -> None:
    table = price_table()
    assert table.cost("openai/gpt-4.1", 1_000_000, 1_000_000) == pytest.approx(10.0)
    assert table.cost("openai/gpt-4.1", 2000, 500) == pytest.approx(0.008)
    for model in (
        "deepseek/deepseek-chat",
        "qwen/qwen-max",
        "zhipu/glm-4-plus",
        "anthropic/claude-sonnet-4-20250514",
        "gemini/gemini-2.5-pro",
    ):
        assert (table.cost(model, 1000, 1000) or 0) > 0, model
    assert table.cost("fake/actor", 10**9, 10**9) == 0


def test_unknown_models_cost_none_never_a_guess() -> None:
    table = price_table()
    assert table.cost("openai/gpt-9", 10, 10) is None
    assert table.cost("deepseek/deepseek-chat-v9", 10, 10) is None


def test_exact_beats_pattern_and_longest_prefix_wins() -> None:
    table = PriceTable(
        {
            "p/*": Price(input=1, output=1),
            "p/big*": Price(input=2, output=2),
            "p/big-exact": Price(input=3, output=3),
        }
    )
    assert table.cost("p/small", 10**6, 0) == 1
    assert table.cost("p/big-2025", 10**6, 0) == 2
    assert table.cost("p/big-exact", 10**6, 0) == 3
    assert table.cost("q/x", 1, 1) is None


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "prices.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_override_file_replaces_and_adds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(
        tmp_path,
        "models:\n  openai/gpt-4.1: {input: 1, output: 1}\n  my/model: {input: 5, output: 0}\n",
    )
    table = price_table(path)
    assert table.cost("openai/gpt-4.1", 10**6, 10**6) == 2
    assert table.cost("my/model", 10**6, 10**6) == 5
    assert table.cost("qwen/qwen-max", 10**6, 0) == pytest.approx(1.6)  # the rest stays
    monkeypatch.setenv(PRICES_ENV, str(path))
    assert price_table().cost("my/model", 10**6, 0) == 5
    assert str(path) in price_table().sources


def test_bad_override_is_a_data_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        price_table(tmp_path / "missing.yaml")
    bad = write(tmp_path, "models:\n  a/b: {input: -1, output: 2}\n")
    with pytest.raises(DataError, match=r"prices.yaml is invalid at models.a/b.input"):
        price_table(bad)
    with pytest.raises(DataError, match="invalid"):
        price_table(write(tmp_path, "currency: EUR\nmodels: {}\n"))


def test_token_estimate() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("你好，世界") == 5
    assert estimate_tokens("abcdefgh") == 2
    assert estimate_tokens("路飞 says hi") == 2 + 2  # " says hi" is 8 characters


def test_estimate_for_a_dry_run() -> None:
    table = price_table()
    estimate = table.estimate("openai/gpt-4.1", ["你好" * 100] * 10, output_tokens_per_call=100)
    assert (estimate.calls, estimate.input_tokens, estimate.output_tokens) == (10, 2040, 1000)
    assert estimate.usd == pytest.approx((2040 * 2 + 1000 * 8) / 1e6)
    assert table.estimate("x/unknown", ["a"], 1).usd is None
