"""The report on a user-defined benchmark: its own scenarios, units and systems, no fans.

The release report's texts (60 scenarios, 20 characters, ids 1, 8, 16 ..., characters and
jieba words, the fans) must not leak into a report on an English benchmark with two bots.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

import chatanime
from chatanime.benchmark import Benchmark, load_benchmark
from chatanime.corpus import Corpus
from chatanime.dialogue import Dialogue
from chatanime.report.build import Report, build_report
from chatanime.report.html import render_html, token_text
from chatanime.report.markdown import render_markdown
from chatanime.report.overview import EXAMPLE_SCENARIOS, example_scenarios
from chatanime.report.terminal import print_report
from chatanime.scenarios import Persona
from chatanime.store import Store, open_store
from tests.report.support import insert_judge_scores

EXAMPLE = Path(chatanime.__file__).parent / "data/benchmarks/examples/original-character"
BOTS = ("my-bot", "other-bot")


def bot_corpus(
    bench: Benchmark, systems: tuple[str, ...] = BOTS, *, same_q2: bool = False
) -> Corpus:
    """English dialogues of ``systems`` for every character x scenario of ``bench``."""
    return Corpus(
        [
            Dialogue(
                system=system,
                character=c.slug,
                scenario=s.id,
                q1=s.question_r1,
                a1=f"Hey, I hear you. {'Keep going, ' * (k + 2)}you can do it!",
                q2="Thanks. What should I do next?" if same_q2 else f"Thanks, {system}. And now?",
                a2=f"Take one small step today. {'Really. ' * (k + 1)}",
            )
            for k, system in enumerate(systems)
            for c in bench.characters
            for s in bench.scenarios
        ],
        bench,
    )


@pytest.fixture(scope="module")
def bench() -> Benchmark:
    return load_benchmark(EXAMPLE)


@pytest.fixture(scope="module")
def bots_store(tmp_path_factory: pytest.TempPathFactory, bench: Benchmark) -> Iterator[Store]:
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('bots') / 'store.db'}")
    insert_judge_scores(store, bot_corpus(bench), "fake/judge", benchmark=bench.name)
    yield store
    store.dispose()


@pytest.fixture(scope="module")
def bots_report(bench: Benchmark, bots_store: Store) -> Report:
    return build_report(bot_corpus(bench), bots_store, n_boot=50, pairs=[BOTS])


def test_examples_are_two_per_persona_of_the_benchmark(
    bench: Benchmark, release_corpus: Corpus
) -> None:
    assert example_scenarios(release_corpus) == EXAMPLE_SCENARIOS  # the release report is unchanged
    # the shipped example: one scenario per persona, ids 1-4 (the release's ids 1, 8 ... would
    # show scenario 1 only)
    assert example_scenarios(bot_corpus(bench)) == (1, 2, 3, 4)
    # three scenarios per persona: the first and the middle one of each
    template = bench.scenarios[0]
    personas = [Persona.STUDENT] * 3 + [Persona.OFFICE_WORKER] * 3
    six = bench.model_copy(
        update={
            "scenarios": tuple(
                template.model_copy(update={"id": 10 + i, "persona": p})
                for i, p in enumerate(personas)
            )
        }
    )
    assert example_scenarios(bot_corpus(six)) == (10, 11, 13, 14)


def test_english_benchmark_reads_in_words_and_its_own_counts(
    bots_report: Report, bench: Benchmark
) -> None:
    html = " ".join(render_html(bots_report).split())  # template line breaks are not text
    assert bots_report.overview.length_unit == "words"
    assert "Answer lengths are in words" in html and "characters;" not in html
    assert "Answer length per system (words)" in html
    assert token_text("en") == "words" and token_text("zh") == "characters and jieba words"
    assert "jieba" not in html
    n_chars, n_scen = len(bench.characters), len(bench.scenarios)
    assert f"its {n_scen} scenarios" in html and f"its {n_chars} characters" in html
    assert "60 scenarios" not in html and "20 characters" not in html
    assert "fans more diverse" not in html  # a claim about the fans, who are not here
    assert {e.scenario for e in bots_report.examples} == {1, 2, 3, 4}
    assert "the first and the middle scenario of each persona: ids 1, 2, 3, 4" in html
    assert "eighth" not in html
    assert "Lengths in words." in render_markdown(bots_report)


def test_no_fans_no_delta_column(bots_report: Report, judged_report: Report) -> None:
    assert not bots_report.has_fans and bots_report.boards
    html = render_html(bots_report)
    assert "Δ vs fans" not in html and "Each system against the fans, per metric" not in html
    assert "System against system" in html  # the pair asked for is still compared
    assert "nothing is compared with the fans" in html
    assert "Δ vs fans" not in render_markdown(bots_report)
    console = Console(record=True, width=250)
    print_report(bots_report, console, summary=False)
    terminal = console.export_text()
    assert "my-bot" in terminal and "Δ vs fans" not in terminal
    # with the fans, every format keeps the column and the sentence that explains it
    assert judged_report.has_fans
    assert "Δ vs fans: paired Wilcoxon" in render_html(judged_report)
    assert "Δ vs fans" in render_markdown(judged_report)
    console = Console(record=True, width=250)
    print_report(judged_report, console)
    assert "Δ vs fans" in console.export_text()


def round2_notes(report: Report) -> list[str]:
    return [n.text for n in report.notes if "round-2 question" in n.text]


def test_round2_note_only_compares_two_or_more_systems(bench: Benchmark) -> None:
    single = build_report(bot_corpus(bench, ("my-bot",)), None, n_boot=20, diversity=False)
    assert round2_notes(single) == []
    same = build_report(bot_corpus(bench, same_q2=True), None, n_boot=20, diversity=False)
    n = len(bench.characters) * len(bench.scenarios)
    assert round2_notes(same) == [
        "Both rounds are matched exactly: every system answers the same opening line and the "
        f"same round-2 question in all {n} character x scenario pairs."
    ]
    differ = build_report(bot_corpus(bench), None, n_boot=20, diversity=False)
    (text,) = round2_notes(differ)
    assert text.startswith("Round 1 is matched exactly")
    assert f"differ between systems in {n} of {n} character x scenario pairs" in text
