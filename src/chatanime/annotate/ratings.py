"""Ratings: validation, idempotent storage, export.

A rating is stored only for an assignment of the submitting annotator, only for the metrics
of that item's task, only as an integer 1-5. Storage is an upsert keyed by (assignment,
metric): submitting the same form twice (a double click, a retry after a lost response)
leaves one row per metric, and a later change overwrites the earlier value. The caller
acknowledges only after this function's transaction has committed.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any, TextIO

from sqlalchemy import Connection, Engine, Row, Select, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from chatanime.annotate import ensure_schema
from chatanime.annotate.study import DIVERSITY, find_study
from chatanime.annotate.tables import annotators, assignments, items, ratings
from chatanime.errors import DataError
from chatanime.store import Store

SCALE = range(1, 6)
MAX_COMMENT = 2000
EXPORT_FORMATS = ("csv", "jsonl")


class RatingError(ValueError):
    """A submission that cannot be stored; the message is safe to show the annotator."""


class NotAssignedError(RatingError):
    """The submission names an item that is not the annotator's at that position."""

    def __init__(self) -> None:
        super().__init__("this item is not assigned to you")


def task_metrics(kind: str, config: Mapping[str, Any]) -> list[str]:
    """The metric ids an item of ``kind`` is rated on in this study."""
    if kind == DIVERSITY:
        return [str(config["rubric"]["diversity"]["id"])]
    return [str(m["id"]) for m in config["rubric"]["metrics"]]


def parse_values(form: Mapping[str, str], metrics: Sequence[str]) -> dict[str, int]:
    """``m_<metric>`` form fields -> {metric: 1..5}; every metric required, no others."""
    submitted = {k[2:]: v for k, v in form.items() if k.startswith("m_")}
    unknown = sorted(set(submitted) - set(metrics))
    if unknown:
        raise RatingError(f"unknown metric {unknown[0]!r}")
    values: dict[str, int] = {}
    for metric in metrics:
        raw = str(submitted.get(metric, "")).strip()
        if not raw:
            raise RatingError(f"missing rating for {metric!r}")
        if not raw.isdigit() or int(raw) not in SCALE:
            raise RatingError(f"rating for {metric!r} must be an integer from 1 to 5")
        values[metric] = int(raw)
    return values


def _upsert(conn: Connection, assignment_id: str, values: Mapping[str, int], now: str) -> None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    rows = [
        {
            "assignment_id": assignment_id,
            "metric": m,
            "value": v,
            "created_at": now,
            "updated_at": now,
        }
        for m, v in values.items()
    ]
    stmt = dialect.insert(ratings).values(rows)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[ratings.c.assignment_id, ratings.c.metric],
            set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
        )
    )


def save_ratings(
    engine: Engine,
    annotator_id: str,
    position: int,
    item_id: str,
    values: Mapping[str, int],
    comment: str = "",
) -> str:
    """Store the ratings of the annotator's task at ``position``; returns the assignment id.

    ``item_id`` must match the item at that position: a form rendered for one item cannot
    be replayed against another position, and a tampered id is refused.
    """
    if len(comment) > MAX_COMMENT:
        raise RatingError(f"comment longer than {MAX_COMMENT} characters")
    now = datetime.now(UTC).isoformat()
    with engine.begin() as conn:
        row = conn.execute(
            select(assignments.c.id, assignments.c.item_id, assignments.c.completed_at).where(
                assignments.c.annotator_id == annotator_id, assignments.c.position == position
            )
        ).first()
        if row is None or row.item_id != item_id:
            raise NotAssignedError()
        _upsert(conn, row.id, values, now)
        conn.execute(
            update(assignments)
            .where(assignments.c.id == row.id)
            .values(comment=comment.strip() or None, completed_at=row.completed_at or now)
        )
    return str(row.id)


@dataclass(frozen=True)
class RatingRecord:
    """One rating in long form: the row of the CSV/JSONL export and of the analysis."""

    study: str
    item_id: str
    kind: str
    system: str
    character: str
    scenario: int | None
    set_index: int | None
    annotator: str
    position: int
    metric: str
    value: int
    comment: str
    created_at: str
    updated_at: str


def rating_records(store: Store | Engine, study: str) -> list[RatingRecord]:
    """Every rating of ``study`` (id or name), ordered stably for diffable exports."""
    engine = store if isinstance(store, Engine) else store.engine
    ensure_schema(engine)
    with engine.connect() as conn:
        st = find_study(conn, study)
        rows = conn.execute(_ratings_query(st.id)).all()
    return [_record(st.name, r) for r in rows]


def _ratings_query(study_id: str) -> Select[Any]:
    """One row per rating with its item and annotator, ordered by item, annotator and metric,
    so two exports of the same ratings list them in the same order (diffable)."""
    return (
        select(
            items.c.id.label("item_id"),
            items.c.kind,
            items.c.system,
            items.c.character,
            items.c.scenario,
            items.c.set_index,
            annotators.c.name.label("annotator"),
            assignments.c.position,
            assignments.c.comment,
            ratings.c.metric,
            ratings.c.value,
            ratings.c.created_at,
            ratings.c.updated_at,
        )
        .select_from(ratings)
        .join(assignments, assignments.c.id == ratings.c.assignment_id)
        .join(items, items.c.id == assignments.c.item_id)
        .join(annotators, annotators.c.id == assignments.c.annotator_id)
        .where(assignments.c.study_id == study_id)
        .order_by(
            items.c.system,
            items.c.character,
            items.c.kind,
            items.c.scenario,
            items.c.set_index,
            annotators.c.name,
            ratings.c.metric,
        )
    )


def _record(study_name: str, r: Row[Any]) -> RatingRecord:
    """A query row as an export record (no comment is exported as an empty string)."""
    return RatingRecord(
        study_name,
        r.item_id,
        r.kind,
        r.system,
        r.character,
        r.scenario,
        r.set_index,
        r.annotator,
        r.position,
        r.metric,
        int(r.value),
        r.comment or "",
        r.created_at,
        r.updated_at,
    )


def write_ratings(records: Sequence[RatingRecord], out: TextIO, fmt: str) -> int:
    """Write ``records`` as CSV (header + rows) or JSONL; returns the number of rows."""
    if fmt not in EXPORT_FORMATS:
        raise DataError(f"unknown export format {fmt!r}; use csv or jsonl")
    if fmt == "jsonl":
        for rec in records:
            out.write(json.dumps(asdict(rec), ensure_ascii=False) + "\n")
        return len(records)
    writer = csv.DictWriter(out, fieldnames=[f.name for f in fields(RatingRecord)])
    writer.writeheader()
    for rec in records:
        writer.writerow(asdict(rec))
    return len(records)


def count_ratings(engine: Engine, study_id: str) -> int:
    """Number of rating rows of a study (tests and the admin page assert on it)."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(ratings)
                .join(assignments, assignments.c.id == ratings.c.assignment_id)
                .where(assignments.c.study_id == study_id)
            ).scalar_one()
        )
