"""The per-system diversity table, its re-exported names, and the ``diversity`` command.

The metrics of one group are tested in ``test_diversity_measures.py``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import typer
from click.testing import Result
from typer.testing import CliRunner

from chatanime.cli.diversity import register
from chatanime.errors import DataError
from chatanime.metrics.diversity import (
    HUMAN,
    compression_ratio,
    distinct_n,
    distinct_n_equal_size,
    diversity_table,
    mattr,
    metrics_for,
)
from chatanime.metrics.selfbleu import self_bleu_naive
from chatanime.metrics.tokens import char_tokens


@dataclass(frozen=True)
class Ans:
    system: str
    character: str
    scenario: int
    round: int
    text: str


def test_names_from_before_the_split_stay_importable_from_diversity() -> None:
    """Callers import everything about diversity from one module; the split into
    ``diversity_measures`` and ``diversity_pipeline`` must not break them."""
    import chatanime.metrics.diversity as diversity
    from chatanime.metrics import diversity_measures

    measures = {
        "DISTINCT_N",
        "WINDOWS",
        "Metric",
        "compressed_size",
        "compressed_sizes",
        "compression_ratio",
        "distinct_counts",
        "distinct_n",
        "distinct_n_equal_size",
        "expected_types",
        "mattr",
        "mattr_values",
        "metrics_for",
    }
    table = {"GROUPINGS", "HUMAN", "AnswerLike", "DiversityRow", "DiversityTable", "GroupValue"}
    assert measures | table | {"Grouping", "diversity_table"} == set(diversity.__all__)
    for name in measures:
        assert getattr(diversity, name) is getattr(diversity_measures, name), name


# --- the table on a small synthetic corpus ---------------------------------------------------

POOL = [chr(0x4E00 + i) for i in range(400)]
BOT = "别担心，我会一直陪着你，加油！"
SHORT = "别担心，加油！"


def _synthetic(characters: int = 3, scenarios: int = 4) -> list[Ans]:
    """``human`` writes varied text, ``bot`` repeats one answer, ``mix`` varies in round 1."""
    rng = random.Random(7)
    answers = []
    for c in range(characters):
        for s in range(1, scenarios + 1):
            for r in (1, 2):
                varied = "".join(rng.choice(POOL) for _ in range(20)) + "！"
                answers.append(Ans(HUMAN, f"c{c}", s, r, varied))
                answers.append(Ans("bot", f"c{c}", s, r, BOT))
                answers.append(Ans("mix", f"c{c}", s, r, varied if r == 1 else SHORT))
    return answers


def test_table_shape_and_direction() -> None:
    table = diversity_table(_synthetic(), workers=1)
    metrics = metrics_for("zh")
    assert table.systems == (HUMAN, "bot", "mix")
    assert len(table.rows) == 3 * len(metrics) * 2
    row = table.row("bot", "distinct_1_char", "character")
    assert row.n_groups == 3
    assert table.row("bot", "distinct_1_char", "scenario").n_groups == 4
    for metric in metrics:
        assert table.human_ranks_first(metric.id), metric.id
        assert table.ranking(metric.id)[-1] == "bot", metric.id
    assert table.best("self_bleu_char") == HUMAN
    assert table.row("bot", "self_bleu_char").mean == pytest.approx(1.0)


def test_table_group_values_equal_the_pure_functions() -> None:
    answers = _synthetic()
    table = diversity_table(answers, workers=1)
    group = [
        a.text
        for a in sorted(answers, key=lambda a: (a.scenario, a.round))
        if a.system == "mix" and a.character == "c1"
    ]
    values = {(v.system, v.grouping, v.group, v.metric): v.value for v in table.values}
    key = ("mix", "character", "c1")
    assert values[(*key, "distinct_2_char")] == pytest.approx(distinct_n(group, 2))
    assert values[(*key, "distinct_2_word")] == pytest.approx(distinct_n(group, 2, "word"))
    k = table.sample_sizes[("character", "distinct_2_char_eq")]
    assert values[(*key, "distinct_2_char_eq")] == pytest.approx(distinct_n_equal_size(group, 2, k))
    assert values[(*key, "mattr_char")] == pytest.approx(mattr(group))
    assert values[(*key, "compression")] == pytest.approx(compression_ratio(group))
    naive = np.mean(self_bleu_naive([char_tokens(t) for t in group]))
    assert values[(*key, "self_bleu_char")] == pytest.approx(naive)


def test_table_summary_statistics_and_sample_size() -> None:
    table = diversity_table(_synthetic(), workers=1, groupings=("character",))
    assert table.groupings == ("character",)
    vals = [v.value for v in table.values if (v.system, v.metric) == ("mix", "distinct_1_char")]
    row = table.row("mix", "distinct_1_char")
    assert row.mean == pytest.approx(np.mean(vals))
    assert row.std == pytest.approx(np.std(vals, ddof=1))
    assert (row.min, row.max) == (min(vals), max(vals))
    # the smallest group: mix's 4 varied answers (21 chars) and 4 short ones
    assert table.sample_sizes[("character", "distinct_1_char_eq")] == 4 * 21 + 4 * len(SHORT)


def test_table_rounds_and_dataframes() -> None:
    table = diversity_table(_synthetic(), workers=1, rounds=(1,))
    assert table.rounds == (1,)
    # in round 1 "mix" answers like the humans
    assert table.row("mix", "distinct_1_char").mean == pytest.approx(
        table.row(HUMAN, "distinct_1_char").mean
    )
    frame = table.to_dataframe()
    assert list(frame.columns) == [
        "system",
        "metric",
        "grouping",
        "mean",
        "std",
        "min",
        "max",
        "n_groups",
    ]
    assert len(frame) == len(table.rows)
    assert len(table.values_dataframe()) == len(table.values)


def test_table_in_worker_processes_equals_in_process() -> None:
    answers = _synthetic(characters=4, scenarios=6)
    serial = diversity_table(answers, workers=1)
    parallel = diversity_table(answers, workers=2)
    assert [v.value for v in serial.values] == pytest.approx(
        [v.value for v in parallel.values], nan_ok=True
    )


def test_table_english_and_errors() -> None:
    answers = [
        Ans(s, "c", i, 1, f"{s} says hello number {i} to you")
        for s in ("human", "b")
        for i in range(3)
    ]
    table = diversity_table(answers, "en", workers=1)
    assert all(m.unit in ("word", None) for m in table.metrics)
    with pytest.raises(ValueError, match="no answers"):
        diversity_table(answers, "en", rounds=(2,))
    with pytest.raises(ValueError, match="not used for 'en'"):
        diversity_table(answers, "en", units=["char"])
    words_only = diversity_table(_synthetic(), units=["word"], workers=1)
    assert [m.id for m in words_only.metrics] == [m.id for m in metrics_for("zh", ["word"])]
    assert words_only.metrics[-1].id == "compression"
    with pytest.raises(KeyError):
        diversity_table([a for a in answers if a.system == "b"], "en").human_ranks_first(
            "compression"
        )
    with pytest.raises(KeyError, match="unknown diversity metric"):
        table.metric("bleu")


# --- the release -----------------------------------------------------------------------------


def _release_answers(folder: Path) -> list[Ans]:
    answers = []
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for key, dialogues in data.items():
            for d in dialogues:
                answers.append(Ans(path.stem, key, d["dialog_id"], 1, d["answer_r1"]))
    return answers


def test_release_shapes(release_dir: Path) -> None:
    # characters only, to stay fast: jieba words are covered by the synthetic tables
    answers = _release_answers(release_dir)
    table = diversity_table(answers, groupings=("character",), rounds=(1,), units=["char"])
    assert len(table.systems) == 11
    assert len(table.metrics) == 9
    assert table.systems[0] == HUMAN
    for system in table.systems:
        for metric in table.metrics:
            row = table.row(system, metric.id)
            assert row.n_groups == 20
            assert 0.0 < row.mean < 1.0
    assert table.human_ranks_first("distinct_2_char")
    # one group recomputed in plain Python
    texts = [
        a.text for a in answers if (a.system, a.character) == ("gpt-4.1", answers[0].character)
    ]
    grams = [tuple(t[i : i + 2]) for t in map(char_tokens, texts) for i in range(len(t) - 1)]
    value = next(
        v.value
        for v in table.values
        if (v.system, v.group, v.metric) == ("gpt-4.1", answers[0].character, "distinct_2_char")
    )
    assert value == pytest.approx(len(set(grams)) / len(grams))


# --- the command (cli/diversity.py) ----------------------------------------------------------


class _FakeCorpus:
    def __init__(self, answers: list[Ans], language: str = "zh") -> None:
        self._answers = answers
        self.benchmark = type("B", (), {"language": language})()

    def answers(self, rounds: tuple[int, ...] = (1, 2)) -> list[Ans]:
        return [a for a in self._answers if a.round in rounds]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    import chatanime.corpus

    monkeypatch.setattr(chatanime.corpus, "load_corpus", lambda *a, **k: _FakeCorpus(_synthetic()))
    app = typer.Typer()
    app.callback()(lambda: None)
    register(app)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["diversity", *args])


def test_cli_prints_tables_and_human_verdicts(cli: Callable[..., Result]) -> None:
    result = cli()
    assert result.exit_code == 0, result.output
    assert "distinct n-grams over characters" in result.output
    assert "repetition over words" in result.output
    assert "does human rank above all other systems?" in result.output
    assert result.output.count("yes") == len(metrics_for("zh"))


def test_cli_json_csv_md(cli: Callable[..., Result], tmp_path: Path) -> None:
    result = cli("--format", "json", "--by", "scenario", "--round", "2", "--unit", "char")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["grouping"] == "scenario" and payload["rounds"] == [2]
    assert {m["id"] for m in payload["metrics"]} == {m.id for m in metrics_for("zh", ["char"])}
    assert all(m["human_ranks_first"] for m in payload["metrics"])
    assert {r["n_groups"] for r in payload["rows"]} == {4}
    out = tmp_path / "div.csv"
    assert cli("--format", "csv", "--out", str(out)).exit_code == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("system,metric,grouping,mean,std")
    assert len(lines) == 1 + 3 * len(metrics_for("zh"))
    md = cli("--format", "md").output
    assert md.count("\n| ") == 1 + 3 and "**" in md
    assert "- compression: human ranks above all 2 other systems" in md


def test_cli_rejects_bad_options(cli: Callable[..., Result]) -> None:
    for args in (["--format", "xml"], ["--by", "persona"], ["--round", "3"]):
        result = cli(*args)
        assert result.exit_code != 0
        assert isinstance(result.exception, DataError)
