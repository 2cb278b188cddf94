"""Assemble the ESRP report: one typed ``Report`` from the corpus, the store and what exists.

The report must be useful on a fresh machine (no judge scores, no ratings: corpus overview,
automatic diversity, style, examples and the commands to get scores) and grow with the store
(judge leaderboards per judge and ensemble, human-rating leaderboards per study, style control,
pairwise-vs-fans, agreement/calibration). Each optional section is built independently; a
section that fails becomes a warning note naming the error instead of sinking the whole
report, so the main command always produces something (failures are values).

Judge rows are read from the store once (column-wise, :func:`~chatanime.report.scores.
read_judgments`) and shared by the leaderboards, the bias checks and the calibration on
human ratings, which is what keeps the report fast with hundreds of thousands of scores.

Renderers (terminal, Markdown, CSV/JSON, HTML) only read a ``Report``; none recompute numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Literal

import pandas as pd

from chatanime.corpus import HUMAN, Corpus
from chatanime.report.judged_diversity import (
    JudgedDiversity,
    judged_diversity_rows,
    summarise_judged_diversity,
)
from chatanime.report.labels import Labels, level_labels
from chatanime.report.notes import Clock, Note, attempt
from chatanime.report.overview import (
    EXAMPLE_RULE,
    CharacterLabel,
    ExampleItem,
    Overview,
    build_examples,
    build_overview,
    character_labels,
)
from chatanime.report.overview import example_scenarios as two_per_persona
from chatanime.report.scores import StoredJudgments, read_judgments
from chatanime.report.sources import SourceBoard, build_boards, collect_scores
from chatanime.report.style_control import answer_features, item_features, system_style
from chatanime.store import Store

if TYPE_CHECKING:
    from chatanime.annotate.analysis import StudyAnalysis
    from chatanime.judge.bias import BiasReport
    from chatanime.judge.pairwise_summary import VsFansSummary
    from chatanime.metrics.diversity import DiversityTable
    from chatanime.report.calibration import JudgeCalibrationSection

JUDGE_COMMAND = "chatanime judge --judge <provider/model>"
ANNOTATE_COMMAND = "chatanime annotate --help"


@dataclass
class Report:
    """Everything the renderers show; sections that do not exist are ``None``/empty."""

    title: str
    generated_at: str
    version: str
    overview: Overview
    systems: list[str]  # display order: human first, then alphabetical (colours follow it)
    characters: list[CharacterLabel]
    labels: Labels
    n_boot: int
    diversity: DiversityTable | None = None
    boards: list[SourceBoard] = field(default_factory=list)
    pairwise: VsFansSummary | None = None
    bias: BiasReport | None = None
    judged_diversity: list[JudgedDiversity] = field(default_factory=list)
    studies: list[StudyAnalysis] = field(default_factory=list)
    calibrations: list[JudgeCalibrationSection] = field(default_factory=list)
    examples: tuple[ExampleItem, ...] = ()
    example_scenarios: tuple[int, ...] = ()
    example_rule: str = EXAMPLE_RULE  # how the example scenarios were chosen, for the text
    pairs: tuple[tuple[str, str], ...] = ()  # system-vs-system comparisons asked for
    notes: list[Note] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per section (benchmarks)

    @property
    def has_fans(self) -> bool:
        """Whether the fans' answers (system ``human``) are here to compare with."""
        return HUMAN in self.systems

    @property
    def judge_boards(self) -> list[SourceBoard]:
        return [b for b in self.boards if b.kind in ("judge", "ensemble")]

    @property
    def calibrated_boards(self) -> list[SourceBoard]:
        return [b for b in self.boards if b.kind == "calibrated"]

    @property
    def human_boards(self) -> list[SourceBoard]:
        return [b for b in self.boards if b.kind == "human"]

    @property
    def primary(self) -> SourceBoard | None:
        """The headline source: the judge ensemble, else the first judge, else human ratings."""
        for kind in ("ensemble", "judge", "human"):
            for b in self.boards:
                if b.kind == kind:
                    return b
        return None


def _package_version() -> str:
    try:
        return version("chatanime")
    except PackageNotFoundError:
        return "unknown"


def _unscored_note(boards: Sequence[SourceBoard]) -> Note | None:
    parts = []
    for b in boards:
        missing = sum(c.estimate.n_missing for c in b.board.cells if c.level == "overall")
        if missing:
            parts.append(f"{b.source}: {missing}")
    if not parts:
        return None
    return Note(
        "warning",
        "Unscored items are counted, never imputed; items without a score per source: "
        + "; ".join(parts),
    )


def _calibration_notes(report: Report) -> list[Note]:
    """Whether judge scores are calibrated on human ratings, per judge x study."""
    if not report.calibrations and not report.human_boards:
        return [
            Note(
                "warning",
                "Judge scores are uncalibrated: no human ratings exist in the store, so they "
                "show how an LLM judge ranks the systems, not how people would. Collect "
                "ratings to check the judge against people.",
                (ANNOTATE_COMMAND,),
            )
        ]
    notes = []
    for c in report.calibrations:
        text = c.result.message
        if c.calibrated and c.uncalibrated_metrics:
            text += (
                f" Not calibrated: {', '.join(c.uncalibrated_metrics)}; the dimensions and "
                "overall of that source average the calibrated metrics only."
            )
        kind: Literal["info", "warning"] = "info" if c.calibrated else "warning"
        notes.append(Note(kind, text, (c.audit_command,)))
    return notes


def _round2_note(ov: Overview) -> Note | None:
    """How matched the systems' dialogues are (nothing to match with a single system)."""
    if len(ov.systems) < 2:
        return None
    differ = ov.n_items - ov.round2_shared
    if differ == 0:
        return Note(
            "info",
            "Both rounds are matched exactly: every system answers the same opening line and "
            f"the same round-2 question in all {ov.n_items} character x scenario pairs.",
        )
    return Note(
        "info",
        "Round 1 is matched exactly: every system answers the same opening line. Round-2 "
        f"questions differ between systems in {differ} of {ov.n_items} character x scenario "
        "pairs (they react to each system's first answer), so comparisons of whole dialogues "
        "are matched on character and scenario, not on the round-2 question.",
    )


def score_notes(report: Report) -> list[Note]:
    """The notes that depend on which sources exist (nothing is silently missing)."""
    notes = []
    if not report.judge_boards and not report.human_boards:
        shown = "the automatic diversity leaderboard, " if report.diversity is not None else ""
        notes.append(
            Note(
                "info",
                "No judge scores or human ratings exist in the store yet, so this report shows "
                f"{shown}the corpus overview, answer style and example dialogues. Score the "
                "systems with an LLM judge, or collect human ratings, and build the report "
                "again to add leaderboards with intervals and tests.",
                (JUDGE_COMMAND, ANNOTATE_COMMAND, "chatanime report"),
            )
        )
    elif report.judge_boards:
        notes.extend(_calibration_notes(report))
    round2 = _round2_note(report.overview)
    if round2 is not None:
        notes.append(round2)
    unscored = _unscored_note(report.boards)
    if unscored is not None:
        notes.append(unscored)
    return notes


def build_report(
    corpus: Corpus,
    store: Store | None = None,
    *,
    judges: Sequence[str] | None = None,
    n_boot: int = 2000,
    seed: int = 0,
    example_scenarios: Sequence[int] | None = None,
    diversity: bool = True,
    title: str | None = None,
    pairs: Sequence[tuple[str, str]] = (),
) -> Report:
    """The full report for ``corpus``, with whatever scores ``store`` holds.

    ``judges`` restricts the judge sources (and then leaves human ratings out); ``diversity``
    can be turned off for quick looks (the main command always computes it); ``pairs`` adds
    paired comparisons of two systems (A, B) on matched items, beside each system vs fans.
    ``example_scenarios`` overrides the example browser's scenarios (default: two per persona,
    :func:`~chatanime.report.overview.example_scenarios`).
    """
    notes: list[Note] = []
    language = corpus.benchmark.language
    clock = Clock()
    per_answer = answer_features(corpus.answers(), language)
    shown = two_per_persona(corpus) if example_scenarios is None else tuple(example_scenarios)
    clock.lap("style features")
    report = Report(
        title=title or f"ESRP leaderboard · {corpus.benchmark.name}",
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        version=_package_version(),
        overview=build_overview(corpus, system_style(per_answer)),
        systems=list(corpus.systems),
        characters=character_labels(corpus),
        labels=level_labels(language),
        n_boot=n_boot,
        examples=build_examples(corpus, shown),
        example_scenarios=shown,
        example_rule=EXAMPLE_RULE if example_scenarios is None else "chosen for this report",
        pairs=tuple(pairs),
    )
    clock.lap("overview and examples")
    if diversity:
        report.diversity = attempt(notes, "automatic diversity", lambda: _diversity(corpus))
        clock.lap("diversity")
    if store is not None:
        _add_store_sections(report, corpus, store, per_answer, judges, seed, notes)
        clock.lap("scores, leaderboards, style control, pairwise, studies")
    report.notes = [*score_notes(report), *notes]
    report.timings = clock.laps
    return report


def _diversity(corpus: Corpus) -> DiversityTable:
    from chatanime.metrics.diversity import diversity_table

    return diversity_table(corpus.answers(), language=corpus.benchmark.language)


def _vs_fans(
    store: Store, bench: str, judges: Sequence[str] | None, report: Report, seed: int
) -> VsFansSummary:
    from chatanime.judge.pairwise_summary import summarise_vs_fans

    return summarise_vs_fans(store, benchmark=bench, judges=judges, n_boot=report.n_boot, seed=seed)


def _bias(
    corpus: Corpus, store: Store, judges: Sequence[str] | None, stored: StoredJudgments
) -> BiasReport:
    from chatanime.judge.bias import answer_lengths, bias_report

    lengths = answer_lengths(corpus.dialogues, corpus.benchmark.language)
    return bias_report(
        store, lengths=lengths, benchmark=corpus.benchmark.name, judges=judges, stored=stored
    )


def _calibrations(
    report: Report, store: Store, stored: StoredJudgments, bench: str, seed: int, notes: list[Note]
) -> list[pd.DataFrame]:
    """Calibrate every judge on every rated study; returns the calibrated score tables."""
    from chatanime.report.calibration import calibrate_judges, calibrated_scores

    sections = attempt(
        notes,
        "calibration on human ratings",
        lambda: calibrate_judges(store, stored, benchmark=bench, seed=seed),
    )
    report.calibrations = sections or []
    return calibrated_scores(report.calibrations)


def _add_store_sections(
    report: Report,
    corpus: Corpus,
    store: Store,
    per_answer: pd.DataFrame,
    judges: Sequence[str] | None,
    seed: int,
    notes: list[Note],
) -> None:
    """Every section that reads the store, each attempted on its own (a failure is a note).

    The judge rows are read once and shared by calibration, the leaderboards and the bias
    checks; calibration runs first because its calibrated scores are sources of their own.
    """
    bench = corpus.benchmark.name
    read = attempt(
        notes, "judge scores", lambda: read_judgments(store, benchmark=bench, judges=judges)
    )
    stored = read if read is not None else StoredJudgments.empty()
    calibrated = _calibrations(report, store, stored, bench, seed, notes)
    scores = collect_scores(
        store, benchmark=bench, judges=judges, notes=notes, stored=stored, calibrated=calibrated
    )
    _add_boards(report, corpus, scores, per_answer, seed, notes)
    summary = attempt(
        notes, "pairwise vs fans", lambda: _vs_fans(store, bench, judges, report, seed)
    )
    if summary is not None and summary.cells:
        report.pairwise = summary
    if report.judge_boards:
        report.bias = attempt(
            notes, "judge bias checks", lambda: _bias(corpus, store, judges, stored)
        )
    _add_judged_diversity(report, store, bench, judges, seed, notes)
    if not judges:  # a report restricted to some judges leaves human ratings out
        _add_studies(report, store, seed, notes)


def _add_boards(
    report: Report,
    corpus: Corpus,
    scores: pd.DataFrame,
    per_answer: pd.DataFrame,
    seed: int,
    notes: list[Note],
) -> None:
    """One leaderboard per score source; systems that only the store knows (scored but not
    in the corpus) join the display order after the corpus's, so every board has a colour."""
    if not scores.empty:
        features = item_features(per_answer)
        boards = attempt(
            notes,
            "leaderboards",
            lambda: build_boards(
                scores,
                corpus,
                features,
                n_boot=report.n_boot,
                seed=seed,
                notes=notes,
                pairs=report.pairs,
            ),
        )
        report.boards = boards or []
    known = set(report.systems)
    report.systems += sorted({s for b in report.boards for s in b.board.systems} - known)


def _add_judged_diversity(
    report: Report,
    store: Store,
    bench: str,
    judges: Sequence[str] | None,
    seed: int,
    notes: list[Note],
) -> None:
    """Diversity as an LLM judge rated it, summarised per judge (absent when none exists)."""
    rated = attempt(
        notes,
        "judged diversity",
        lambda: judged_diversity_rows(store, benchmark=bench, judges=judges),
    )
    if rated is not None and not rated.empty:
        report.judged_diversity = summarise_judged_diversity(rated, n_boot=report.n_boot, seed=seed)


def _add_studies(report: Report, store: Store, seed: int, notes: list[Note]) -> None:
    """Agreement and judge-vs-human analyses of every rating study in the store."""
    from chatanime.report.human import study_analyses

    studies = attempt(notes, "human studies", lambda: study_analyses(store, seed=seed))
    report.studies = studies or []


def is_finite(x: float) -> bool:
    """For templates: a number that can be printed (not NaN/inf)."""
    return isinstance(x, (int, float)) and math.isfinite(x)


__all__ = ["HUMAN", "Note", "Report", "SourceBoard", "build_report", "collect_scores"]
