"""The corpus: every system's dialogues of one benchmark, queryable as objects or tables.

This is what a researcher asks for first ("give me the release, validated"):
``load_corpus()`` finds or downloads the release, validates all 11 files
against the benchmark (20 characters x 60 scenarios, fixed round-1 questions)
and joins them by character key.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from chatanime.benchmark import Benchmark, load_benchmark
from chatanime.dataset import (
    check_complete,
    check_same_questions,
    load_system_file,
    system_name,
)
from chatanime.dialogue import Dialogue
from chatanime.errors import DataError
from chatanime.release import RELEASE_FILES, resolve_data_dir
from chatanime.simulator import text_length

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

HUMAN = "human"
# The benchmark whose systems the ChatAnime release holds; other benchmarks (the
# English one, user-defined ones) start from their own system files only.
RELEASE_BENCHMARK = "chatanime"


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer in long form: the row type of diversity and judging tables."""

    system: str
    character: str
    scenario: int
    persona: str
    round: int
    question: str
    text: str


class Corpus:
    """Dialogues of several systems over one benchmark."""

    def __init__(self, dialogues: Iterable[Dialogue], benchmark: Benchmark) -> None:
        self.dialogues: tuple[Dialogue, ...] = tuple(dialogues)
        self.benchmark = benchmark

    def __len__(self) -> int:
        return len(self.dialogues)

    @cached_property
    def systems(self) -> list[str]:
        """Systems in a stable order: ``human`` first, then alphabetical."""
        names = {d.system for d in self.dialogues}
        return sorted(names, key=lambda s: (s != HUMAN, s))

    @cached_property
    def _index(self) -> dict[tuple[str, str, int], Dialogue]:
        return {(d.system, d.character, d.scenario): d for d in self.dialogues}

    def get(self, system: str, character: str, scenario: int) -> Dialogue | None:
        """The dialogue of ``system`` for one character and scenario, if present."""
        return self._index.get((system, character, scenario))

    def persona(self, scenario: int) -> str:
        return str(self.benchmark.scenario(scenario).persona)

    def filter(
        self,
        *,
        systems: Sequence[str] | None = None,
        characters: Sequence[str] | None = None,
        scenarios: Sequence[int] | None = None,
        personas: Sequence[str] | None = None,
    ) -> Corpus:
        """A sub-corpus; ``None`` means no constraint on that axis."""
        sys_set = set(systems) if systems is not None else None
        char_set = set(characters) if characters is not None else None
        scen_set = set(scenarios) if scenarios is not None else None
        pers_set = set(personas) if personas is not None else None
        kept = [
            d
            for d in self.dialogues
            if (sys_set is None or d.system in sys_set)
            and (char_set is None or d.character in char_set)
            and (scen_set is None or d.scenario in scen_set)
            and (pers_set is None or self.persona(d.scenario) in pers_set)
        ]
        return Corpus(kept, self.benchmark)

    def answers(self, rounds: Sequence[int] = (1, 2)) -> list[Answer]:
        """Long form: one row per (dialogue, round)."""
        return [
            Answer(
                d.system,
                d.character,
                d.scenario,
                self.persona(d.scenario),
                r,
                d.question(r),
                d.answer(r),
            )
            for d in self.dialogues
            for r in rounds
        ]

    def to_records(self) -> list[dict[str, object]]:
        """Wide form: one row per dialogue."""
        return [
            {
                "system": d.system,
                "character": d.character,
                "scenario": d.scenario,
                "persona": self.persona(d.scenario),
                "question_r1": d.q1,
                "answer_r1": d.a1,
                "question_r2": d.q2,
                "answer_r2": d.a2,
                "source_q2": d.sources.q2,
                "source_a1": d.sources.a1,
            }
            for d in self.dialogues
        ]

    def to_dataframe(self) -> pd.DataFrame:
        """Wide pandas DataFrame, one row per dialogue."""
        import pandas as pd

        return pd.DataFrame.from_records(self.to_records())

    def to_arrow(self) -> pa.Table:
        """Wide Arrow table, one row per dialogue."""
        import pyarrow as pa

        return pa.Table.from_pylist(self.to_records())


def _slug_map(benchmark: Benchmark) -> dict[str, str]:
    mapping = {c.key: c.slug for c in benchmark.characters}
    mapping.update({c.slug: c.slug for c in benchmark.characters})
    return mapping


def load_system(
    path: Path, benchmark: Benchmark, *, require_complete: bool = True, system: str | None = None
) -> list[Dialogue]:
    """Load and validate one system file against ``benchmark``."""
    dialogues = load_system_file(path, _slug_map(benchmark), system=system)
    keys = {c.slug: c.key for c in benchmark.characters}
    ids = [s.id for s in benchmark.scenarios]
    check_complete(path, dialogues, keys, ids, require_all=require_complete)
    questions = {s.id: s.question_r1 for s in benchmark.scenarios}
    check_same_questions(path, dialogues, questions, keys)
    return dialogues


def system_files(folder: Path) -> list[Path]:
    """The system files of a folder: ``*.json`` and ``*.jsonl``."""
    return sorted(p for p in folder.iterdir() if p.suffix in (".json", ".jsonl") and p.is_file())


def load_corpus(
    data_dir: Path | None = None,
    *,
    extra: Sequence[Path] = (),
    benchmark: Benchmark | str = "chatanime",
    download: bool = True,
) -> Corpus:
    """Find (or download) the release, validate every file, add ``extra`` systems.

    Files of the data folder must be complete; ``extra`` files (a smoke run of a
    new model, say) may cover a subset of characters and scenarios. For a benchmark
    other than the release's own, the release is not looked for: the corpus holds
    the ``extra`` files (and a ``data_dir`` when one is given).
    """
    bench = load_benchmark(benchmark) if isinstance(benchmark, str) else benchmark
    files: list[Path] = []
    if data_dir is not None or bench.name == RELEASE_BENCHMARK:
        folder = resolve_data_dir(data_dir, download=download)
        files = system_files(folder)
        if not files:
            raise DataError(f"{folder}: no system files (*.json, *.jsonl) found")
        if bench.name == RELEASE_BENCHMARK:
            missing = [n for n in RELEASE_FILES if not (folder / n).exists()]
            if missing and len(missing) < len(RELEASE_FILES):
                raise DataError(f"{folder}: release files missing: {', '.join(missing)}")
    dialogues: list[Dialogue] = []
    seen: set[str] = set()
    for path in [*files, *extra]:
        name = system_name(path)
        if name in seen:
            raise DataError(f"{path.name}: system {name!r} is loaded twice")
        seen.add(name)
        dialogues.extend(load_system(path, bench, require_complete=path not in extra))
    return Corpus(dialogues, bench)


@dataclass(frozen=True)
class SystemSummary:
    """Counts and answer lengths of one system (``chatanime data info``)."""

    system: str
    dialogues: int
    answers: int
    characters: int
    mean_len_r1: float
    mean_len_r2: float
    max_len: int
    within_limit: int
    mean_len_q2: float


def length_unit(language: str) -> str:
    """The unit answer lengths and the answer limit are counted in: ``characters`` or ``words``."""
    return "words" if language == "en" else "characters"


def summarise(corpus: Corpus) -> list[SystemSummary]:
    """Per-system counts; lengths in the benchmark's unit (see :func:`length_unit`).

    The unit must be the answer limit's (characters for Chinese, words for English),
    or ``within_limit`` would compare an English answer's characters with a word limit.
    """
    bench = corpus.benchmark
    limit, language = bench.answer_limit, bench.language
    out = []
    for system in corpus.systems:
        ds = [d for d in corpus.dialogues if d.system == system]
        lens1 = [text_length(d.a1, language) for d in ds]
        lens2 = [text_length(d.a2, language) for d in ds]
        both = lens1 + lens2
        out.append(
            SystemSummary(
                system=system,
                dialogues=len(ds),
                answers=len(both),
                characters=len({d.character for d in ds}),
                mean_len_r1=sum(lens1) / len(lens1),
                mean_len_r2=sum(lens2) / len(lens2),
                max_len=max(both),
                within_limit=sum(1 for n in both if n <= limit),
                mean_len_q2=sum(text_length(d.q2, language) for d in ds) / len(ds),
            )
        )
    return out


EXPORT_FORMATS = ("jsonl", "csv", "parquet")


def export_corpus(corpus: Corpus, path: Path, fmt: str) -> Path:
    """Write the wide table as JSONL, CSV (UTF-8 with BOM for spreadsheets) or Parquet."""
    if fmt not in EXPORT_FORMATS:
        raise DataError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        import json

        with path.open("w", encoding="utf-8") as handle:
            for row in corpus.to_records():
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        corpus.to_dataframe().to_csv(path, index=False, encoding="utf-8-sig")
    else:
        import pyarrow.parquet as pq

        pq.write_table(corpus.to_arrow(), path)
    return path
