"""Progress of a collection study per respondent (the admin page and ``collect status``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, func, select

from chatanime.annotate import ensure_schema
from chatanime.annotate.collect_study import find_collection
from chatanime.annotate.collect_tables import collect_dialogues, respondents
from chatanime.store import Store


@dataclass(frozen=True)
class RespondentProgress:
    """One respondent: quiz result, finished / total dialogues, simulator failures."""

    id: str
    name: str
    character: str
    quiz_score: int | None
    passed: bool | None
    done: int
    total: int
    failures: int
    last: str | None


@dataclass(frozen=True)
class CollectionProgress:
    study_id: str
    name: str
    rows: tuple[RespondentProgress, ...]

    @property
    def total(self) -> int:
        return sum(r.total for r in self.rows)

    @property
    def finished(self) -> int:
        return sum(r.done for r in self.rows)

    @property
    def failures(self) -> int:
        return sum(r.failures for r in self.rows)


def collection_progress(store: Store | Engine, study: str) -> CollectionProgress:
    """Per respondent, ordered by character then name."""
    engine = store if isinstance(store, Engine) else store.engine
    ensure_schema(engine)
    d, r = collect_dialogues.c, respondents.c
    last = func.max(func.coalesce(d.a2_at, d.a1_at))
    with engine.connect() as conn:
        st = find_collection(conn, study)
        rows = conn.execute(
            select(
                r.id,
                r.name,
                r.character,
                r.quiz_score,
                r.quiz_passed,
                func.count(d.id).label("total"),
                func.count(d.answer_r2).label("done"),
                func.coalesce(func.sum(d.sim_failures), 0).label("failures"),
                last.label("last"),
            )
            .join(collect_dialogues, d.respondent_id == r.id)
            .where(r.study_id == st.id)
            .group_by(r.id, r.name, r.character, r.quiz_score, r.quiz_passed)
            .order_by(r.character, r.name)
        ).all()
    return CollectionProgress(
        st.id,
        st.name,
        tuple(
            RespondentProgress(
                row.id,
                row.name,
                row.character,
                row.quiz_score,
                row.quiz_passed,
                int(row.done),
                int(row.total),
                int(row.failures),
                row.last,
            )
            for row in rows
        ),
    )
