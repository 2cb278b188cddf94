"""An annotator's view of a study: who the token belongs to, their tasks, their progress.

Every lookup starts from the annotator (found by the hash of the secret token) and a
*position* in their own list, so there is no query by bare item id an annotator could
point at someone else's work.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from chatanime.annotate.security import hash_token
from chatanime.annotate.tables import annotators, assignments, items, ratings, studies


@dataclass(frozen=True)
class Annotator:
    """An authenticated annotator with the study context the pages need."""

    id: str
    name: str
    study_id: str
    study_name: str
    secret_key: str
    config: dict[str, Any]
    total: int

    @property
    def language(self) -> str:
        return str(self.config.get("language", "zh"))


@dataclass(frozen=True)
class Task:
    """One assignment as shown: the item snapshot and what was already entered."""

    assignment_id: str
    position: int
    item_id: str
    kind: str
    character: str
    payload: dict[str, Any]
    comment: str
    completed: bool
    ratings: dict[str, int]


def annotator_for_token(conn: Connection, token: str) -> Annotator | None:
    """The annotator whose invite token is ``token``, or None (unknown or rotated)."""
    if not token or len(token) > 200:
        return None
    row = conn.execute(
        select(
            annotators.c.id,
            annotators.c.name,
            studies.c.id.label("study_id"),
            studies.c.name.label("study_name"),
            studies.c.secret_key,
            studies.c.config_json,
        )
        .join(studies, studies.c.id == annotators.c.study_id)
        .where(annotators.c.token_hash == hash_token(token))
    ).first()
    if row is None:
        return None
    total = conn.execute(
        select(func.count()).select_from(assignments).where(assignments.c.annotator_id == row.id)
    ).scalar_one()
    return Annotator(
        row.id,
        row.name,
        row.study_id,
        row.study_name,
        row.secret_key,
        json.loads(row.config_json),
        int(total),
    )


def task_at(conn: Connection, annotator: Annotator, position: int) -> Task | None:
    """The annotator's task at ``position`` (1-based), or None."""
    row = conn.execute(
        select(
            assignments.c.id,
            assignments.c.position,
            assignments.c.comment,
            assignments.c.completed_at,
            items.c.id.label("item_id"),
            items.c.kind,
            items.c.character,
            items.c.payload_json,
        )
        .join(items, items.c.id == assignments.c.item_id)
        .where(assignments.c.annotator_id == annotator.id, assignments.c.position == position)
    ).first()
    if row is None:
        return None
    given = conn.execute(
        select(ratings.c.metric, ratings.c.value).where(ratings.c.assignment_id == row.id)
    ).all()
    return Task(
        row.id,
        row.position,
        row.item_id,
        row.kind,
        row.character,
        json.loads(row.payload_json),
        row.comment or "",
        row.completed_at is not None,
        {m: int(v) for m, v in given},
    )


def completion(conn: Connection, annotator: Annotator) -> list[tuple[int, bool]]:
    """(position, completed) for every task of the annotator, in order."""
    rows = conn.execute(
        select(assignments.c.position, assignments.c.completed_at)
        .where(assignments.c.annotator_id == annotator.id)
        .order_by(assignments.c.position)
    ).all()
    return [(int(p), c is not None) for p, c in rows]


def done_count(conn: Connection, annotator: Annotator) -> int:
    return int(
        conn.execute(
            select(func.count())
            .select_from(assignments)
            .where(
                assignments.c.annotator_id == annotator.id,
                assignments.c.completed_at.is_not(None),
            )
        ).scalar_one()
    )


def next_open(conn: Connection, annotator: Annotator, after: int = 0) -> int | None:
    """The first unfinished position after ``after`` (wrapping around), or None if all done."""
    open_positions = [p for p, done in completion(conn, annotator) if not done]
    if not open_positions:
        return None
    later = [p for p in open_positions if p > after]
    return later[0] if later else open_positions[0]
