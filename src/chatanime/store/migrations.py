"""Ordered, named migration steps (the simonw/llm pattern).

Each step runs once per database and is recorded in ``_migrations``. Steps are
append-only: never edit a released step, add a new one. Other packages add
their steps by appending to ``MIGRATIONS`` at import time through
``register_migration`` (the annotation app does), which keeps one list and one
order for every database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Table, select

from chatanime.store import schema


@dataclass(frozen=True)
class Migration:
    """A named step; ``apply`` gets a connection inside a transaction."""

    name: str
    apply: Callable[[Connection], None]


def create_tables(*tables: Table) -> Callable[[Connection], None]:
    """A migration body that creates ``tables`` (and nothing else)."""

    def apply(conn: Connection) -> None:
        schema.metadata.create_all(conn, tables=list(tables))

    return apply


MIGRATIONS: list[Migration] = [
    Migration(
        "0001_core",
        create_tables(
            schema.runs,
            schema.calls,
            schema.call_failures,
            schema.units,
            schema.dialogues,
            schema.judgments,
            schema.scores,
        ),
    ),
]


def register_migration(migration: Migration) -> None:
    """Append a step (idempotent by name) — used by optional areas at import."""
    if all(m.name != migration.name for m in MIGRATIONS):
        MIGRATIONS.append(migration)


def apply_migrations(conn: Connection) -> list[str]:
    """Apply pending steps in order; returns the names applied now."""
    schema.metadata.create_all(conn, tables=[schema.migrations_table])
    done = set(conn.execute(select(schema.migrations_table.c.name)).scalars())
    applied = []
    for migration in MIGRATIONS:
        if migration.name in done:
            continue
        migration.apply(conn)
        conn.execute(
            schema.migrations_table.insert().values(
                name=migration.name, applied_at=datetime.now(UTC).isoformat()
            )
        )
        applied.append(migration.name)
    return applied
