"""Finished collected dialogues as a *system*: the release's JSON shape, or JSONL with metadata.

The JSON export is written by :func:`chatanime.dataset.write_system_file`, so the corpus,
the judge, the annotation app and the report read it exactly like ``human.json``
(``chatanime data info --extra fans-2026.json``); a study that is not finished yet exports
the cells it has, which ``--extra`` files may. The JSONL export is the same dialogues one
per line, each also carrying who wrote it (the respondent's opaque id, never the name),
how long each round took (wall-clock seconds from the round first being shown to its
submission; round 2's question generation is timed separately), and how round 2's question
was made (simulator model, prompt ref, kept attempt, runs, failed runs, HTTP requests) —
the dataset loader reads it too and ignores the extra fields.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Engine, func, select

from chatanime.annotate import ensure_schema
from chatanime.annotate.collect_study import find_collection
from chatanime.annotate.collect_tables import collect_dialogues, respondents, sim_calls
from chatanime.dataset import system_name, write_system_file
from chatanime.dialogue import Dialogue, TurnSources
from chatanime.errors import DataError
from chatanime.store import Store

EXPORT_FORMATS = ("json", "jsonl")


@dataclass(frozen=True)
class CollectedDialogue:
    """One finished dialogue with its provenance."""

    study: str
    respondent_id: str
    character: str
    character_key: str
    scenario: int
    q1: str
    a1: str
    q2: str
    a2: str
    question_source: str
    r1_seconds: float | None
    r2_seconds: float | None
    sim_seconds: float | None
    a1_at: str
    a2_at: str
    sim_model: str
    sim_prompt_ref: str
    sim_attempt: int
    sim_runs: int
    sim_failures: int
    sim_calls: int
    quiz_score: int | None
    quiz_passed: bool | None

    def dialogue(self, system: str) -> Dialogue:
        human = f"human:{self.respondent_id}"
        sources = TurnSources(
            q1=self.question_source, a1=human, q2=f"user-sim:{self.sim_model}", a2=human
        )
        return Dialogue(
            system=system,
            character=self.character,
            scenario=self.scenario,
            q1=self.q1,
            a1=self.a1,
            q2=self.q2,
            a2=self.a2,
            sources=sources,
        )

    def record(self, system: str) -> dict[str, Any]:
        """A JSONL row: the release's fields plus provenance."""
        return {
            "character": self.character_key,
            **self.dialogue(system).to_release_record(),
            "system": system,
            "study": self.study,
            "respondent": self.respondent_id,
            "sources": self.dialogue(system).sources.model_dump(),
            "timings": {
                "r1_seconds": self.r1_seconds,
                "r2_seconds": self.r2_seconds,
                "simulator_seconds": self.sim_seconds,
                "answered_r1_at": self.a1_at,
                "answered_r2_at": self.a2_at,
            },
            "simulator": {
                "model": self.sim_model,
                "prompt_ref": self.sim_prompt_ref,
                "attempt": self.sim_attempt,
                "runs": self.sim_runs,
                "failed_runs": self.sim_failures,
                "calls": self.sim_calls,
            },
            "quiz": {"score": self.quiz_score, "passed": self.quiz_passed},
        }


@dataclass(frozen=True)
class CollectionExport:
    path: Path
    system: str
    dialogues: int


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    delta = datetime.fromisoformat(end) - datetime.fromisoformat(start)
    return round(max(0.0, delta.total_seconds()), 3)


def collected_dialogues(store: Store | Engine, study: str) -> list[CollectedDialogue]:
    """Every finished dialogue of ``study`` (id or name), in (character, scenario) order."""
    engine = store if isinstance(store, Engine) else store.engine
    ensure_schema(engine)
    d, r = collect_dialogues.c, respondents.c
    calls = (
        select(sim_calls.c.dialogue_id, func.count().label("n"))
        .group_by(sim_calls.c.dialogue_id)
        .subquery()
    )
    with engine.connect() as conn:
        st = find_collection(conn, study)
        config = json.loads(st.config_json)
        rows = conn.execute(
            select(collect_dialogues, r.quiz_score, r.quiz_passed, calls.c.n)
            .join(respondents, r.id == d.respondent_id)
            .outerjoin(calls, calls.c.dialogue_id == d.id)
            .where(d.study_id == st.id, d.answer_r2.is_not(None))
            .order_by(d.character, d.scenario)
        ).all()
    return [_collected(st.name, config, row) for row in rows]


def _collected(study: str, config: dict[str, Any], row: Any) -> CollectedDialogue:
    return CollectedDialogue(
        study=study,
        respondent_id=row.respondent_id,
        character=row.character,
        character_key=config["character_keys"][row.character],
        scenario=row.scenario,
        q1=row.question_r1,
        a1=row.answer_r1,
        q2=row.question_r2,
        a2=row.answer_r2,
        question_source=config["question_source"],
        r1_seconds=_seconds(row.r1_opened_at, row.a1_at),
        r2_seconds=_seconds(row.r2_opened_at or row.q2_at, row.a2_at),
        sim_seconds=_seconds(row.a1_at, row.q2_at),
        a1_at=row.a1_at,
        a2_at=row.a2_at,
        sim_model=row.sim_model,
        sim_prompt_ref=row.sim_prompt_ref,
        sim_attempt=int(row.sim_attempt or 1),
        sim_runs=int(row.sim_runs or 0),
        sim_failures=int(row.sim_failures or 0),
        sim_calls=int(row.n or 0),
        quiz_score=row.quiz_score,
        quiz_passed=row.quiz_passed,
    )


def write_collection(
    records: Sequence[CollectedDialogue], out: TextIO, fmt: str, system: str
) -> int:
    """Write ``records`` as the release's JSON shape or as JSONL; returns the count."""
    if fmt not in EXPORT_FORMATS:
        raise DataError(f"unknown export format {fmt!r}; use json or jsonl")
    if fmt == "jsonl":
        for rec in records:
            out.write(json.dumps(rec.record(system), ensure_ascii=False) + "\n")
        return len(records)
    grouped: dict[str, list[dict[str, object]]] = {}
    for rec in records:
        grouped.setdefault(rec.character_key, []).append(rec.dialogue(system).to_release_record())
    json.dump(grouped, out, ensure_ascii=False, indent=2)
    return len(records)


def export_collection(
    store: Store | Engine, study: str, out: Path, *, fmt: str | None = None
) -> CollectionExport:
    """Write the study's finished dialogues to ``out`` (system name = the file's stem).

    ``.json`` goes through :func:`write_system_file` (atomic, the release's shape);
    ``.jsonl`` is written atomically too.
    """
    fmt = fmt or ("jsonl" if out.suffix == ".jsonl" else "json")
    if fmt not in EXPORT_FORMATS:
        raise DataError(f"unknown export format {fmt!r}; use json or jsonl")
    records = collected_dialogues(store, study)
    if not records:
        raise DataError(f"collection study {study!r} has no finished dialogue yet")
    system = system_name(out)
    if fmt == "json":
        keys = {r.character: r.character_key for r in records}
        write_system_file([r.dialogue(system) for r in records], out, keys)
        return CollectionExport(out, system, len(records))
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            write_collection(records, handle, "jsonl", system)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return CollectionExport(out, system, len(records))
