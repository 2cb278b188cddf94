"""From the writer's accepted answers to a benchmark: dedupe, number, report, write.

Assembly is a pure function of the run's unit results, so a rerun (which calls
nothing) reproduces the same scenarios, ids and report. Writing produces the
format :func:`chatanime.benchmark.load_benchmark` reads (``docs/benchmark-format.md``)
and then loads it back, so a written benchmark is known to load; files are
replaced atomically, so an interrupted write never leaves half a YAML file.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from chatanime.benchmark import BENCHMARK_FILE, load_benchmark
from chatanime.characters import Character, builtin_characters
from chatanime.errors import DataError
from chatanime.runner import RunSummary
from chatanime.scenario_checks import Candidate, ScenarioProblem
from chatanime.scenario_duplicates import remove_near_duplicates
from chatanime.scenario_grid import GridBalance, GridCell, ScenarioGrid
from chatanime.scenarios import Scenario

SCENARIOS_FILE = "scenarios.yaml"
DEFAULT_ANSWER_LIMITS = {"zh": 150, "en": 100}
"""The built-in benchmarks' limits: 150 characters, and the 100 words they correspond to."""
_SLUG = re.compile(r"^[a-z][a-z0-9_-]*$")


@dataclass(frozen=True)
class DroppedScenario:
    """An accepted scenario removed as a near-duplicate of an earlier kept one."""

    cell: GridCell
    question_r1: str
    of_cell: GridCell
    of_question: str
    similarity: float


@dataclass(frozen=True)
class CellResult:
    """What one unit produced; ``rejected`` is ``None`` when the unit did not finish."""

    cell: GridCell
    scenario: Candidate | None
    rejected: Sequence[Any] | None
    """The unit's rejected attempts (objects with ``problems``)."""


@dataclass
class ScenarioReport:
    """The runner's summary plus the scenarios and what happened to the rest."""

    summary: RunSummary
    grid: ScenarioGrid
    scenarios: tuple[Scenario, ...]
    balance: GridBalance
    rejections: dict[ScenarioProblem, int]
    """Problems over every rejected attempt (an attempt counts once per problem),
    plus ``near-duplicate`` for each scenario removed by deduplication."""
    unfilled: tuple[GridCell, ...]
    """Cells whose every attempt was rejected."""
    unfinished: int
    """Cells whose unit failed (a model error) or has not run."""
    near_duplicates: tuple[DroppedScenario, ...]
    written: Path | None = None


def assemble_report(
    summary: RunSummary,
    grid: ScenarioGrid,
    results: Sequence[CellResult],
    *,
    language: str,
    threshold: float,
) -> ScenarioReport:
    """Dedupe the accepted scenarios (grid order wins), number them 1..N, count the rest."""
    accepted = [(r.cell, r.scenario) for r in results if r.scenario is not None]
    dedup = remove_near_duplicates(
        [c.question_r1 for _, c in accepted], language=language, threshold=threshold
    )
    scenarios = tuple(
        Scenario(
            id=number,
            persona=accepted[index][0].persona,
            emotion=accepted[index][0].emotion,
            location=accepted[index][0].location,
            daily_event=accepted[index][1].daily_event,
            question_r1=accepted[index][1].question_r1,
        )
        for number, index in enumerate(dedup.kept, 1)
    )
    dropped = tuple(
        DroppedScenario(
            cell=accepted[d.index][0],
            question_r1=accepted[d.index][1].question_r1,
            of_cell=accepted[d.of][0],
            of_question=accepted[d.of][1].question_r1,
            similarity=d.similarity,
        )
        for d in dedup.dropped
    )
    rejections: Counter[ScenarioProblem] = Counter()
    for result in results:
        for attempt in result.rejected or ():
            rejections.update(attempt.problems)
    if dropped:
        rejections[ScenarioProblem.NEAR_DUPLICATE] = len(dropped)
    return ScenarioReport(
        summary=summary,
        grid=grid,
        scenarios=scenarios,
        balance=GridBalance.of(grid, (accepted[i][0] for i in dedup.kept)),
        rejections={p: rejections[p] for p in ScenarioProblem if rejections[p]},
        unfilled=tuple(r.cell for r in results if r.rejected is not None and r.scenario is None),
        unfinished=sum(1 for r in results if r.rejected is None),
        near_duplicates=dropped,
    )


# ---------------------------------------------------------------- writing


def atomic_write_text(path: Path, text: str) -> Path:
    """Write ``text`` to a temporary file beside ``path`` and rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000)


def scenarios_yaml(scenarios: Sequence[Scenario], language: str, header: str = "") -> str:
    """The ``scenarios.yaml`` text (``docs/benchmark-format.md``), with ``header`` as comments."""
    if not scenarios:
        raise DataError("no scenario passed the checks; nothing to write")
    rows = [s.model_dump(mode="json") for s in scenarios]
    comments = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return comments + _dump({"language": language, "scenarios": rows})


def write_scenarios_file(
    path: Path, scenarios: Sequence[Scenario], language: str, header: str = ""
) -> Path:
    """Write a scenarios file (atomically); a single-file benchmark can point to it."""
    return atomic_write_text(path, scenarios_yaml(scenarios, language, header))


def _character_entry(character: Character, folder: Path) -> str:
    """A built-in character by slug; any other card is written to ``characters/<slug>.yaml``."""
    if character in builtin_characters():
        return character.slug
    relative = f"characters/{character.slug}.yaml"
    card = character.model_dump(mode="json", exclude_none=True)  # no `zh: null` for en-only
    atomic_write_text(folder / relative, _dump(card))
    return relative


def write_benchmark_folder(
    folder: Path,
    scenarios: Sequence[Scenario],
    *,
    name: str,
    language: str,
    characters: Sequence[Character],
    description: str = "",
    answer_limit: int | None = None,
    header: str = "",
    force: bool = False,
) -> Path:
    """Write ``benchmark.yaml`` + ``scenarios.yaml`` (+ cards of non-built-in characters).

    Refuses to replace an existing ``benchmark.yaml`` unless ``force``, since that
    folder may be someone's hand-written benchmark. The result is loaded back.
    """
    if not _SLUG.match(name):
        raise DataError(f"benchmark name {name!r} must be a lower-case slug like 'my-bench'")
    if not characters:
        raise DataError("a benchmark folder needs characters (--characters or --benchmark)")
    check_output(folder, force=force)
    text = scenarios_yaml(scenarios, language, header)
    entries = [_character_entry(c, folder) for c in characters]
    spec: dict[str, Any] = {"name": name, "language": language, "version": 1}
    if description:
        spec["description"] = description
    spec["answer_limit"] = answer_limit or DEFAULT_ANSWER_LIMITS.get(language, 150)
    spec["characters"] = entries
    spec["scenarios"] = SCENARIOS_FILE
    atomic_write_text(folder / SCENARIOS_FILE, text)
    atomic_write_text(folder / BENCHMARK_FILE, _dump(spec))
    load_benchmark(folder)
    return folder


def check_output(out: Path, *, force: bool = False) -> None:
    """Refuse an output that would replace a benchmark definition, before paying for a run."""
    if out.suffix in (".yaml", ".yml"):
        if out.is_dir():
            raise DataError(f"{out} is a folder; give a file name or a folder without .yaml")
        return
    if out.exists() and not out.is_dir():
        raise DataError(f"{out} is a file; give a folder, or a file name ending in .yaml")
    if (out / BENCHMARK_FILE).exists() and not force:
        raise DataError(f"{out / BENCHMARK_FILE} exists; use --force to replace it")


def default_name(folder: Path) -> str:
    """A benchmark name from a folder name (``My Bench`` -> ``my-bench``)."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", folder.name.lower()).strip("-_")
    if not slug or not slug[0].isalpha():
        slug = f"bench-{slug}" if slug else "generated"
    return slug


def write_output(
    out: Path,
    scenarios: Sequence[Scenario],
    *,
    language: str,
    characters: Iterable[Character] = (),
    name: str | None = None,
    **options: Any,
) -> Path:
    """``out`` ending in ``.yaml``/``.yml`` gets the scenarios file; else a benchmark folder."""
    if out.suffix in (".yaml", ".yml"):
        return write_scenarios_file(out, scenarios, language, options.get("header", ""))
    return write_benchmark_folder(
        out,
        scenarios,
        name=name or default_name(out),
        language=language,
        characters=list(characters),
        **options,
    )
