"""Score sources and their leaderboards: judges, the judge ensemble, calibrated judges, studies.

Sources are never pooled: :func:`collect_scores` returns one long table whose ``source``
column says where each score came from, and :func:`build_boards` builds one leaderboard (with
its style-controlled ranking) per source. Calibrated judge scores
(``judge:<model>:calibrated``, see :mod:`chatanime.report.calibration`) are a source of
their own kind, never part of the judge ensemble.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from chatanime.corpus import Corpus
from chatanime.report.aggregate import Leaderboard, build_leaderboard
from chatanime.report.notes import Note, attempt
from chatanime.report.scores import (
    COLUMNS,
    ENSEMBLE,
    StoredJudgments,
    judge_scores,
    with_ensemble,
)
from chatanime.report.style_control import StyleControl, style_control
from chatanime.store import Store

SourceKind = Literal["judge", "ensemble", "calibrated", "human"]
CALIBRATED = ":calibrated"


@dataclass(frozen=True)
class SourceBoard:
    """The leaderboard of one score source, with its style-controlled ranking."""

    source: str
    kind: SourceKind
    board: Leaderboard
    style: StyleControl | None = None

    @property
    def label(self) -> str:
        return self.source.split(":", 1)[1] if ":" in self.source else self.source


def source_kind(source: str) -> SourceKind:
    if source == ENSEMBLE:
        return "ensemble"
    if source.startswith("human:"):
        return "human"
    if source.endswith(CALIBRATED) or f"{CALIBRATED}@" in source:
        return "calibrated"
    return "judge"


def collect_scores(
    store: Store,
    *,
    benchmark: str,
    judges: Sequence[str] | None,
    notes: list[Note],
    stored: StoredJudgments | None = None,
    calibrated: Sequence[pd.DataFrame] = (),
) -> pd.DataFrame:
    """Judge scores (+ ensemble), calibrated judge scores and human ratings, each under its
    own ``source`` label. ``stored`` reuses judge rows already read; ``calibrated`` are the
    calibrated score tables (added after the ensemble, so it never averages them in)."""
    frames = []
    judged = attempt(
        notes,
        "judge scores",
        lambda: judge_scores(store, benchmark=benchmark, judges=judges, stored=stored),
    )
    if judged is not None and not judged.empty:
        frames.append(with_ensemble(judged))
    frames.extend(f for f in calibrated if not f.empty)
    if not judges:
        from chatanime.report.human import human_scores

        rated = attempt(notes, "human ratings", lambda: human_scores(store))
        if rated is not None and not rated.empty:
            frames.append(rated)
    if not frames:
        return pd.DataFrame(columns=list(COLUMNS))
    return pd.concat(frames, ignore_index=True)


def build_boards(
    scores: pd.DataFrame,
    corpus: Corpus,
    features: pd.DataFrame | None,
    *,
    n_boot: int,
    seed: int,
    notes: list[Note],
    pairs: Sequence[tuple[str, str]] = (),
) -> list[SourceBoard]:
    """One leaderboard (and style-controlled ranking) per source, judges first.

    Every source compares each system with ``human``; ``pairs`` adds system-vs-system
    comparisons (only pairs whose two systems both have scores in that source)."""
    personas = {s.id: str(s.persona) for s in corpus.benchmark.scenarios}

    def persona_of(scenario: int) -> str:
        return personas.get(int(scenario), "unknown")

    order = {"ensemble": 0, "judge": 1, "calibrated": 2, "human": 3}
    sources = sorted(scores["source"].unique(), key=lambda s: (order[source_kind(s)], s))
    boards = []
    for source in sources:
        present = {str(x) for x in scores.loc[scores.source == source, "system"].unique()}
        wanted = [(a, b) for a, b in pairs if a in present and b in present]
        board = build_leaderboard(
            scores, source, persona_of=persona_of, pairs=wanted, n_boot=n_boot, seed=seed
        )
        style = None if features is None else _style(scores, source, features, notes)
        boards.append(SourceBoard(source, source_kind(source), board, style))
    return boards


def _style(
    scores: pd.DataFrame, source: str, features: pd.DataFrame, notes: list[Note]
) -> StyleControl | None:
    return attempt(
        notes, f"style control ({source})", lambda: style_control(scores, source, features)
    )
